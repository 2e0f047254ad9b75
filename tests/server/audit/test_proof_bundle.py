"""Exporting one record with its inclusion proof, and checking it with only the key."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from hotline.server.audit import (
    BUNDLE_FORMAT,
    BadSignature,
    InvalidProof,
    MalformedProofBundle,
    Signer,
    SubtreeHasher,
    UnknownKey,
    WrongOrigin,
    export_proof,
    generate_key,
    leaf_hash,
    root_of,
    sign_checkpoint,
    verify_proof_bundle,
)

ORIGIN = "hotline.example/exercise-7"
SIGNER = Signer(ORIGIN, bytes(range(32)))
VERIFIER = SIGNER.verifier
RECORDS = [b"record %d: 2025-11-21T09:00:%02d.000Z" % (i, i) for i in range(13)]
LEAVES = [leaf_hash(data) for data in RECORDS]
CHECKPOINT = sign_checkpoint(ORIGIN, 13, root_of(LEAVES), SIGNER)


def bundle(index: int = 5) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(export_proof(RECORDS[index], index, LEAVES, CHECKPOINT))
    return document


@pytest.mark.parametrize("index", range(13))
def test_every_record_round_trips(index: int) -> None:
    proven = verify_proof_bundle(export_proof(RECORDS[index], index, LEAVES, CHECKPOINT), VERIFIER)
    assert (proven.index, proven.data) == (index, RECORDS[index])
    assert (proven.checkpoint.origin, proven.checkpoint.size) == (ORIGIN, 13)


def test_bundle_layout() -> None:
    document = bundle(5)
    assert set(document) == {"format", "index", "record", "inclusion_proof", "checkpoint"}
    assert document["format"] == BUNDLE_FORMAT
    assert base64.b64decode(document["record"]) == RECORDS[5]
    assert document["checkpoint"] == CHECKPOINT
    assert len(document["inclusion_proof"]) == 4


def test_export_reads_leaves_through_an_accessor() -> None:
    reads: list[tuple[int, int]] = []

    def leaf_hashes(start: int, end: int) -> Sequence[bytes]:
        reads.append((start, end))
        return LEAVES[start:end]

    text = export_proof(RECORDS[7], 7, SubtreeHasher(leaf_hashes, fetch_size=2), CHECKPOINT)
    assert verify_proof_bundle(text, [VERIFIER]).index == 7
    assert reads


def test_export_refuses_a_checkpoint_that_does_not_cover_the_record() -> None:
    early = sign_checkpoint(ORIGIN, 5, root_of(LEAVES[:5]), SIGNER)
    with pytest.raises(ValueError, match="does not cover record 5"):
        export_proof(RECORDS[5], 5, LEAVES, early)


def test_export_refuses_a_record_that_is_not_in_the_log() -> None:
    with pytest.raises(InvalidProof):
        export_proof(b"forged", 5, LEAVES, CHECKPOINT)


def edit(field: str, value: object) -> Callable[[dict[str, Any]], None]:
    def apply(document: dict[str, Any]) -> None:
        document[field] = value

    return apply


def flip_proof(document: dict[str, Any]) -> None:
    first = bytearray(base64.b64decode(document["inclusion_proof"][0]))
    first[0] ^= 1
    document["inclusion_proof"][0] = base64.b64encode(bytes(first)).decode()


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        (edit("record", base64.b64encode(b"record 5: altered").decode()), InvalidProof),
        (edit("record", base64.b64encode(RECORDS[6]).decode()), InvalidProof),
        (edit("index", 6), InvalidProof),
        (edit("index", 13), InvalidProof),
        (flip_proof, InvalidProof),
        (edit("checkpoint", CHECKPOINT.replace("\n13\n", "\n12\n")), BadSignature),
        (edit("format", "something/v2"), MalformedProofBundle),
        (edit("index", True), MalformedProofBundle),
        (edit("index", "5"), MalformedProofBundle),
        (edit("record", "not base64!"), MalformedProofBundle),
        (edit("inclusion_proof", ["AAAA"]), MalformedProofBundle),
        (edit("inclusion_proof", [1, 2]), MalformedProofBundle),
        (edit("checkpoint", None), MalformedProofBundle),
    ],
)
def test_tampered_bundles_are_refused(
    tamper: Callable[[dict[str, Any]], None], error: type[Exception]
) -> None:
    document = bundle(5)
    tamper(document)
    with pytest.raises(error):
        verify_proof_bundle(json.dumps(document), VERIFIER)


def test_wrong_key() -> None:
    _, stranger = generate_key(ORIGIN)
    with pytest.raises(UnknownKey):
        verify_proof_bundle(json.dumps(bundle()), stranger)


def test_other_log() -> None:
    with pytest.raises(WrongOrigin):
        verify_proof_bundle(json.dumps(bundle()), VERIFIER, origin="hotline.example/x")


@pytest.mark.parametrize("text", ["", "[]", "{", b"\xff"])
def test_not_a_bundle(text: str | bytes) -> None:
    with pytest.raises(MalformedProofBundle):
        verify_proof_bundle(text, VERIFIER)
