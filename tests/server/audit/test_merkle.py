"""RFC 6962 hashing, proofs and their verification.

The vectors are the ones every Certificate Transparency implementation tests against
(transparency-dev/merkle testonly/constants.go and proof/verify_test.go).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.server.audit import (
    EMPTY_ROOT,
    InconsistentTree,
    InvalidProof,
    MerkleTree,
    SubtreeHasher,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

LEAVES = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
LEAF_HASHES = [leaf_hash(leaf) for leaf in LEAVES]

# NODES[level][i]: the complete subtrees of the 8-leaf tree.
NODES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]

# ROOTS[n]: root of the first n leaves.
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# The right frontier (compact range) of the first n leaves.
FRONTIERS = [
    [],
    [NODES[0][0]],
    [NODES[1][0]],
    [NODES[1][0], NODES[0][2]],
    [NODES[2][0]],
    [NODES[2][0], NODES[0][4]],
    [NODES[2][0], NODES[1][2]],
    [NODES[2][0], NODES[1][2], NODES[0][6]],
    [NODES[3][0]],
]

# (index, size, proof); the published vectors number leaves from 1, these from 0.
INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# (old size, new size, proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


def reference_root(leaves: Sequence[bytes]) -> bytes:
    """MTH straight from RFC 6962 §2.1, as slow and obvious as possible."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(
        b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:])
    ).digest()


def random_leaves(n: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(b"record %d/%d" % (salt, i)) for i in range(n)]


class TestVectors:
    def test_leaf_and_node_hashes(self) -> None:
        assert NODES[0] == LEAF_HASHES
        for level in range(1, 4):
            below = NODES[level - 1]
            assert [node_hash(below[2 * i], below[2 * i + 1]) for i in range(len(below) // 2)] == (
                NODES[level]
            )

    @pytest.mark.parametrize("size", range(9))
    def test_roots(self, size: int) -> None:
        assert root_of(LEAF_HASHES[:size]) == ROOTS[size]
        assert root_of(iter(LEAF_HASHES[:size])) == ROOTS[size]

    def test_empty_root_is_hash_of_nothing(self) -> None:
        assert ROOTS[0] == EMPTY_ROOT
        assert MerkleTree().root() == EMPTY_ROOT

    def test_incremental_tree_keeps_the_compact_frontier(self) -> None:
        tree = MerkleTree()
        for size in range(9):
            assert tree.size == size
            assert list(tree.frontier) == FRONTIERS[size]
            assert tree.root() == ROOTS[size]
            if size < 8:
                tree.append(LEAF_HASHES[size])

    @pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
    def test_inclusion_proofs(self, index: int, size: int, proof: list[bytes]) -> None:
        assert inclusion_proof(LEAF_HASHES, index, size) == proof
        verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])

    @pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
    def test_consistency_proofs(self, old: int, new: int, proof: list[bytes]) -> None:
        assert consistency_proof(LEAF_HASHES, old, new) == proof
        verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


def inclusion_probes(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, Callable[[], None]]]:
    """Ways to get an inclusion proof wrong, after transparency-dev's corruption probes."""

    def probe(i: int, n: int, p: list[bytes], r: bytes, lf: bytes) -> Callable[[], None]:
        return lambda: verify_inclusion(lf, i, n, p, r)

    probes = [
        ("index - 1", probe(index - 1, size, proof, root, leaf)),
        ("index + 1", probe(index + 1, size, proof, root, leaf)),
        ("index ^ 2", probe(index ^ 2, size, proof, root, leaf)),
        ("size * 2", probe(index, size * 2, proof, root, leaf)),
        ("size // 2", probe(index, size // 2, proof, root, leaf)),
        ("wrong leaf", probe(index, size, proof, root, leaf_hash(b"WrongLeaf"))),
        ("short leaf", probe(index, size, proof, root, b"WrongLeaf")),
        ("empty root", probe(index, size, proof, EMPTY_ROOT, leaf)),
        ("random root", probe(index, size, proof, SOME_HASH, leaf)),
        ("trailing garbage", probe(index, size, [*proof, b""], root, leaf)),
        ("trailing root", probe(index, size, [*proof, root], root, leaf)),
        ("preceding garbage", probe(index, size, [b"", *proof], root, leaf)),
        ("preceding root", probe(index, size, [root, *proof], root, leaf)),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((f"proof[{i}] bit 3", probe(index, size, flipped, root, leaf)))
    if proof:
        probes.append(("removed component", probe(index, size, proof[:-1], root, leaf)))
    if len(proof) > 1:
        inserted = [proof[0], SOME_HASH, *proof[1:]]
        probes.append(("inserted component", probe(index, size, inserted, root, leaf)))
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION[1:])
def test_corrupted_inclusion_proofs_fail(index: int, size: int, proof: list[bytes]) -> None:
    accepted = []
    for name, check in inclusion_probes(index, size, proof, ROOTS[size], LEAF_HASHES[index]):
        try:
            check()
        except InvalidProof:
            continue
        accepted.append(name)
    assert accepted == []


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY[1:])
def test_corrupted_consistency_proofs_fail(old: int, new: int, proof: list[bytes]) -> None:
    r1, r2 = ROOTS[old], ROOTS[new]
    wrong_root = leaf_hash(b"WrongRoot")
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, wrong_root, r2, proof),
        (old, new, r1, wrong_root, proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((old, new, r1, r2, flipped))
    for o, n, a, b, p in probes:
        with pytest.raises(InconsistentTree):
            verify_consistency(o, n, a, b, p)


class TestEdgeCases:
    @pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (2, 1), (-1, 4)])
    def test_inclusion_outside_the_tree(self, index: int, size: int) -> None:
        with pytest.raises(InvalidProof, match="not in a tree"):
            verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)
        with pytest.raises(ValueError, match="not in a tree"):
            inclusion_proof(LEAF_HASHES, index, size)

    def test_single_leaf_tree(self) -> None:
        leaf = leaf_hash(b"data")
        verify_inclusion(leaf, 0, 1, [], leaf)
        with pytest.raises(InvalidProof):
            verify_inclusion(leaf, 0, 1, [], b"")
        with pytest.raises(InvalidProof):
            verify_inclusion(b"", 0, 1, [], leaf)

    def test_trees_always_consistent(self) -> None:
        verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
        verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [])
        verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])

    @pytest.mark.parametrize(
        ("old", "new", "old_root", "new_root", "proof"),
        [
            (1, 1, ROOTS[1], ROOTS[2], []),  # two roots for one size
            (1, 0, ROOTS[1], ROOTS[0], []),  # a log that shrank
            (2, 1, ROOTS[2], ROOTS[1], []),
            (1, 2, ROOTS[1], ROOTS[2], []),  # a proof is needed
            (0, 0, SOME_HASH, SOME_HASH, []),  # not the empty root
            (0, 1, EMPTY_ROOT, ROOTS[1], [EMPTY_ROOT]),  # nothing to prove
            (1, 1, ROOTS[1], ROOTS[1], [EMPTY_ROOT]),
        ],
    )
    def test_inconsistent_heads(
        self, old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
    ) -> None:
        with pytest.raises(InconsistentTree):
            verify_consistency(old, new, old_root, new_root, proof)

    def test_consistency_proof_refuses_a_shrinking_log(self) -> None:
        with pytest.raises(ValueError, match="no consistency proof"):
            consistency_proof(LEAF_HASHES, 5, 4)


class TestMerkleTree:
    @pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1025, 2047, 2048, 3000, 5000])
    def test_extend_equals_append(self, size: int) -> None:
        leaves = random_leaves(size)
        one_by_one = MerkleTree()
        for leaf in leaves:
            one_by_one.append(leaf)
        batched = MerkleTree()
        # Uneven batches so that runs start on and off the 1024-leaf boundaries.
        for start in range(0, size, 777):
            batched.extend(leaves[start : start + 777])
        assert batched.size == one_by_one.size == size
        assert batched.frontier == one_by_one.frontier
        assert batched.root() == one_by_one.root() == root_of(leaves)
        assert root_of(iter(leaves)) == root_of(leaves)

    def test_resume_from_frontier(self) -> None:
        leaves = random_leaves(1500)
        tree = MerkleTree()
        tree.extend(leaves[:1000])
        resumed = MerkleTree.from_frontier(tree.size, tree.frontier)
        resumed.extend(leaves[1000:])
        copy = tree.copy()
        tree.extend(leaves[1000:])
        assert resumed.root() == tree.root() == root_of(leaves)
        assert copy.size == 1000
        assert copy.root() == root_of(leaves[:1000])

    @pytest.mark.parametrize(("size", "frontier"), [(3, [SOME_HASH]), (-1, []), (1, [b"short"])])
    def test_resume_refuses_a_wrong_frontier(self, size: int, frontier: list[bytes]) -> None:
        with pytest.raises(ValueError, match="frontier"):
            MerkleTree.from_frontier(size, frontier)


class TestSubtreeHasher:
    def test_reads_leaves_by_range_and_caches_complete_subtrees(self) -> None:
        leaves = random_leaves(5000)
        reads: list[tuple[int, int]] = []

        def read(start: int, end: int) -> Sequence[bytes]:
            reads.append((start, end))
            return leaves[start:end]

        hasher = SubtreeHasher(read, fetch_size=64, cache_from=128)
        proof = inclusion_proof(hasher, 4321, 5000)
        assert all(end - start <= 64 for start, end in reads)
        first = sum(end - start for start, end in reads)
        assert first == 4999  # every leaf but the proven one, once
        reads.clear()
        assert inclusion_proof(hasher, 4322, 5000) == inclusion_proof(leaves, 4322, 5000)
        # Only the small subtrees next to the leaf are read again.
        assert sum(end - start for start, end in reads) < 500
        verify_inclusion(leaves[4321], 4321, 5000, proof, root_of(leaves))

    def test_refuses_a_short_read(self) -> None:
        leaves = random_leaves(10)
        with pytest.raises(ValueError, match="returned 1 instead of 2"):
            inclusion_proof(lambda start, end: leaves[start : end - 1], 0, 10)


sizes = st.integers(min_value=1, max_value=600)


@settings(max_examples=150, deadline=None)
@given(st.data(), sizes)
def test_every_inclusion_proof_verifies(data: st.DataObject, size: int) -> None:
    leaves = random_leaves(size, salt=size)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    fetch = data.draw(st.sampled_from([1, 3, 16, 1 << 14]))
    root = reference_root(leaves)
    assert root_of(leaves) == root
    proof = inclusion_proof(SubtreeHasher(leaves, fetch_size=fetch, cache_from=2), index, size)
    assert proof == inclusion_proof(leaves, index, size)
    verify_inclusion(leaves[index], index, size, proof, root)


@settings(max_examples=150, deadline=None)
@given(st.data(), sizes)
def test_every_consistency_proof_verifies(data: st.DataObject, new: int) -> None:
    leaves = random_leaves(new, salt=new)
    old = data.draw(st.integers(min_value=0, max_value=new))
    fetch = data.draw(st.sampled_from([1, 5, 1 << 14]))
    proof = consistency_proof(SubtreeHasher(leaves, fetch_size=fetch), old, new)
    assert proof == consistency_proof(leaves, old, new)
    verify_consistency(old, new, reference_root(leaves[:old]), reference_root(leaves), proof)


def flip(value: bytes, bit: int) -> bytes:
    bit %= len(value) * 8
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(min_value=2, max_value=300), st.integers(min_value=0))
def test_any_flipped_bit_breaks_an_inclusion_proof(
    data: st.DataObject, size: int, bit: int
) -> None:
    leaves = random_leaves(size, salt=7)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = inclusion_proof(leaves, index, size)
    root = root_of(leaves)
    target = data.draw(st.integers(min_value=0, max_value=len(proof) + 1))
    leaf = leaves[index]
    if target < len(proof):
        proof[target] = flip(proof[target], bit)
    elif target == len(proof):
        leaf = flip(leaf, bit)
    else:
        root = flip(root, bit)
    with pytest.raises(InvalidProof):
        verify_inclusion(leaf, index, size, proof, root)


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(min_value=2, max_value=300), st.integers(min_value=0))
def test_any_flipped_bit_breaks_a_consistency_proof(
    data: st.DataObject, new: int, bit: int
) -> None:
    leaves = random_leaves(new, salt=11)
    old = data.draw(st.integers(min_value=1, max_value=new - 1))
    proof = consistency_proof(leaves, old, new)
    old_root, new_root = root_of(leaves[:old]), root_of(leaves)
    target = data.draw(st.integers(min_value=0, max_value=len(proof) + 1))
    if target < len(proof):
        proof[target] = flip(proof[target], bit)
    elif target == len(proof):
        old_root = flip(old_root, bit)
    else:
        new_root = flip(new_root, bit)
    with pytest.raises(InconsistentTree):
        verify_consistency(old, new, old_root, new_root, proof)
