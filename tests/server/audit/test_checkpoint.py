"""Signed checkpoints: the C2SP tlog-checkpoint body inside a signed note."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.server.audit import (
    BadSignature,
    Checkpoint,
    MalformedCheckpoint,
    MalformedNote,
    Signer,
    UnknownKey,
    WrongOrigin,
    generate_key,
    parse_and_verify_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
    sign_note,
)

ORIGIN = "hotline.example/exercise-7"
SIGNER = Signer(ORIGIN, bytes(range(32)))
VERIFIER = SIGNER.verifier
ROOT = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
ROOT_B64 = base64.b64encode(ROOT).decode()

# The example of the tlog-checkpoint specification.
SPEC_EXAMPLE = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)


def test_layout() -> None:
    note = sign_checkpoint(ORIGIN, 8, ROOT, SIGNER)
    body, signature = note.split("\n\n")
    assert body == f"{ORIGIN}\n8\n{ROOT_B64}"
    assert signature.startswith(f"— {ORIGIN} ")
    assert signature.endswith("\n")
    assert base64.b64decode(signature.split(" ")[2])[:4] == VERIFIER.key_id.to_bytes(4, "big")


def test_round_trip() -> None:
    note = sign_checkpoint(ORIGIN, 8, ROOT, SIGNER)
    assert parse_and_verify_checkpoint(note, VERIFIER) == Checkpoint(ORIGIN, 8, ROOT)
    assert parse_and_verify_checkpoint(note.encode(), [VERIFIER], origin=ORIGIN).size == 8


def test_extension_lines_round_trip() -> None:
    note = sign_checkpoint(ORIGIN, 0, ROOT, SIGNER, extensions=["exercise ended", "x"])
    checkpoint = parse_and_verify_checkpoint(note, VERIFIER)
    assert checkpoint.extensions == ("exercise ended", "x")


def test_spec_example_parses_but_is_not_trusted() -> None:
    body = SPEC_EXAMPLE.split("\n\n", maxsplit=1)[0] + "\n"
    checkpoint = parse_checkpoint(body)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert base64.b64encode(checkpoint.root).decode() == (
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    )
    with pytest.raises(UnknownKey):
        parse_and_verify_checkpoint(SPEC_EXAMPLE, VERIFIER)


class TestTampering:
    note = sign_checkpoint(ORIGIN, 8, ROOT, SIGNER)

    def test_wrong_key(self) -> None:
        _, other = generate_key(ORIGIN)
        with pytest.raises(UnknownKey):
            parse_and_verify_checkpoint(self.note, other)

    @pytest.mark.parametrize(
        ("old", "new"),
        [
            (f"{ORIGIN}\n", "hotline.example/exercise-8\n"),
            ("\n8\n", "\n9\n"),
            ("\n8\n", "\n80\n"),
            (ROOT_B64, base64.b64encode(bytes(32)).decode()),
        ],
    )
    def test_altered_body(self, old: str, new: str) -> None:
        with pytest.raises(BadSignature):
            parse_and_verify_checkpoint(self.note.replace(old, new, 1), VERIFIER)

    def test_altered_signature(self) -> None:
        name_end = self.note.index(f"— {ORIGIN} ") + len(f"— {ORIGIN} ")
        sig = base64.b64decode(self.note[name_end:].strip())
        forged = sig[:10] + bytes([sig[10] ^ 1]) + sig[11:]
        note = self.note[:name_end] + base64.b64encode(forged).decode() + "\n"
        with pytest.raises(BadSignature):
            parse_and_verify_checkpoint(note, VERIFIER)

    def test_signature_removed(self) -> None:
        with pytest.raises(MalformedNote):
            parse_and_verify_checkpoint(self.note.split("\n\n")[0] + "\n", VERIFIER)

    def test_other_log(self) -> None:
        with pytest.raises(WrongOrigin, match="exercise-7"):
            parse_and_verify_checkpoint(self.note, VERIFIER, origin="hotline.example/x")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (f"{ORIGIN}\n8\n{ROOT_B64}", "newline"),
        (f"{ORIGIN}\n8\n", "origin, a tree size and a root"),
        (f"\n8\n{ROOT_B64}\n", "origin line is empty"),
        (f"{ORIGIN}\n08\n{ROOT_B64}\n", "tree size"),
        (f"{ORIGIN}\n-1\n{ROOT_B64}\n", "tree size"),
        (f"{ORIGIN}\n+1\n{ROOT_B64}\n", "tree size"),
        (f"{ORIGIN}\n 8\n{ROOT_B64}\n", "tree size"),
        (f"{ORIGIN}\n\uff18\n{ROOT_B64}\n", "tree size"),  # a full-width digit eight
        (f"{ORIGIN}\n{1 << 64}\n{ROOT_B64}\n", "tree size"),
        (f"{ORIGIN}\n8\n{ROOT_B64[:-1]}\n", "base64"),
        (f"{ORIGIN}\n8\n{base64.b64encode(ROOT[:31]).decode()}\n", "31 bytes"),
        (f"{ORIGIN}\n8\n{ROOT_B64[:-2]}h=\n", "canonical"),
        (f"{ORIGIN}\n8\n{ROOT_B64}\n\nextension\n", "empty extension"),
    ],
)
def test_malformed_bodies(body: str, reason: str) -> None:
    with pytest.raises(MalformedCheckpoint, match=reason):
        parse_checkpoint(body)


def test_signed_malformed_body_is_refused() -> None:
    note = sign_note(f"{ORIGIN}\n008\n{ROOT_B64}\n", SIGNER)
    with pytest.raises(MalformedCheckpoint, match="tree size"):
        parse_and_verify_checkpoint(note, VERIFIER)


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        ("two\nlines", 1, ROOT, ()),
        (ORIGIN, -1, ROOT, ()),
        (ORIGIN, 1 << 64, ROOT, ()),
        (ORIGIN, 1, ROOT[:16], ()),
        (ORIGIN, 1, ROOT, ("",)),
    ],
)
def test_refuses_to_sign_a_malformed_checkpoint(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(MalformedCheckpoint):
        sign_checkpoint(origin, size, root, SIGNER, extensions)


@given(
    origin=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1
    ),
    size=st.integers(min_value=0, max_value=(1 << 64) - 1),
    root=st.binary(min_size=32, max_size=32),
)
def test_any_checkpoint_round_trips(origin: str, size: int, root: bytes) -> None:
    checkpoint = Checkpoint(origin, size, root)
    assert parse_checkpoint(checkpoint.body()) == checkpoint
    assert parse_and_verify_checkpoint(sign_checkpoint(origin, size, root, SIGNER), VERIFIER) == (
        checkpoint
    )
