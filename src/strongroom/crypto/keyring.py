"""The in-memory keyring of unwrapped KEK versions, and per-KEK encryption counting.

The newest KEK version encrypts; every non-retired version decrypts; a retired
version is gone from memory and :meth:`Keyring.get` answers
:class:`~strongroom.errors.KeyUnavailable` for it. A :class:`Keyring` is itself a
:class:`~strongroom.crypto.keys.WrappingKey` (key class ``"kek"``): it wraps with
the current version and unwraps with whichever version a blob names.

:class:`EncryptionCounter` keeps the number of encryptions per KEK version
below the NIST SP 800-38D §8.3 bound of 2^32 invocations for random 96-bit
nonces, with hi-lo reservation so a crash can only over-count.

Example::

    >>> from strongroom.crypto.keys import KEK, DataKey, RootKey
    >>> root = RootKey.generate()
    >>> kek1, kek2 = KEK.generate(version=1), KEK.generate(version=2)
    >>> rows = [(1, root.wrap_kek(kek1), False), (2, root.wrap_kek(kek2), False)]
    >>> ring = Keyring.unwrap_all(root, rows)
    >>> ring.current
    2
    >>> dek = DataKey.generate()
    >>> ring.unwrap(kek1.wrap(dek)) == dek
    True
    >>> counter = EncryptionCounter(block_size=1000)
    >>> counter.plan(2, 1)  # persist this high-water mark first, then confirm it
    1000
    >>> counter.confirm(2, 1000); counter.consume(2, 1); counter.used(2)
    1
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Final, NamedTuple

from strongroom.crypto.keys import KEK, DataKey, RootKey, dek_blob_prefix, wrapped_kek_version
from strongroom.errors import Conflict, KeyUnavailable

__all__ = ["DEFAULT_ROTATE_AFTER", "NIST_GCM_RANDOM_NONCE_LIMIT", "EncryptionCounter", "Keyring"]

NIST_GCM_RANDOM_NONCE_LIMIT: Final = 2**32
"""NIST SP 800-38D §8.3: at most 2^32 encryptions per key with random 96-bit nonces."""

DEFAULT_ROTATE_AFTER: Final = 2**31
"""Default rotation threshold: half the hard limit, leaving room for the rotation itself."""


class _State(NamedTuple):
    """One immutable snapshot of a keyring; mutations swap in a new one."""

    keks: dict[int, KEK]
    by_prefix: dict[bytes, KEK]  # the 9-byte SRwk header each KEK writes
    retired: frozenset[int]
    current: KEK | None


def _state(keks: dict[int, KEK], retired: frozenset[int], current: KEK | None) -> _State:
    """Build a snapshot, indexing each KEK by the prefix of the blobs it writes."""
    by_prefix = {dek_blob_prefix(v): k for v, k in keks.items()}
    return _State(keks, by_prefix, retired, current)


class Keyring:
    """Unwrapped KEK versions held in memory while the vault is unsealed.

    Mutate it (``add``, ``retire``) from one place, the rotation job; reads
    are safe from any thread because each mutation swaps in a new immutable
    snapshot with a single assignment.
    """

    __slots__ = ("_s",)

    def __init__(self) -> None:
        self._s = _state({}, frozenset(), None)

    @classmethod
    def unwrap_all(cls, root: RootKey, rows: Iterable[tuple[int, bytes, bool]]) -> Keyring:
        """Build a keyring from stored ``(version, wrapped_blob, retired)`` rows.

        Retired versions are not unwrapped. The current version is the highest
        non-retired one. A blob that does not open under ``root`` raises
        DecryptionFailed; a repeated version raises ``ValueError``.
        """
        keks: dict[int, KEK] = {}
        retired: set[int] = set()
        for version, blob, is_retired in rows:
            if version in keks or version in retired:
                raise ValueError(f"KEK version {version} appears twice")
            if is_retired:
                retired.add(version)
            else:
                keks[version] = root.unwrap_kek(version, blob)
        ring = cls()
        ring._s = _state(keks, frozenset(retired), keks[max(keks)] if keks else None)
        return ring

    def __repr__(self) -> str:
        current = self._s.current.version if self._s.current else None
        return (
            f"Keyring(current={current}, versions={list(self.versions)},"
            f" retired={sorted(self._s.retired)})"
        )

    @property
    def current(self) -> int:
        """The KEK version new writes use; KeyUnavailable if the keyring is empty."""
        return self.current_kek.version

    @property
    def current_kek(self) -> KEK:
        """The KEK new writes use; KeyUnavailable if the keyring is empty."""
        kek = self._s.current
        if kek is None:
            raise KeyUnavailable("no KEK version is loaded")
        return kek

    @property
    def versions(self) -> tuple[int, ...]:
        """The loaded (non-retired) KEK versions, ascending."""
        return tuple(sorted(self._s.keks))

    @property
    def retired(self) -> frozenset[int]:
        """The versions known to be retired."""
        return self._s.retired

    def get(self, version: int) -> KEK:
        """Return KEK ``version``; KeyUnavailable if it is retired or not loaded."""
        kek = self._s.keks.get(version)
        if kek is None:
            raise KeyUnavailable(f"KEK version {version} is retired or not loaded")
        return kek

    def add(self, kek: KEK, *, current: bool = True) -> None:
        """Load ``kek``; with ``current`` (default) new writes use it from now on.

        Raises Conflict if the version is already loaded or was retired.
        """
        s = self._s
        if kek.version in s.keks or kek.version in s.retired:
            raise Conflict(f"KEK version {kek.version} already exists")
        new_current = kek if current or s.current is None else s.current
        self._s = _state({**s.keks, kek.version: kek}, s.retired, new_current)

    def retire(self, version: int) -> None:
        """Drop KEK ``version`` from memory; later ``get`` calls raise KeyUnavailable.

        Idempotent for an already-retired version. Raises Conflict for the
        current version (rotate first) and KeyUnavailable for an unknown one.
        Call it only after proving nothing references the version any more.
        """
        s = self._s
        if version in s.retired:
            return
        if version not in s.keks:
            raise KeyUnavailable(f"KEK version {version} is not loaded")
        if s.current is not None and version == s.current.version:
            raise Conflict("the current KEK version cannot be retired; rotate first")
        keks = {v: k for v, k in s.keks.items() if v != version}
        self._s = _state(keks, s.retired | {version}, s.current)

    def kek_for(self, blob: bytes) -> KEK:
        """Return the KEK that wrapped ``blob`` (from its header); KeyUnavailable if gone."""
        return self.get(wrapped_kek_version(blob))

    @property
    def key_class(self) -> str:
        """Always ``"kek"``: records wrapped by any KEK version share one key class."""
        return "kek"

    def wrap(self, dek: DataKey, *, nonce: bytes | None = None) -> bytes:
        """Wrap ``dek`` under the current KEK version."""
        return self.current_kek.wrap(dek, nonce=nonce)

    def unwrap(self, blob: bytes) -> DataKey:
        """Unwrap ``blob`` with the KEK version it names."""
        # One dict lookup on the blob's 9-byte prefix in the common case; the
        # slow path gives the precise error (KeyUnavailable or DecryptionFailed).
        kek = self._s.by_prefix.get(blob[:9]) or self.kek_for(blob)
        return kek.unwrap(blob)


class EncryptionCounter:
    """Counts encryptions per KEK version with hi-lo reservation. Pure logic, no I/O.

    Durable storage keeps, per version, a *reserved* high-water mark. Before
    using encryptions beyond it, the caller durably raises the mark by a block
    and only then encrypts; after a crash the stored mark is taken as the
    count, so the count can only be over-estimated, never under-estimated.

    Use, per batch of ``n`` encryptions under version ``v``::

        high = counter.plan(v, n)
        if high is not None:
            store_reserved_high_water_mark(v, high)  # committed durably first
            counter.confirm(v, high)
        counter.consume(v, n)
        if counter.must_rotate(v):
            schedule_rotation()

    It is thread-safe.
    """

    __slots__ = ("_block", "_lock", "_reserved", "_threshold", "_used")

    def __init__(self, *, threshold: int = DEFAULT_ROTATE_AFTER, block_size: int = 65536) -> None:
        if not 1 <= threshold <= NIST_GCM_RANDOM_NONCE_LIMIT:
            raise ValueError("threshold must be in 1..2**32")
        if block_size < 1:
            raise ValueError("block_size must be positive")
        self._threshold = threshold
        self._block = block_size
        self._used: dict[int, int] = {}
        self._reserved: dict[int, int] = {}
        self._lock = threading.Lock()

    def restore(self, version: int, reserved: int) -> None:
        """Seed ``version`` from its stored high-water mark (at unseal).

        Every reserved number counts as used: the process that reserved them
        may have used them all before it stopped.
        """
        if reserved < 0:
            raise ValueError("reserved must be non-negative")
        with self._lock:
            self._used[version] = max(self._used.get(version, 0), reserved)
            self._reserved[version] = max(self._reserved.get(version, 0), reserved)

    def plan(self, version: int, n: int = 1) -> int | None:
        """Return the high-water mark to store before ``n`` more encryptions, or None.

        None means the confirmed reservation already covers them. Raises
        KeyUnavailable when ``n`` more would pass the 2^32 hard limit.
        """
        if n < 0:
            raise ValueError("n must be non-negative")
        with self._lock:
            need = self._used.get(version, 0) + n
            if need > NIST_GCM_RANDOM_NONCE_LIMIT:
                raise KeyUnavailable(f"KEK version {version} reached its encryption limit")
            if need <= self._reserved.get(version, 0):
                return None
            return min(need + self._block - 1, NIST_GCM_RANDOM_NONCE_LIMIT)

    def confirm(self, version: int, high: int) -> None:
        """Record that ``high`` is now durably stored as the reservation for ``version``."""
        with self._lock:
            self._reserved[version] = max(self._reserved.get(version, 0), high)

    def consume(self, version: int, n: int = 1) -> None:
        """Count ``n`` encryptions; ``RuntimeError`` if no confirmed reservation covers them."""
        with self._lock:
            used = self._used.get(version, 0) + n
            if used > self._reserved.get(version, 0):
                raise RuntimeError("encryptions must be reserved durably before use")
            self._used[version] = used

    def used(self, version: int) -> int:
        """Encryptions counted for ``version`` (after a restart: at least the true number)."""
        return self._used.get(version, 0)

    def reserved(self, version: int) -> int:
        """The confirmed high-water mark for ``version``."""
        return self._reserved.get(version, 0)

    def must_rotate(self, version: int) -> bool:
        """True once ``version`` has reached the rotation threshold."""
        return self._used.get(version, 0) >= self._threshold
