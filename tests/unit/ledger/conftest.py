"""Factories shared by the ledger tests (fixtures return closures)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import pytest

from strongroom.ledger.merkle import Frontier, MemoryNodeStore, NodeKey, NodeStore

TreeFactory = Callable[[Iterable[bytes]], tuple[MemoryNodeStore, Frontier]]


class CountingStore:
    """A NodeStore wrapper that records every ``get_nodes`` call and its keys."""

    def __init__(self, inner: NodeStore) -> None:
        self.inner = inner
        self.calls: list[tuple[NodeKey, ...]] = []

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        """Record the call, then delegate."""
        self.calls.append(tuple(keys))
        return self.inner.get_nodes(keys)


def build_tree(leaf_hashes: Iterable[bytes]) -> tuple[MemoryNodeStore, Frontier]:
    """Append ``leaf_hashes`` to an empty tree; return its store and frontier."""
    store = MemoryNodeStore()
    frontier, nodes = Frontier().extend(leaf_hashes)
    store.put_nodes(nodes)
    return store, frontier


@pytest.fixture
def make_tree() -> TreeFactory:
    """Factory: ``make_tree(leaf_hashes)`` returns ``(store, frontier)`` of a fresh tree."""
    return build_tree


@pytest.fixture
def counting() -> Callable[[NodeStore], CountingStore]:
    """Factory: ``counting(store)`` wraps a store to count its reads."""
    return CountingStore
