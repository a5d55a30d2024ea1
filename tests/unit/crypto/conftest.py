"""Factories shared by the crypto tests (fixtures return closures)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from strongroom.crypto import KEK, Keyring, RecordContext, RootKey

ContextFactory = Callable[..., RecordContext]
KeyringFactory = Callable[..., Keyring]


def context(**overrides: Any) -> RecordContext:
    """A plausible record context; keyword arguments override fields."""
    fields: dict[str, Any] = {
        "tenant": "acme",
        "mount": "kv",
        "path": "apps/billing/db-password",
        "version": 3,
        "key_class": "kek",
        "content_type": "application/json",
    }
    fields.update(overrides)
    return RecordContext(**fields)


@pytest.fixture
def make_context() -> ContextFactory:
    """Factory of record contexts."""
    return context


@pytest.fixture
def make_keyring() -> KeyringFactory:
    """Factory: ``make_keyring(n)`` returns a keyring with KEK versions 1..n, n current."""

    def make(versions: int = 1) -> Keyring:
        ring = Keyring()
        for v in range(1, versions + 1):
            ring.add(KEK.generate(version=v))
        return ring

    return make


@pytest.fixture
def make_root() -> Callable[[], RootKey]:
    """Factory of fresh root keys."""
    return RootKey.generate
