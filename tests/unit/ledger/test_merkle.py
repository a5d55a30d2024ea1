"""RFC 9162 Merkle tree: CT known answers, a naive RFC reference, tampering, read cost."""

from __future__ import annotations

import doctest
import hashlib
import inspect
import json
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.errors import IntegrityViolation, ProofInvalid
from strongroom.ledger import merkle
from strongroom.ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    MemoryNodeStore,
    NodeStore,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_at,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)

from .conftest import CountingStore, TreeFactory, build_tree

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "vectors" / "merkle_ct.json").read_text("utf-8")
)
CT_LEAVES = [bytes.fromhex(x) for x in VECTORS["leaves"]]
PROPERTY = settings(max_examples=300, deadline=None)


F = TypeVar("F", bound=Callable[..., Any])


def _vectors(kind: str) -> Callable[[F], F]:
    """Parametrize a test with one ``vector`` per entry of merkle_ct.json of this kind."""
    chosen = [v for v in VECTORS["vectors"] if v["kind"] == kind]
    assert chosen, kind
    mark: Callable[[F], F] = pytest.mark.parametrize(
        "vector", chosen, ids=[v["description"] for v in chosen]
    )
    return mark


def _hexes(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# --- A naive reference, written straight from the recursive definitions of
# RFC 9162 §2.1.1 (MTH), §2.1.3.1 (PATH) and §2.1.4.1 (PROOF/SUBPROOF), over
# the list of leaf *data*, with hashlib and nothing from strongroom.


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(n)
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


# The *shape* of a proof: which side each element sits on, from the same
# recursions. An RFC 9162 verifier's computation depends only on the shape, so
# a proof made for (m, n) also verifies for any (m', n') of the same shape
# against the same root: the root, not the proof, binds the tree size.


def ref_path_shape(m: int, n: int) -> tuple[str, ...]:
    if n == 1:
        return ()
    k = _k(n)
    if m < k:
        return (*ref_path_shape(m, k), "right")
    return (*ref_path_shape(m - k, n - k), "left")


def ref_subproof_shape(m: int, n: int, b: bool) -> tuple[str, ...]:
    if m == n:
        return () if b else ("old",)
    k = _k(n)
    if m <= k:
        return (*ref_subproof_shape(m, k, b), "right")
    return (*ref_subproof_shape(m - k, n - k, False), "left")


# --- Strategies: distinct leaves (so no two subtrees share a hash), a tree
# size up to ~300, and valid proof parameters.


@st.composite
def leaf_data(draw: st.DrawFn, min_size: int = 1, max_size: int = 300) -> list[bytes]:
    n = draw(st.integers(min_size, max_size))
    salt = draw(st.binary(max_size=4))
    return [salt + i.to_bytes(2, "big") for i in range(n)]


@st.composite
def inclusion_case(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    data = draw(leaf_data())
    size = draw(st.integers(1, len(data)))
    index = draw(st.integers(0, size - 1))
    return data, index, size


@st.composite
def consistency_case(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    data = draw(leaf_data(min_size=2))
    second = draw(st.integers(2, len(data)))
    first = draw(st.integers(1, second - 1))
    return data, first, second


def _tree(data: Sequence[bytes]) -> MemoryNodeStore:
    return build_tree(leaf_hash(d) for d in data)[0]


def _rejects(check: Callable[..., None], **kwargs: Any) -> bool:
    """Whether ``check(**kwargs)`` raises ProofInvalid (any other error propagates)."""
    try:
        check(**kwargs)
    except ProofInvalid:
        return True
    return False


class TestExports:
    def test_all(self) -> None:
        assert merkle.__all__ == [
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
        for name in merkle.__all__:
            assert hasattr(merkle, name), name

    def test_public_objects_have_docstrings(self) -> None:
        for name in merkle.__all__:
            obj = getattr(merkle, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                assert (obj.__doc__ or "").strip(), name

    def test_module_example_runs(self) -> None:
        result = doctest.testmod(merkle, verbose=False, report=False)
        assert result.attempted > 0
        assert result.failed == 0

    def test_no_pyca_import(self) -> None:
        source = Path(merkle.__file__).read_text("utf-8")
        assert "cryptography" not in source.replace("cryptographic", "")


class TestHashing:
    @_vectors("leaf_hash")
    def test_leaf_hash(self, vector: dict[str, Any]) -> None:
        assert leaf_hash(bytes.fromhex(vector["data"])).hex() == vector["hash"]

    @_vectors("node_hash")
    def test_node_hash(self, vector: dict[str, Any]) -> None:
        got = node_hash(bytes.fromhex(vector["left"]), bytes.fromhex(vector["right"]))
        assert got.hex() == vector["hash"]

    def test_empty_root(self) -> None:
        assert EMPTY_ROOT.hex() == (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
        assert leaf_hash(b"") != EMPTY_ROOT

    def test_domain_separation(self) -> None:
        a, b = leaf_hash(b"a"), leaf_hash(b"b")
        assert node_hash(a, b) != leaf_hash(a + b)
        assert node_hash(a, b) != node_hash(b, a)


class TestCTVectors:
    """Certificate Transparency's classic eight leaves (transparency-dev/merkle)."""

    @_vectors("root")
    def test_root_and_frontier(self, vector: dict[str, Any], make_tree: TreeFactory) -> None:
        size = vector["size"]
        store, frontier = make_tree(leaf_hash(d) for d in CT_LEAVES[:size])
        assert frontier.root().hex() == vector["root"]
        assert [p.hex() for p in frontier.peaks] == vector["frontier"]
        assert Frontier.load(store, size) == frontier
        full, _ = make_tree(leaf_hash(d) for d in CT_LEAVES)
        assert root_at(full, size).hex() == vector["root"]
        assert ref_mth(CT_LEAVES[:size]).hex() == vector["root"]

    @_vectors("node")
    def test_stored_node(self, vector: dict[str, Any], make_tree: TreeFactory) -> None:
        store, _ = make_tree(leaf_hash(d) for d in CT_LEAVES)
        key = (vector["level"], vector["index"])
        assert store.get_nodes([key])[key].hex() == vector["hash"]

    def test_exactly_the_complete_subtrees_are_stored(self, make_tree: TreeFactory) -> None:
        store, _ = make_tree(leaf_hash(d) for d in CT_LEAVES[:7])
        expected = {
            (v["level"], v["index"]): v["hash"]
            for v in VECTORS["vectors"]
            if v["kind"] == "node" and (v["index"] + 1) << v["level"] <= 7
        }
        assert len(store) == len(expected) == 11
        got = store.get_nodes(list(expected))
        assert {k: h.hex() for k, h in got.items()} == expected

    @_vectors("inclusion")
    def test_inclusion(self, vector: dict[str, Any], make_tree: TreeFactory) -> None:
        index, size = vector["index"], vector["size"]
        proof, root = _hexes(vector["proof"]), bytes.fromhex(vector["root"])
        store, _ = make_tree(leaf_hash(d) for d in CT_LEAVES)
        assert inclusion_proof(store, index=index, size=size) == proof
        leaf = leaf_hash(CT_LEAVES[index])
        verify_inclusion(leaf_hash=leaf, index=index, size=size, proof=proof, root=root)
        some = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
        probes: list[tuple[str, int, int, bytes, list[bytes], bytes]] = [
            ("index - 1", index - 1, size, leaf, proof, root),
            ("index + 1", index + 1, size, leaf, proof, root),
            ("index ^ 2", index ^ 2, size, leaf, proof, root),
            ("size * 2", index, size * 2, leaf, proof, root),
            ("size / 2", index, size // 2, leaf, proof, root),
            ("wrong leaf", index, size, leaf_hash(b"WrongLeaf"), proof, root),
            ("empty root", index, size, leaf, proof, EMPTY_ROOT),
            ("random root", index, size, leaf, proof, some),
            ("trailing root", index, size, leaf, [*proof, root], root),
            ("preceding root", index, size, leaf, [root, *proof], root),
        ]
        for i in range(len(proof)):
            probes.append((f"proof[{i}] bit 3", index, size, leaf, _modified(proof, i, 3), root))
        if proof:
            probes.append(("removed component", index, size, leaf, proof[:-1], root))
        if len(proof) > 1:
            probes.append(("inserted", index, size, leaf, [proof[0], some, *proof[1:]], root))
        for desc, i, s, lf, p, r in probes:
            assert _rejects(verify_inclusion, leaf_hash=lf, index=i, size=s, proof=p, root=r), desc

    @_vectors("consistency")
    def test_consistency(self, vector: dict[str, Any], make_tree: TreeFactory) -> None:
        first, second = vector["first"], vector["second"]
        proof = _hexes(vector["proof"])
        r1, r2 = bytes.fromhex(vector["first_root"]), bytes.fromhex(vector["second_root"])
        store, _ = make_tree(leaf_hash(d) for d in CT_LEAVES)
        assert consistency_proof(store, first=first, second=second) == proof
        verify_consistency(first=first, second=second, first_root=r1, second_root=r2, proof=proof)
        if not proof:
            return
        probes: list[tuple[str, int, int, bytes, bytes, list[bytes]]] = [
            ("first - 1", first - 1, second, r1, r2, proof),
            ("first + 1", first + 1, second, r1, r2, proof),
            ("first ^ 2", first ^ 2, second, r1, r2, proof),
            ("second * 2", first, second * 2, r1, r2, proof),
            ("second / 2", first, second // 2, r1, r2, proof),
            ("wrong first root", first, second, leaf_hash(b"WrongRoot"), r2, proof),
            ("wrong second root", first, second, r1, leaf_hash(b"WrongRoot"), proof),
            ("swapped roots", first, second, r2, r1, proof),
            ("empty proof", first, second, r1, r2, []),
            ("trailing first root", first, second, r1, r2, [*proof, r1]),
            ("trailing second root", first, second, r1, r2, [*proof, r2]),
            ("preceding first root", first, second, r1, r2, [r1, *proof]),
            ("preceding second root", first, second, r1, r2, [r2, *proof]),
            ("preceding proof[0]", first, second, r1, r2, [proof[0], *proof]),
            ("truncated", first, second, r1, r2, proof[:-1]),
        ]
        for i in range(len(proof)):
            probes.append((f"proof[{i}] bit 4", first, second, r1, r2, _modified(proof, i, 4)))
        for desc, f, s, a, b, p in probes:
            assert _rejects(
                verify_consistency, first=f, second=s, first_root=a, second_root=b, proof=p
            ), desc


def _modified(proof: list[bytes], i: int, bit: int) -> list[bytes]:
    out = list(proof)
    out[i] = _flip(out[i], bit)
    return out


class TestFrontier:
    def test_empty(self) -> None:
        assert Frontier().root() == EMPTY_ROOT
        assert Frontier() == Frontier(0, ())

    def test_append_emits_the_leaf_then_completed_parents(self) -> None:
        leaves = [leaf_hash(d) for d in CT_LEAVES]
        frontier, _ = Frontier().extend(leaves[:7])
        frontier, nodes = frontier.append(leaves[7])
        assert [key for key, _ in nodes] == [(0, 7), (1, 3), (2, 1), (3, 0)]
        assert nodes[-1][1] == frontier.root() == ref_mth(CT_LEAVES)
        assert frontier.peaks == (frontier.root(),)

    def test_append_is_pure(self) -> None:
        before = Frontier()
        after, _ = before.append(leaf_hash(b"x"))
        assert before == Frontier()
        assert after.size == 1

    @PROPERTY
    @given(leaf_data(min_size=0), st.data())
    def test_append_extend_load_agree(self, data: list[bytes], draw: st.DataObject) -> None:
        leaves = [leaf_hash(d) for d in data]
        split = draw.draw(st.integers(0, len(leaves)))
        one_by_one = Frontier()
        appended = []
        for leaf in leaves:
            one_by_one, nodes = one_by_one.append(leaf)
            appended.extend(nodes)
        head, first_nodes = Frontier().extend(leaves[:split])
        whole, rest_nodes = head.extend(leaves[split:])
        assert whole == one_by_one
        assert first_nodes + rest_nodes == appended
        assert whole.root() == ref_mth(data)
        store = MemoryNodeStore()
        store.put_nodes(appended)
        # Every complete subtree, and nothing else, is stored once, with its MTH.
        n = len(leaves)
        assert len(store) == len(appended) == sum(n >> lv for lv in range(n.bit_length()))
        for (level, index), h in appended:
            assert (index + 1) << level <= n
            assert h == ref_mth(data[index << level : (index + 1) << level])
        size = draw.draw(st.integers(0, n))
        assert Frontier.load(store, size) == Frontier().extend(leaves[:size])[0]
        assert root_at(store, size) == ref_mth(data[:size])

    @pytest.mark.parametrize(
        ("size", "peaks", "error"),
        [
            (-1, (), ValueError),
            (1, (), ValueError),
            (2, (b"\x00" * 32, b"\x00" * 32), ValueError),
            (1, (b"\x00" * 31,), ValueError),
            (1, ("00" * 32,), TypeError),
            (True, (b"\x00" * 32,), TypeError),
            (1, [b"\x00" * 32], TypeError),
        ],
    )
    def test_rejects_malformed(self, size: Any, peaks: Any, error: type[Exception]) -> None:
        with pytest.raises(error):
            Frontier(size, peaks)

    def test_rejects_malformed_leaf(self) -> None:
        with pytest.raises(ValueError, match="32-byte"):
            Frontier().append(b"short")
        with pytest.raises(TypeError):
            Frontier().extend(["00" * 32])  # type: ignore[list-item]

    def test_load_beyond_the_store_is_an_integrity_violation(self, make_tree: TreeFactory) -> None:
        store, _ = make_tree(leaf_hash(d) for d in CT_LEAVES[:5])
        with pytest.raises(IntegrityViolation) as info:
            Frontier.load(store, 6)
        assert info.value.extra["missing"] == [[1, 2]]  # size 6 = peaks (2, 0), (1, 2)
        with pytest.raises(ValueError):
            Frontier.load(store, -1)


class TestMemoryNodeStore:
    def test_get_leaves_out_absent_keys(self) -> None:
        store = MemoryNodeStore()
        store.put_nodes([((0, 0), b"a" * 32)])
        assert store.get_nodes([(0, 0), (0, 1)]) == {(0, 0): b"a" * 32}

    def test_rewriting_the_same_hash_is_idempotent(self) -> None:
        store = MemoryNodeStore()
        store.put_nodes([((0, 0), b"a" * 32)])
        store.put_nodes([((0, 0), b"a" * 32)])
        assert len(store) == 1

    def test_a_complete_node_cannot_change(self) -> None:
        store = MemoryNodeStore()
        store.put_nodes([((0, 0), b"a" * 32)])
        with pytest.raises(IntegrityViolation):
            store.put_nodes([((0, 1), b"b" * 32), ((0, 0), b"c" * 32)])
        # All or nothing: the good node of the failed batch was not written.
        assert store.get_nodes([(0, 0), (0, 1)]) == {(0, 0): b"a" * 32}

    def test_is_a_node_store(self) -> None:
        store: NodeStore = MemoryNodeStore()
        assert store.get_nodes([]) == {}


class TestRootAt:
    def test_empty_tree_reads_nothing(self, counting: Callable[..., CountingStore]) -> None:
        store = counting(MemoryNodeStore())
        assert root_at(store, 0) == EMPTY_ROOT
        assert store.calls == []

    def test_missing_node(self, make_tree: TreeFactory) -> None:
        store, _ = make_tree(leaf_hash(d) for d in CT_LEAVES[:3])
        with pytest.raises(IntegrityViolation):
            root_at(store, 4)

    def test_malformed_stored_node(self) -> None:
        class Bad:
            def get_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
                return dict.fromkeys(keys, b"short")

        with pytest.raises(IntegrityViolation, match="not a hash"):
            root_at(Bad(), 3)

    @pytest.mark.parametrize(("size", "error"), [(-1, ValueError), (True, TypeError)])
    def test_rejects_bad_size(self, size: Any, error: type[Exception]) -> None:
        with pytest.raises(error):
            root_at(MemoryNodeStore(), size)


class TestInclusionProof:
    @PROPERTY
    @given(inclusion_case())
    def test_matches_reference(self, case: tuple[list[bytes], int, int]) -> None:
        data, index, size = case
        store = _tree(data)
        proof = inclusion_proof(store, index=index, size=size)
        assert proof == ref_path(index, data[:size])

    def test_every_proof_of_a_small_tree(self, make_tree: TreeFactory) -> None:
        data = [bytes([i]) for i in range(33)]
        store, _ = make_tree(leaf_hash(d) for d in data)
        for size in range(1, 34):
            for index in range(size):
                got = inclusion_proof(store, index=index, size=size)
                assert got == ref_path(index, data[:size]), (index, size)

    @pytest.mark.parametrize(("index", "size"), [(0, 0), (3, 3), (4, 3), (-1, 3)])
    def test_rejects_out_of_range(self, index: int, size: int, make_tree: TreeFactory) -> None:
        store, _ = make_tree(leaf_hash(d) for d in CT_LEAVES)
        with pytest.raises(ValueError):
            inclusion_proof(store, index=index, size=size)

    def test_rejects_non_int(self) -> None:
        with pytest.raises(TypeError):
            inclusion_proof(MemoryNodeStore(), index=False, size=1)

    def test_beyond_the_store(self, make_tree: TreeFactory) -> None:
        store, _ = make_tree(leaf_hash(d) for d in CT_LEAVES[:5])
        with pytest.raises(IntegrityViolation):
            inclusion_proof(store, index=0, size=6)


class TestConsistencyProof:
    @PROPERTY
    @given(consistency_case())
    def test_matches_reference(self, case: tuple[list[bytes], int, int]) -> None:
        data, first, second = case
        store = _tree(data)
        proof = consistency_proof(store, first=first, second=second)
        assert proof == ref_proof(first, data[:second])

    def test_every_proof_of_a_small_tree(self, make_tree: TreeFactory) -> None:
        data = [bytes([i]) for i in range(33)]
        store, _ = make_tree(leaf_hash(d) for d in data)
        for second in range(1, 34):
            for first in range(1, second + 1):
                got = consistency_proof(store, first=first, second=second)
                assert got == ref_proof(first, data[:second]), (first, second)

    @pytest.mark.parametrize(("first", "second"), [(0, 0), (0, 5), (5, 5), (8, 8)])
    def test_nothing_to_prove(
        self, first: int, second: int, make_tree: TreeFactory, counting: Any
    ) -> None:
        store, _ = make_tree(leaf_hash(d) for d in CT_LEAVES)
        counted = counting(store)
        assert consistency_proof(counted, first=first, second=second) == []
        assert counted.calls == []

    @pytest.mark.parametrize(("first", "second"), [(4, 3), (-1, 3), (-2, -1)])
    def test_rejects_out_of_range(self, first: int, second: int, make_tree: TreeFactory) -> None:
        store, _ = make_tree(leaf_hash(d) for d in CT_LEAVES)
        with pytest.raises(ValueError):
            consistency_proof(store, first=first, second=second)

    def test_rejects_non_int(self) -> None:
        with pytest.raises(TypeError):
            consistency_proof(MemoryNodeStore(), first=1, second=2.0)  # type: ignore[arg-type]


class TestVerifyInclusion:
    @PROPERTY
    @given(inclusion_case(), st.integers(0, 255), st.data())
    def test_accepts_valid_and_rejects_any_tampering(
        self, case: tuple[list[bytes], int, int], bit: int, draw: st.DataObject
    ) -> None:
        data, index, size = case
        leaf, root = leaf_hash(data[index]), ref_mth(data[:size])
        proof = ref_path(index, data[:size])

        def verify(**changes: Any) -> None:
            args: dict[str, Any] = {
                "leaf_hash": leaf,
                "index": index,
                "size": size,
                "proof": proof,
                "root": root,
            }
            verify_inclusion(**(args | changes))

        verify()
        assert root_from_inclusion(leaf_hash=leaf, index=index, size=size, proof=proof) == root
        for i in range(len(proof)):
            assert _rejects(verify, proof=_modified(proof, i, bit)), i
        assert _rejects(verify, leaf_hash=_flip(leaf, bit))
        assert _rejects(verify, root=_flip(root, bit))
        other = leaf_hash(data[(index + 1) % len(data)])
        assert _rejects(verify, proof=[*proof, other])
        assert _rejects(verify, proof=[other, *proof])
        if proof:
            assert _rejects(verify, proof=proof[:-1])
            assert _rejects(verify, proof=proof[1:])
        # A wrong index or size is rejected unless its proof has the very same
        # shape (see ref_path_shape); then it verifies, as in every RFC 9162
        # verifier, because the checkpoint binds size to root.
        shape = ref_path_shape(index, size)
        wrong_index = draw.draw(st.integers(-2, size + 2).filter(lambda i: i != index))
        wrong_size = draw.draw(st.integers(-1, 2 * size + 2).filter(lambda s: s != size))
        for i, s in ((wrong_index, size), (index, wrong_size), (index ^ 1, size)):
            if (i, s) == (index, size):
                continue
            same = 0 <= i < s and ref_path_shape(i, s) == shape
            assert _rejects(verify, index=i, size=s) is not same, (i, s)

    def test_wrong_size_with_the_same_shape_verifies(self) -> None:
        # The proof of leaf 0 in a 4-leaf tree has the shape of leaf 0 in a
        # 3-leaf tree: (right, right). Only the signed size saves the caller.
        data = [bytes([i]) for i in range(4)]
        proof, root = ref_path(0, data), ref_mth(data)
        assert ref_path_shape(0, 3) == ref_path_shape(0, 4)
        verify_inclusion(leaf_hash=leaf_hash(data[0]), index=0, size=3, proof=proof, root=root)

    def test_error_carries_expected_and_got(self) -> None:
        data = [bytes([i]) for i in range(5)]
        proof, root = ref_path(2, data), ref_mth(data)
        with pytest.raises(ProofInvalid) as info:
            verify_inclusion(leaf_hash=leaf_hash(b"x"), index=2, size=5, proof=proof, root=root)
        assert info.value.extra["expected"] == root.hex()
        assert len(info.value.extra["got"]) == 64

    @pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (1, 1), (2, 1), (-1, 1), (0, -1)])
    def test_rejects_index_not_below_size(self, index: int, size: int) -> None:
        with pytest.raises(ProofInvalid):
            verify_inclusion(
                leaf_hash=EMPTY_ROOT, index=index, size=size, proof=[], root=EMPTY_ROOT
            )

    def test_single_leaf_tree(self) -> None:
        h = leaf_hash(b"data")
        verify_inclusion(leaf_hash=h, index=0, size=1, proof=[], root=h)
        with pytest.raises(ProofInvalid):
            verify_inclusion(leaf_hash=h, index=0, size=1, proof=[], root=EMPTY_ROOT)

    @pytest.mark.parametrize("where", ["leaf_hash", "root", "proof"])
    def test_rejects_hashes_of_the_wrong_length(self, where: str) -> None:
        h = leaf_hash(b"data")
        args: dict[str, Any] = {"leaf_hash": h, "index": 0, "size": 2, "proof": [h], "root": h}
        args[where] = [b""] if where == "proof" else h[:31]
        with pytest.raises(ProofInvalid, match="32-byte"):
            verify_inclusion(**args)

    def test_misuse_is_type_error(self) -> None:
        h = leaf_hash(b"data")
        with pytest.raises(TypeError):
            verify_inclusion(leaf_hash=h.hex(), index=0, size=1, proof=[], root=h)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            verify_inclusion(leaf_hash=h, index=0, size=True, proof=[], root=h)


class TestVerifyConsistency:
    @PROPERTY
    @given(consistency_case(), st.integers(0, 255), st.data())
    def test_accepts_valid_and_rejects_any_tampering(
        self, case: tuple[list[bytes], int, int], bit: int, draw: st.DataObject
    ) -> None:
        data, first, second = case
        r1, r2 = ref_mth(data[:first]), ref_mth(data[:second])
        proof = ref_proof(first, data[:second])

        def verify(**changes: Any) -> None:
            args: dict[str, Any] = {
                "first": first,
                "second": second,
                "first_root": r1,
                "second_root": r2,
                "proof": proof,
            }
            verify_consistency(**(args | changes))

        verify()
        for i in range(len(proof)):
            assert _rejects(verify, proof=_modified(proof, i, bit)), i
        assert _rejects(verify, first_root=_flip(r1, bit))
        assert _rejects(verify, second_root=_flip(r2, bit))
        assert _rejects(verify, first_root=r2, second_root=r1)
        assert _rejects(verify, proof=[])
        assert _rejects(verify, proof=proof[:-1])
        assert _rejects(verify, proof=proof[1:])
        assert _rejects(verify, proof=[*proof, r2])
        assert _rejects(verify, proof=[r1, *proof])
        assert _rejects(verify, proof=[proof[0], *proof])
        # Wrong sizes: rejected unless the proof shape is the same (see
        # ref_subproof_shape), in which case any RFC 9162 verifier accepts.
        shape = ref_subproof_shape(first, second, True)
        f2 = draw.draw(st.integers(-1, second + 2).filter(lambda f: f != first))
        s2 = draw.draw(st.integers(-1, 2 * second + 2).filter(lambda s: s != second))
        for f, s in ((f2, second), (first, s2), (f2, s2)):
            same = 0 < f < s and ref_subproof_shape(f, s, True) == shape
            assert _rejects(verify, first=f, second=s) is not same, (f, s)

    @pytest.mark.parametrize(
        ("first", "second", "r1", "r2", "proof", "ok"),
        [
            # Sizes with nothing to prove.
            (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
            (0, 1, EMPTY_ROOT, leaf_hash(b"a"), [], True),
            (1, 1, leaf_hash(b"a"), leaf_hash(b"a"), [], True),
            (1, 1, leaf_hash(b"a"), leaf_hash(b"b"), [], False),
            # transparency-dev accepts any first root for size 0; we require MTH({}).
            (0, 1, leaf_hash(b"a"), leaf_hash(b"b"), [], False),
            (0, 0, leaf_hash(b"a"), leaf_hash(b"a"), [], False),
            # Roots match but the proof is not empty.
            (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
            (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
            (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
            # Time travel to the past, negative sizes.
            (1, 0, leaf_hash(b"a"), EMPTY_ROOT, [], False),
            (2, 1, leaf_hash(b"a"), leaf_hash(b"b"), [], False),
            (-1, 1, leaf_hash(b"a"), leaf_hash(b"b"), [], False),
            # Empty proof for a real extension.
            (1, 2, leaf_hash(b"a"), leaf_hash(b"b"), [], False),
        ],
    )
    def test_edge_cases(
        self, first: int, second: int, r1: bytes, r2: bytes, proof: list[bytes], ok: bool
    ) -> None:
        def check() -> None:
            verify_consistency(
                first=first, second=second, first_root=r1, second_root=r2, proof=proof
            )

        assert _rejects(check) is not ok

    def test_error_carries_expected_and_got(self) -> None:
        data = [bytes([i]) for i in range(7)]
        proof = ref_proof(3, data)
        with pytest.raises(ProofInvalid) as info:
            verify_consistency(
                first=3,
                second=7,
                first_root=ref_mth(data[:3]),
                second_root=EMPTY_ROOT,
                proof=proof,
            )
        assert info.value.extra == {"expected": EMPTY_ROOT.hex(), "got": ref_mth(data).hex()}

    def test_rejects_hashes_of_the_wrong_length(self) -> None:
        h = leaf_hash(b"a")
        with pytest.raises(ProofInvalid, match="32-byte"):
            verify_consistency(first=1, second=2, first_root=h, second_root=h, proof=[b"x"])
        with pytest.raises(ProofInvalid, match="32-byte"):
            verify_consistency(first=1, second=1, first_root=h[:1], second_root=h[:1], proof=[])


BIG = 100_000


@pytest.fixture(scope="module")
def big() -> tuple[MemoryNodeStore, Frontier]:
    """A 100,000-leaf tree, built once for the read-cost tests."""
    return build_tree(leaf_hash(i.to_bytes(4, "big")) for i in range(BIG))


class TestReadCost:
    """Proofs read O(log n) nodes in one batch, whatever the tree size."""

    N = BIG

    def test_one_batch_of_log_n_keys(self, big: tuple[MemoryNodeStore, Frontier]) -> None:
        store, frontier = big
        rng = random.Random(9162)
        sizes = [self.N, self.N - 1, 2**16, 2**16 + 1, 65_535, 99_999, 3, 2, 1]
        sizes += [rng.randint(1, self.N) for _ in range(100)]
        for size in sizes:
            bound = 2 * math.ceil(math.log2(size)) + 2
            root = root_at(store, size)
            for index in {0, size - 1, size // 2, rng.randrange(size)}:
                counted = CountingStore(store)
                proof = inclusion_proof(counted, index=index, size=size)
                # A one-leaf tree has an empty proof and reads nothing.
                assert len(counted.calls) == (size > 1)
                keys = counted.calls[0] if counted.calls else ()
                assert len(keys) == len(set(keys)) <= bound, (index, size)
                leaf = leaf_hash(index.to_bytes(4, "big"))
                verify_inclusion(leaf_hash=leaf, index=index, size=size, proof=proof, root=root)
            for first in {1, size // 2, size - 1, rng.randint(1, size)} - {0, size}:
                counted = CountingStore(store)
                proof = consistency_proof(counted, first=first, second=size)
                assert len(counted.calls) == 1
                assert len(counted.calls[0]) <= bound, (first, size)
                verify_consistency(
                    first=first,
                    second=size,
                    first_root=root_at(store, first),
                    second_root=root,
                    proof=proof,
                )
        assert root_at(store, self.N) == frontier.root()

    def test_root_and_frontier_read_one_key_per_peak(
        self, big: tuple[MemoryNodeStore, Frontier]
    ) -> None:
        store, frontier = big
        for size in (self.N, 2**16, 77_777):
            counted = CountingStore(store)
            root_at(counted, size)
            loaded = Frontier.load(counted, size)
            assert [len(c) for c in counted.calls] == [size.bit_count()] * 2
            assert loaded.size == size
        assert Frontier.load(store, self.N) == frontier
