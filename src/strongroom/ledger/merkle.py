"""The RFC 9162 Merkle tree of the ledger: hashing, a persisted append-only tree, proofs.

Hashing is RFC 9162 §2.1.1 with SHA-256: a leaf is ``SHA-256(0x00 || data)``,
an interior node ``SHA-256(0x01 || left || right)`` and the empty tree
``SHA-256("")``. The distinct prefixes keep a leaf from passing for a node.

The tree is stored as the hashes of its *complete* subtrees only. The key
``(level, index)`` names the perfect subtree over leaves
``[index * 2**level, (index + 1) * 2**level)``; once complete such a subtree
never changes, because the tree is append-only, so stored rows are written
once and never updated. A tree of any size is a row of at most
``log2(size) + 1`` complete "peaks" (one per set bit of the size, largest
first); every incomplete subtree on the right edge is rebuilt from them.

* :class:`Frontier` holds the peaks in memory, so appending a leaf needs no
  reads: :meth:`Frontier.append` returns the new frontier and the nodes to
  store (the leaf, then each parent it completes).
* :func:`root_at`, :func:`inclusion_proof` and :func:`consistency_proof`
  each plan the ``O(log n)`` node keys they need, read them with **one**
  :meth:`NodeStore.get_nodes` call, and assemble the answer.
* :func:`verify_inclusion` and :func:`verify_consistency` follow the RFC 9162
  §2.1.3.2 and §2.1.4.2 algorithms step by step and raise
  :class:`~strongroom.errors.ProofInvalid`; they never return a bool.

Example::

    >>> store = MemoryNodeStore()
    >>> frontier, nodes = Frontier().extend(leaf_hash(bytes([i])) for i in range(5))
    >>> store.put_nodes(nodes)
    >>> head = frontier.root()
    >>> head == root_at(store, 5)
    True
    >>> proof = inclusion_proof(store, index=3, size=5)
    >>> verify_inclusion(leaf_hash=leaf_hash(bytes([3])), index=3, size=5, proof=proof, root=head)
    >>> old = root_at(store, 2)
    >>> verify_consistency(first=2, second=5, first_root=old, second_root=head,
    ...                    proof=consistency_proof(store, first=2, second=5))
    >>> verify_inclusion(leaf_hash=leaf_hash(b"forged"), index=3, size=5, proof=proof, root=head)
    Traceback (most recent call last):
    ...
    strongroom.errors.ProofInvalid: inclusion proof does not lead to the expected root
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Protocol, TypeAlias

from strongroom.errors import IntegrityViolation, ProofInvalid

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "MemoryNodeStore",
    "Node",
    "NodeKey",
    "NodeStore",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_at",
    "root_from_inclusion",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""MTH({}) of RFC 9162 §2.1.1: the hash of the empty string."""

NodeKey: TypeAlias = tuple[int, int]
"""``(level, index)``: the perfect subtree over leaves ``[index << level, (index+1) << level)``."""

Node: TypeAlias = tuple[NodeKey, bytes]
"""A complete subtree and its hash, as returned for storage by :meth:`Frontier.append`."""

_sha256 = hashlib.sha256
_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 §2.1.1 leaf hash ``SHA-256(0x00 || data)``."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes, /) -> bytes:
    """Return the RFC 9162 §2.1.1 interior hash ``SHA-256(0x01 || left || right)``.

    Positional-only, unlike the keyword-only rule for same-typed arguments:
    the order *is* the definition, as in the RFC's ``HASH(0x01 || l || r)``,
    and this is the innermost loop of every proof.
    """
    return _sha256(_NODE_PREFIX + left + right).digest()


class NodeStore(Protocol):
    """Read access to the stored hashes of complete subtrees, in batches.

    Implementations answer many keys in one round trip (one ``SELECT … IN``);
    every function here makes at most one call per operation.
    """

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        """Return the hash of every key that is stored; absent keys are left out."""
        ...


class MemoryNodeStore:
    """A dict-backed :class:`NodeStore`, for tests and for the offline verifier.

    Writes are append-only: storing a different hash under a key that is
    already present raises :class:`~strongroom.errors.IntegrityViolation`,
    because a complete subtree can never change in an append-only tree.
    """

    def __init__(self) -> None:
        self._nodes: dict[NodeKey, bytes] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def put_nodes(self, nodes: Iterable[Node]) -> None:
        """Store ``nodes``; all or nothing if any would overwrite a different hash."""
        batch = list(nodes)
        for key, value in batch:
            old = self._nodes.get(key)
            if old is not None and old != value:
                raise IntegrityViolation(
                    "a complete Merkle subtree cannot change", level=key[0], index=key[1]
                )
        self._nodes.update(batch)

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """Return the hash of every key that is stored; absent keys are left out."""
        nodes = self._nodes
        return {key: nodes[key] for key in keys if key in nodes}


@dataclasses.dataclass(frozen=True, slots=True)
class Frontier:
    """The right edge of a tree of ``size`` leaves: its complete peaks, largest first.

    There is one peak per set bit of ``size`` (at most ``log2(size) + 1``),
    so the frontier is enough to append leaves and compute the tree head
    without reading storage. It is immutable: :meth:`append` returns a new
    one, so a caller can adopt it only once its nodes are committed.
    """

    size: int = 0
    peaks: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        _check_int("size", self.size)
        if self.size < 0:
            raise ValueError("Frontier.size must not be negative")
        if not isinstance(self.peaks, tuple):
            raise TypeError("Frontier.peaks must be a tuple of bytes")
        if len(self.peaks) != self.size.bit_count():
            raise ValueError("a frontier has exactly one peak per set bit of its size")
        for peak in self.peaks:
            _check_own_hash(peak, "Frontier.peaks")

    @classmethod
    def load(cls, store: NodeStore, size: int) -> Frontier:
        """Rebuild the frontier of a ``size``-leaf tree from ``store`` (one read).

        Raises :class:`~strongroom.errors.IntegrityViolation` if a peak is
        missing, which means ``size`` is beyond what the store holds.
        """
        _check_int("size", size)
        if size < 0:
            raise ValueError("size must not be negative")
        keys = _range_keys(0, size)
        nodes = _fetch(store, keys)
        return cls(size, tuple(nodes[key] for key in keys))

    def root(self) -> bytes:
        """Return MTH of the tree (its tree head), folding the peaks right to left."""
        return _fold(self.peaks)

    def append(self, leaf: bytes) -> tuple[Frontier, list[Node]]:
        """Append one leaf hash; return the new frontier and the nodes to store.

        The nodes are the leaf at ``(0, size)`` followed by every parent it
        completes, lowest first.
        """
        _check_own_hash(leaf, "leaf")
        peaks = list(self.peaks)
        nodes: list[Node] = []
        _push(peaks, self.size, leaf, nodes)
        return Frontier(self.size + 1, tuple(peaks)), nodes

    def extend(self, leaves: Iterable[bytes]) -> tuple[Frontier, list[Node]]:
        """Append leaf hashes in order; same as repeated :meth:`append`, faster."""
        peaks = list(self.peaks)
        nodes: list[Node] = []
        size = self.size
        for leaf in leaves:
            _check_own_hash(leaf, "leaf")
            _push(peaks, size, leaf, nodes)
            size += 1
        return Frontier(size, tuple(peaks)), nodes


def root_at(store: NodeStore, size: int) -> bytes:
    """Return MTH of the first ``size`` leaves, from their stored peaks (one read).

    Raises :class:`~strongroom.errors.IntegrityViolation` if a node is
    missing, which means ``size`` is beyond what the store holds.
    """
    _check_int("size", size)
    if size < 0:
        raise ValueError("size must not be negative")
    keys = _range_keys(0, size)
    nodes = _fetch(store, keys)
    return _fold([nodes[key] for key in keys])


def inclusion_proof(store: NodeStore, *, index: int, size: int) -> list[bytes]:
    """Return PATH(index, D[size]) of RFC 9162 §2.1.3.1, siblings leaf first.

    Requires ``0 <= index < size`` (``ValueError`` otherwise). Raises
    :class:`~strongroom.errors.IntegrityViolation` if a node is missing,
    which means ``size`` is beyond what the store holds.
    """
    _check_int("index", index)
    _check_int("size", size)
    if not 0 <= index < size:
        raise ValueError("inclusion proofs need 0 <= index < size")
    # Walk the RFC's recursion top-down over the leaf range [lo, hi): with k
    # the largest power of two below n, PATH(m, D_n) is PATH(m, D[0:k]) :
    # MTH(D[k:n]) when m < k, else PATH(m - k, D[k:n]) : MTH(D[0:k]). Each
    # step records the sibling's range; PATH lists siblings from the leaf
    # up, so the plan is reversed at the end.
    #
    # Why O(log n) reads: each step lowers ceil(log2(hi - lo)) by at least
    # one (the halves are k and n - k <= k), so there are at most
    # L = ceil(log2 n) siblings. A left sibling D[lo:lo+k] is always a
    # perfect subtree (one key). A right sibling D[lo+k:hi] may be an
    # incomplete right-edge subtree, but only the first one met can be:
    # after the walk goes left its range is perfect, and so is everything
    # under it. That one sibling is narrower than 2**(L-1), so it is tiled
    # by fewer than L perfect subtrees, one per set bit of its width.
    # Total: fewer than 2 * L keys, all fetched in one get_nodes call.
    plan: list[list[NodeKey]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            plan.append(_range_keys(mid, hi))
            hi = mid
        else:
            plan.append(_range_keys(lo, mid))
            lo = mid
    plan.reverse()
    return _assemble(store, plan)


def consistency_proof(store: NodeStore, *, first: int, second: int) -> list[bytes]:
    """Return PROOF(first, D[second]) of RFC 9162 §2.1.4.1.

    RFC 9162 defines the proof for ``0 < first < second``. For
    ``first == second`` the RFC's SUBPROOF(m, D_m, true) is the empty list.
    For ``first == 0`` this also returns the empty list: the empty tree is a
    prefix of every tree, so there is nothing to prove, and
    :func:`verify_consistency` accepts it only when the first root is
    :data:`EMPTY_ROOT`. Anything else outside ``0 <= first <= second`` raises
    ``ValueError``; a node missing from ``store`` (``second`` beyond what it
    holds) raises :class:`~strongroom.errors.IntegrityViolation`.
    """
    _check_int("first", first)
    _check_int("second", second)
    if not 0 <= first <= second:
        raise ValueError("consistency proofs need 0 <= first <= second")
    if first in (0, second):
        return []
    # Walk SUBPROOF(m, D_n, b) top-down over [lo, hi) with m = first fixed:
    # if m <= k it is SUBPROOF(m, D[0:k], b) : MTH(D[k:n]), else
    # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]); it ends when the range
    # is exactly the old tree's part, contributing MTH of that range unless
    # b is still true (the verifier then starts from first_root itself).
    # The O(log n) argument of inclusion_proof holds unchanged: at most
    # ceil(log2 n) steps, only the first right sibling can be incomplete,
    # and the final old-tree range is perfect (it is a left half D[lo:lo+k]).
    plan: list[list[NodeKey]] = []
    lo, hi = 0, second
    whole = True
    while first != hi:
        mid = lo + _split(hi - lo)
        if first <= mid:
            plan.append(_range_keys(mid, hi))
            hi = mid
        else:
            plan.append(_range_keys(lo, mid))
            lo = mid
            whole = False
    if not whole:
        plan.append(_range_keys(lo, hi))
    plan.reverse()
    return _assemble(store, plan)


def root_from_inclusion(
    *, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Return the root an inclusion proof leads to (RFC 9162 §2.1.3.2 steps 1 to 4).

    Raises :class:`~strongroom.errors.ProofInvalid` if the proof cannot be
    one for ``index`` in a tree of ``size`` (index out of range, a hash of the
    wrong length, too many or too few elements). The caller must still
    compare the result with a trusted root; :func:`verify_inclusion` does.
    """
    _check_int("index", index)
    _check_int("size", size)
    _check_hash(leaf_hash, "leaf_hash")
    for element in proof:
        _check_hash(element, "proof element")
    # 1. If leaf_index >= tree_size, fail. A negative index is no index.
    if not 0 <= index < size:
        raise ProofInvalid("leaf index is not below the tree size", index=index, size=size)
    # 2. fn is the leaf's index, sn the last index of the tree.
    fn, sn = index, size - 1
    # 3. r starts as the leaf hash.
    r = leaf_hash
    # 4. Fold the path in, leaf first.
    for p in proof:
        # 4a. sn == 0 means r is already the root: the proof is too long.
        if sn == 0:
            raise ProofInvalid("inclusion proof is too long", proof_length=len(proof))
        # 4b. fn odd (a right child) or fn == sn (the last node of its level,
        # with no right sibling): p is the left sibling.
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # 4b.ii. Levels where fn is a left child with no sibling (the
            # right edge of an unbalanced tree) add no proof element; skip them.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        # 4c. Up one level.
        fn >>= 1
        sn >>= 1
    # 5 (first half). sn must have reached 0, or the proof is too short.
    if sn != 0:
        raise ProofInvalid("inclusion proof is too short", proof_length=len(proof))
    return r


def verify_inclusion(
    *, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the ``size``-leaf tree with head ``root``.

    RFC 9162 §2.1.3.2. Returns ``None``; raises
    :class:`~strongroom.errors.ProofInvalid` (with ``expected`` and ``got``
    hex roots when the proof is well formed but leads elsewhere).

    The proof binds the leaf to ``root``, not to ``size``: the caller must
    take ``size`` and ``root`` from the same signed checkpoint.
    """
    _check_hash(root, "root")
    got = root_from_inclusion(leaf_hash=leaf_hash, index=index, size=size, proof=proof)
    # 5 (second half). r must equal the root hash.
    if got != root:
        raise ProofInvalid(
            "inclusion proof does not lead to the expected root",
            expected=root.hex(),
            got=got.hex(),
        )


def verify_consistency(
    *,
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Check that the ``second``-leaf tree extends the ``first``-leaf tree.

    RFC 9162 §2.1.4.2 for ``0 < first < second``. ``first == second``
    verifies with an empty proof and equal roots; ``first == 0`` verifies
    with an empty proof when ``first_root`` is :data:`EMPTY_ROOT` (see
    :func:`consistency_proof`). Returns ``None``; raises
    :class:`~strongroom.errors.ProofInvalid`.
    """
    _check_int("first", first)
    _check_int("second", second)
    _check_hash(first_root, "first_root")
    _check_hash(second_root, "second_root")
    for element in proof:
        _check_hash(element, "proof element")
    if not 0 <= first <= second:
        raise ProofInvalid(
            "tree sizes must satisfy 0 <= first <= second", first=first, second=second
        )
    if first == 0 and first_root != EMPTY_ROOT:
        raise ProofInvalid(
            "the root of the empty tree is SHA-256 of the empty string",
            expected=EMPTY_ROOT.hex(),
            got=first_root.hex(),
        )
    if first in (0, second):
        if proof:
            raise ProofInvalid(
                "nothing to prove, so the proof must be empty", proof_length=len(proof)
            )
        if first == second and first_root != second_root:
            raise ProofInvalid(
                "trees of the same size must have the same root",
                expected=first_root.hex(),
                got=second_root.hex(),
            )
        return
    # 1. An empty consistency_path fails.
    if not proof:
        raise ProofInvalid("consistency proof is empty", first=first, second=second)
    path = list(proof)
    # 2. If first is a power of two, the old tree is itself a complete
    # subtree of the new one and the proof leaves it out: start from it.
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    # 3. fn and sn are the last indexes of the old and new trees.
    fn, sn = first - 1, second - 1
    # 4. Skip the levels where the old tree's last node is a right child of
    # a subtree that is complete in both trees: path[0] already covers it.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr rebuilds the old root, sr the new one, both from path[0].
    fr = sr = path[0]
    # 6. Fold in the rest of the path.
    for c in path[1:]:
        # 6a. sn == 0 means sr is already the new root: the proof is too long.
        if sn == 0:
            raise ProofInvalid("consistency proof is too long", proof_length=len(proof))
        # 6b. c is a left sibling, part of both trees.
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            # 6b.iii. Levels with no sibling on the old tree's right edge.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        # 6b otherwise: c is a right sibling, present only in the new tree.
        else:
            sr = node_hash(sr, c)
        # 6c. Up one level.
        fn >>= 1
        sn >>= 1
    # 7. sn must be 0 and both roots must match.
    if sn != 0:
        raise ProofInvalid("consistency proof is too short", proof_length=len(proof))
    if fr != first_root:
        raise ProofInvalid(
            "consistency proof does not lead to the first root",
            expected=first_root.hex(),
            got=fr.hex(),
        )
    if sr != second_root:
        raise ProofInvalid(
            "consistency proof does not lead to the second root",
            expected=second_root.hex(),
            got=sr.hex(),
        )


def _check_int(name: str, value: object) -> None:
    # bool is an int subclass; True as a tree size is a bug, not a size.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be int")


def _check_own_hash(value: object, name: str) -> None:
    """Misuse check for hashes we produce or store: TypeError/ValueError."""
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes")
    if len(value) != HASH_SIZE:
        raise ValueError(f"{name} must be a {HASH_SIZE}-byte hash")


def _check_hash(value: object, name: str) -> None:
    """Check for hashes handed to a verifier: a wrong length is an invalid proof."""
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes")
    if len(value) != HASH_SIZE:
        raise ProofInvalid(f"{name} is not a {HASH_SIZE}-byte hash", length=len(value))


def _split(n: int) -> int:
    """Return k, the largest power of two strictly below ``n >= 2`` (RFC 9162 §2.1.1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_keys(start: int, end: int) -> list[NodeKey]:
    """Return the perfect subtrees tiling leaves ``[start, end)``, largest first.

    One subtree per set bit of the width. Every range asked for here is a
    right-edge range of RFC 9162's split (``start`` a multiple of the
    smallest power of two at least ``end - start``), so each tile is aligned.
    """
    keys: list[NodeKey] = []
    width = end - start
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            keys.append((level, start >> level))
            start += 1 << level
    return keys


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Return MTH of adjacent perfect subtrees given largest first.

    RFC 9162 §2.1.1 splits n at the largest power of two k < n, which is the
    first (largest) tile, so MTH is a fold from the right.
    """
    if not hashes:
        return EMPTY_ROOT
    r = hashes[-1]
    for h in reversed(hashes[:-1]):
        r = node_hash(h, r)
    return r


def _push(peaks: list[bytes], size: int, leaf: bytes, out: list[Node]) -> None:
    """Append leaf number ``size`` to ``peaks`` in place, recording new nodes in ``out``.

    Leaf ``size`` completes one subtree per trailing 1 bit of ``size``: each
    merges the lowest peak with the subtree just finished to its right.
    """
    h = leaf
    out.append(((0, size), h))
    level = 0
    while size >> level & 1:
        h = node_hash(peaks.pop(), h)
        level += 1
        out.append(((level, size >> level), h))
    peaks.append(h)


def _fetch(store: NodeStore, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
    """Read ``keys`` in one call; a missing or malformed node is an IntegrityViolation."""
    if not keys:
        return {}
    nodes = store.get_nodes(keys)
    missing = [key for key in keys if key not in nodes]
    if missing:
        raise IntegrityViolation(
            "Merkle tree nodes are missing from the ledger",
            missing=[list(key) for key in missing[:8]],
            missing_count=len(missing),
        )
    for key in keys:
        if len(nodes[key]) != HASH_SIZE:
            raise IntegrityViolation(
                "a stored Merkle tree node is not a hash", level=key[0], index=key[1]
            )
    return nodes


def _assemble(store: NodeStore, plan: list[list[NodeKey]]) -> list[bytes]:
    """Fetch every key of ``plan`` in one read and fold each group into one hash."""
    nodes = _fetch(store, [key for group in plan for key in group])
    return [_fold([nodes[key] for key in group]) for group in plan]
