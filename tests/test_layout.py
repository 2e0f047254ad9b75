"""The source roots keep to their side: the client library needs no server or CLI code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "client"
#: What a participant's program must be able to run without.
FORBIDDEN = ("hotline.server", "hotline.cli")


def imported_modules(source: Path) -> list[tuple[int, str]]:
    """Every module ``source`` imports, with the line it is imported on."""
    tree = ast.parse(source.read_text(), filename=str(source))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # ``from hotline import server`` imports the package too.
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def is_forbidden(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in FORBIDDEN)


def test_the_client_library_imports_no_server_or_cli_code() -> None:
    sources = sorted(CLIENT.rglob("*.py"))
    assert sources, f"no Python files under {CLIENT}"
    offending = [
        f"{source.relative_to(ROOT)}:{line}: imports {module}"
        for source in sources
        for line, module in imported_modules(source)
        if is_forbidden(module)
    ]
    assert offending == [], "client/ must not import the server or the CLI:\n" + "\n".join(
        offending
    )


def test_importing_the_client_library_loads_no_server_or_cli_module() -> None:
    probe = "import sys, hotline.client; print(*sorted(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "hotline.client" in loaded
    assert [module for module in loaded if is_forbidden(module)] == []


def test_the_check_sees_every_form_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import hotline.server.app\n"
        "from hotline import cli\n"
        "from hotline.server.replay import Played\n"
        "from hotline.v1 import envelope_pb2\n"
        "from . import sibling\n"
    )
    flagged = [(line, m) for line, m in imported_modules(sample) if is_forbidden(m)]
    assert flagged == [
        (1, "hotline.server.app"),
        (2, "hotline.cli"),
        (3, "hotline.server.replay"),
        (3, "hotline.server.replay.Played"),
    ]
