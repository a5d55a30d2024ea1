"""Seal state: whether the root key (and so every KEK) is in this process.

The server starts sealed. The root key is released by Shamir shares given one
at a time (from any client), by a passphrase (Argon2id, paid once per unseal),
or in dev mode by a 0600 key file. Sealing drops the keys from memory.

Example::

    >>> mgr = SealManager()
    >>> mgr.state(initialized=False)
    <SealState.UNINITIALIZED: 'uninitialized'>
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from strongroom.crypto import Keyring, RootKey, shamir
from strongroom.errors import InvalidInput, NotInitialized, PermissionDenied, Sealed
from strongroom.types import SealState

__all__ = ["SealManager", "UnsealProgress"]


@dataclass(frozen=True, slots=True)
class UnsealProgress:
    """Where a Shamir unseal stands; never holds the shares themselves."""

    threshold: int
    progress: int
    nonce: str


@dataclass(slots=True)
class _Pending:
    identifier: int
    threshold: int
    shares: dict[int, str] = field(default_factory=dict, repr=False)
    nonce: str = field(default_factory=lambda: secrets.token_hex(8))


class SealManager:
    """Holds the root key and keyring while unsealed; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._root: RootKey | None = None
        self._keyring: Keyring | None = None
        self._pending: _Pending | None = None

    def state(self, *, initialized: bool) -> SealState:
        """Return the lifecycle state, given whether a seal config exists."""
        if not initialized:
            return SealState.UNINITIALIZED
        return SealState.UNSEALED if self._root is not None else SealState.SEALED

    @property
    def sealed(self) -> bool:
        """True when no key material is in memory."""
        return self._root is None

    def root(self) -> RootKey:
        """Return the root key or raise :class:`Sealed`."""
        root = self._root
        if root is None:
            raise Sealed("unseal the vault first (strongroom operator unseal)")
        return root

    def keyring(self) -> Keyring:
        """Return the keyring or raise :class:`Sealed`."""
        keyring = self._keyring
        if keyring is None:
            raise Sealed("unseal the vault first (strongroom operator unseal)")
        return keyring

    def progress(self, threshold: int) -> UnsealProgress:
        """Return the Shamir unseal progress."""
        with self._lock:
            p = self._pending
            if p is None:
                return UnsealProgress(threshold=threshold, progress=0, nonce="")
            return UnsealProgress(threshold=p.threshold, progress=len(p.shares), nonce=p.nonce)

    def add_share(self, share: str, *, threshold: int) -> bytes | None:
        """Record one share; return the combined secret once ``threshold`` are in.

        A share that fails its own checksum, or belongs to another share set
        than those already given, is refused at once and the progress is kept.
        """
        info = shamir.inspect_share(share)
        with self._lock:
            if self._root is not None:
                return None
            p = self._pending
            if p is None:
                p = self._pending = _Pending(identifier=info.identifier, threshold=info.threshold)
            if info.identifier != p.identifier:
                raise InvalidInput("this share belongs to another share set")
            if info.index in p.shares:
                raise InvalidInput("this share was already given")
            p.shares[info.index] = share
            if len(p.shares) < max(p.threshold, threshold):
                return None
            shares = list(p.shares.values())
            self._pending = None
        try:
            return shamir.combine(shares)
        except InvalidInput as exc:
            raise PermissionDenied("the shares do not reconstruct the root key") from exc

    def reset(self) -> None:
        """Forget any shares given so far."""
        with self._lock:
            self._pending = None

    def install(self, root: RootKey, keyring: Keyring) -> None:
        """Enter the unsealed state with a verified root key and its keyring."""
        with self._lock:
            self._root = root
            self._keyring = keyring
            self._pending = None

    def seal(self) -> None:
        """Drop every key from memory (Python cannot zero them; the references go)."""
        with self._lock:
            self._root = None
            self._keyring = None
            self._pending = None

    @staticmethod
    def not_initialized() -> NotInitialized:
        """The error every data path raises before ``operator init``."""
        return NotInitialized("initialize the vault first (strongroom operator init)")
