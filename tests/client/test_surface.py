"""The client library's public surface: what ``hotline.client`` exports, each documented;
every other module private."""

from __future__ import annotations

import inspect
from pathlib import Path

import hotline.client

PACKAGE = Path(hotline.client.__file__).parent


def test_every_module_but_the_package_is_private() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert modules
    assert [m for m in modules if not m.startswith("_")] == []


def test_every_exported_name_exists_and_nothing_public_is_left_out() -> None:
    exported = set(hotline.client.__all__)
    assert all(hasattr(hotline.client, name) for name in exported)
    public = {
        name
        for name, value in vars(hotline.client).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == exported


def test_every_public_call_says_what_it_does() -> None:
    undocumented = []
    for name in hotline.client.__all__:
        value = getattr(hotline.client, name)
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        if not inspect.getdoc(value):
            undocumented.append(name)
        if inspect.isclass(value) and not issubclass(value, Exception):
            for attribute, member in vars(value).items():
                if attribute.startswith("_") or (
                    not callable(member) and not isinstance(member, property)
                ):
                    continue
                if not inspect.getdoc(member):
                    undocumented.append(f"{name}.{attribute}")
    assert undocumented == []
