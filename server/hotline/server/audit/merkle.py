"""RFC 6962 Merkle tree hashing: roots, inclusion proofs and consistency proofs.

Leaves are the stored bytes of the log's records. A leaf hash is SHA-256(0x00 ‖ bytes)
and an interior node is SHA-256(0x01 ‖ left ‖ right); the root of ``n`` leaves splits
them at the largest power of two below ``n`` (RFC 6962 §2.1, RFC 9162 §2.1.1). The empty
tree's root is SHA-256 of nothing.

Nothing here touches storage. Code that computes proofs for a large log reads leaf
hashes through a :data:`LeafHashes` callable, and keeps a :class:`SubtreeHasher` to
remember the hashes of big complete subtrees between proofs.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from itertools import islice

from hotline.server.audit.errors import InconsistentTree, InvalidProof

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LeafHashes",
    "LeafSource",
    "MerkleTree",
    "SubtreeHasher",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_of",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

LeafHashes = Callable[[int, int], Sequence[bytes]]
"""``leaf_hashes(start, end)`` returns the leaf hashes of records ``start``..``end - 1``,
in log order, exactly ``end - start`` of them."""

LeafSource = Sequence[bytes] | LeafHashes
"""Leaf hashes given either all at once or through a :data:`LeafHashes` callable."""

_sha256 = hashlib.sha256
# Trees are built by hashing whole levels of this many leaves at a time: a list
# comprehension over a level costs far less per node than a Python loop with a stack.
_CHUNK_LEVELS = 10
_CHUNK = 1 << _CHUNK_LEVELS


def leaf_hash(data: bytes) -> bytes:
    """The hash of a record's stored bytes as a leaf: SHA-256(0x00 ‖ data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 ‖ left ‖ right)."""
    return _sha256(b"\x01" + left + right).digest()


def _reduce(level: Sequence[bytes]) -> bytes:
    """The RFC 6962 root of ``level``, pairing whole levels at a time.

    Pairing neighbours left to right and carrying an odd last node up unchanged gives
    the same root as the RFC's split at the largest power of two: that split point is a
    multiple of every pair boundary below it, so the left part never pairs across it.
    """
    if not level:
        return EMPTY_ROOT
    sha = _sha256
    while len(level) > 1:
        pairs = iter(level)
        paired = [
            sha(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)
        ]
        if len(level) & 1:
            paired.append(level[-1])
        level = paired
    return level[0]


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n`` ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only Merkle tree that keeps only its right frontier.

    The frontier is the roots of the complete subtrees the leaves decompose into, one per
    set bit of ``size``, largest first: O(log n) hashes. Appending a leaf costs O(1)
    hashes amortised; :meth:`root` folds the frontier in O(log n). A store can persist
    ``(size, frontier)`` and resume with :meth:`from_frontier` instead of rehashing.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._frontier: list[bytes] = []

    @classmethod
    def from_frontier(cls, size: int, frontier: Sequence[bytes]) -> MerkleTree:
        """A tree resumed from ``size`` and the :attr:`frontier` it had at that size.

        Raises ``ValueError`` if the number of hashes is not the number of set bits of
        ``size`` or a hash is not 32 bytes.
        """
        if size < 0 or len(frontier) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier hashes")
        if any(len(h) != HASH_SIZE for h in frontier):
            raise ValueError("frontier hashes must be 32 bytes")
        tree = cls()
        tree._size = size
        tree._frontier = [bytes(h) for h in frontier]
        return tree

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        """Roots of the complete subtrees covering the leaves, leftmost (largest) first."""
        return tuple(self._frontier)

    def append(self, leaf: bytes) -> None:
        """Adds one leaf hash (see :func:`leaf_hash`) at the end of the tree."""
        frontier = self._frontier
        frontier.append(leaf)
        self._size = n = self._size + 1
        # Each trailing zero bit of the new size closes one complete subtree.
        while not n & 1:
            right = frontier.pop()
            frontier[-1] = _sha256(b"\x01" + frontier[-1] + right).digest()
            n >>= 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Adds leaf hashes in order; equivalent to :meth:`append` on each, but faster.

        Runs of 1024 leaves that start on a multiple of 1024 are hashed level by level
        and joined to the frontier as one complete subtree.
        """
        it = iter(leaves)
        while self._size % _CHUNK:
            try:
                self.append(next(it))
            except StopIteration:
                return
        while True:
            chunk = list(islice(it, _CHUNK))
            if len(chunk) < _CHUNK:
                for leaf in chunk:
                    self.append(leaf)
                return
            self._push_complete(_reduce(chunk), _CHUNK_LEVELS)

    def _push_complete(self, subtree: bytes, height: int) -> None:
        """Adds a complete subtree of ``2**height`` leaves; ``size`` must be a multiple of
        ``2**height`` so that the subtree lands on a boundary."""
        frontier = self._frontier
        frontier.append(subtree)
        self._size += 1 << height
        n = self._size >> height
        while not n & 1:
            right = frontier.pop()
            frontier[-1] = _sha256(b"\x01" + frontier[-1] + right).digest()
            n >>= 1

    def root(self) -> bytes:
        """The root hash of the tree as it is now (``EMPTY_ROOT`` when empty)."""
        frontier = self._frontier
        if not frontier:
            return EMPTY_ROOT
        root = frontier[-1]
        for left in reversed(frontier[:-1]):
            root = _sha256(b"\x01" + left + root).digest()
        return root

    def copy(self) -> MerkleTree:
        """An independent tree with the same leaves."""
        return MerkleTree.from_frontier(self._size, self._frontier)


def root_of(leaves: Iterable[bytes]) -> bytes:
    """The root hash of a tree over ``leaves`` (leaf hashes, in log order), in one pass
    and in O(log n) memory."""
    if isinstance(leaves, list):
        return _reduce(leaves)
    tree = MerkleTree()
    tree.extend(leaves)
    return tree.root()


class SubtreeHasher:
    """Computes hashes of ranges of a log from its leaf hashes, for building proofs.

    ``leaves`` is the log's leaf hashes, as a sequence or a :data:`LeafHashes` callable;
    it is read at most ``fetch_size`` leaves at a time. Hashes of complete subtrees of at
    least ``cache_from`` leaves are remembered (up to ``cache_entries`` of them), so that
    proofs after the first read only the part of the log they have not seen. The cache is
    sound because a complete subtree of an append-only log never changes.
    """

    def __init__(
        self,
        leaves: LeafSource,
        *,
        fetch_size: int = 1 << 14,
        cache_from: int = 1 << 10,
        cache_entries: int = 1 << 16,
    ) -> None:
        if fetch_size < 1 or cache_from < 1 or cache_entries < 0:
            raise ValueError(
                "fetch_size and cache_from must be positive, cache_entries not negative"
            )
        if callable(leaves):
            self._fetch: LeafHashes = leaves
        else:
            sequence = leaves
            self._fetch = lambda start, end: sequence[start:end]
        self._fetch_size = fetch_size
        self._cache_from = cache_from
        self._cache_entries = cache_entries
        self._cache: OrderedDict[tuple[int, int], bytes] = OrderedDict()

    def _read(self, start: int, end: int) -> Sequence[bytes]:
        hashes = self._fetch(start, end)
        if len(hashes) != end - start:
            raise ValueError(
                f"asked for the leaf hashes of records {start}..{end - 1}, the log returned "
                f"{len(hashes)} instead of {end - start}"
            )
        return hashes

    def _remember(self, key: tuple[int, int], value: bytes) -> None:
        if self._cache_entries:
            self._cache[key] = value
            if len(self._cache) > self._cache_entries:
                self._cache.popitem(last=False)

    def _hash_read(self, start: int, width: int) -> bytes:
        """Reads a complete subtree's leaves and hashes it level by level, remembering
        every node on the way that is big enough to cache."""
        level = self._read(start, start + width)
        node_width = 1
        sha = _sha256
        while len(level) > 1:
            pairs = iter(level)
            level = [
                sha(b"\x01" + left + right).digest()
                for left, right in zip(pairs, pairs, strict=False)
            ]
            node_width <<= 1
            if node_width >= self._cache_from:
                for i, value in enumerate(level):
                    self._remember((start + i * node_width, node_width), value)
        return level[0]

    def complete(self, start: int, width: int) -> bytes:
        """The hash of the complete subtree of ``width`` (a power of two) leaves from
        ``start``."""
        key = (start, width)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        if width <= self._fetch_size:
            return self._hash_read(start, width)
        half = width >> 1
        result = node_hash(self.complete(start, half), self.complete(start + half, half))
        self._remember(key, result)
        return result

    def range_root(self, start: int, end: int) -> bytes:
        """The RFC 6962 root of the leaves ``start``..``end - 1`` (MTH(D[start:end]))."""
        n = end - start
        if n & (n - 1) == 0 and n:
            return self.complete(start, n)
        if n <= self._cache_from:
            return _reduce(self._read(start, end))
        # Split as the RFC does so that the left part is a complete, cacheable subtree.
        k = _split(n)
        return node_hash(self.complete(start, k), self.range_root(start + k, end))


def _hasher(leaves: LeafSource | SubtreeHasher) -> SubtreeHasher:
    return leaves if isinstance(leaves, SubtreeHasher) else SubtreeHasher(leaves)


def inclusion_proof(leaves: LeafSource | SubtreeHasher, index: int, size: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of the first ``size`` leaves
    (RFC 6962 §2.1.1 PATH), ordered from the leaf's sibling up to the root's child.

    Raises ``ValueError`` unless ``0 <= index < size``, or if ``leaves`` returns the wrong
    number of hashes.
    """
    if not 0 <= index < size:
        raise ValueError(f"record {index} is not in a tree of {size} records")
    hasher = _hasher(leaves)
    path: list[bytes] = []
    start, end = 0, size
    # Descend from the root; the sibling of each step is the subtree not containing index.
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(hasher.range_root(start + k, end))
            end = start + k
        else:
            path.append(hasher.complete(start, k))
            start += k
    path.reverse()
    return path


def consistency_proof(
    leaves: LeafSource | SubtreeHasher, old_size: int, new_size: int
) -> list[bytes]:
    """The proof that the tree of ``old_size`` leaves is a prefix of the tree of
    ``new_size`` leaves (RFC 6962 §2.1.2 PROOF). Empty when ``old_size`` is 0 or equals
    ``new_size``.

    Raises ``ValueError`` unless ``0 <= old_size <= new_size``, or if ``leaves`` returns
    the wrong number of hashes.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    hasher = _hasher(leaves)
    proof: list[bytes] = []
    start, end, m = 0, new_size, old_size
    # ``whole`` is SUBPROOF's flag: still on the old tree's right edge from the root.
    whole = True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(hasher.range_root(start + k, end))
            end = start + k
        else:
            proof.append(hasher.complete(start, k))
            start += k
            m -= k
            whole = False
    if not whole:
        proof.append(hasher.range_root(start, end))
    proof.reverse()
    return proof


def _check_hashes(proof: Sequence[bytes], *named: tuple[str, bytes]) -> str | None:
    for name, value in named:
        if len(value) != HASH_SIZE:
            return f"the {name} is {len(value)} bytes, not {HASH_SIZE}"
    for i, value in enumerate(proof):
        if len(value) != HASH_SIZE:
            return f"proof hash {i} is {len(value)} bytes, not {HASH_SIZE}"
    return None


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Checks that the leaf hash ``leaf`` is leaf ``index`` of the tree of ``size``
    leaves whose root is ``root`` (RFC 9162 §2.1.3.2).

    Raises :class:`InvalidProof` saying why it is not: index out of range, a proof of the
    wrong length, a hash of the wrong size, or a path that leads to another root.
    """
    if not 0 <= index < size:
        raise InvalidProof(f"record {index} is not in a tree of {size} records")
    wrong = _check_hashes(proof, ("leaf hash", leaf), ("root hash", root))
    if wrong:
        raise InvalidProof(wrong)
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise InvalidProof(f"the proof is longer than a path in a tree of {size} records")
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                # On the tree's right edge: skip the levels where this node has no sibling.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof(f"the proof is shorter than a path in a tree of {size} records")
    if r != root:
        raise InvalidProof(
            f"the proof for record {index} leads to root {r.hex()}, not {root.hex()}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Checks that the tree of ``old_size`` leaves with root ``old_root`` is a prefix of
    the tree of ``new_size`` leaves with root ``new_root`` (RFC 9162 §2.1.4.2).

    Equal sizes need equal roots and an empty proof; an empty old tree needs the empty
    root and an empty proof. Raises :class:`InconsistentTree` saying why the heads are
    not versions of one log, or why the proof is unusable.
    """
    if not 0 <= old_size <= new_size:
        raise InconsistentTree(
            f"a log of {old_size} records cannot become a log of {new_size} records"
        )
    wrong = _check_hashes(proof, ("old root hash", old_root), ("new root hash", new_root))
    if wrong:
        raise InconsistentTree(wrong)
    if old_size in (0, new_size):
        if proof:
            raise InconsistentTree(f"the proof from size {old_size} to {new_size} must be empty")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise InconsistentTree("the root of the empty tree is not the SHA-256 of nothing")
        if old_size == new_size and old_root != new_root:
            raise InconsistentTree(f"two different roots for the same size {old_size}")
        return
    if not proof:
        raise InconsistentTree(f"the proof from size {old_size} to {new_size} is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a complete subtree of the new one: its root is the path's start.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InconsistentTree(f"the proof is too long for sizes {old_size} and {new_size}")
        if fn & 1 or fn == sn:
            fr = _sha256(b"\x01" + c + fr).digest()
            sr = _sha256(b"\x01" + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InconsistentTree(f"the proof is too short for sizes {old_size} and {new_size}")
    if fr != old_root:
        raise InconsistentTree(f"the proof does not lead to the root signed at size {old_size}")
    if sr != new_root:
        raise InconsistentTree(f"the proof does not lead to the root signed at size {new_size}")
