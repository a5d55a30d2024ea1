"""KEK rotation, rewrap, retirement and usage accounting.

New writes use the newest KEK version; older versions keep decrypting until
retired. ``rewrap`` moves every DEK and subject key still on an older version
to the current one in resumable, idempotent batches (each batch re-reads what
is still stale and updates only rows still on their old version, so running
it twice, or beside live writers, is safe). ``retire`` proves by query that
nothing references a version before destroying its wrapped key.

Encryptions are counted per KEK version in the same transaction as the
ciphertexts, and the vault rotates by itself before the configured threshold
(NIST SP 800-38D §8.3 limits random-nonce GCM to 2^32 invocations per key).

Example::

    >>> RewrapProgress(rewrapped=10, remaining=0).done
    True
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from strongroom.crypto import KEK, rewrap_many
from strongroom.errors import Conflict, InvalidInput, KeyUnavailable
from strongroom.observability.metrics import CRYPTO_OPERATIONS
from strongroom.storage.repositories import KeyRepository
from strongroom.storage.writer import WriteTx
from strongroom.vault.principal import Principal

if TYPE_CHECKING:
    from strongroom.vault.service import Vault

__all__ = ["KeyService", "KeyVersionStatus", "RewrapProgress"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KeyVersionStatus:
    """One KEK version and what depends on it."""

    version: int
    current: bool
    retired: bool
    created_at: float
    encryptions: int
    records: int
    subjects: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "version": self.version,
            "current": self.current,
            "retired": self.retired,
            "created_time": self.created_at,
            "encryptions": self.encryptions,
            "records": self.records,
            "subjects": self.subjects,
        }


@dataclass(frozen=True, slots=True)
class RewrapProgress:
    """Result of one or more rewrap batches."""

    rewrapped: int
    remaining: int

    @property
    def done(self) -> bool:
        """True when nothing is left on an older version."""
        return self.remaining == 0


class KeyService:
    """Keyring operations for one :class:`Vault`."""

    def __init__(self, vault: Vault, clock: Callable[[], float] = time.time) -> None:
        self._v = vault
        self._clock = clock
        self._counts: dict[int, int] = {}
        self._lock = threading.Lock()
        self._auto_rotating = False

    # -- accounting -----------------------------------------------------

    def load_counts(self, counts: dict[int, int]) -> None:
        """Seed the in-memory counters from storage (at unseal)."""
        with self._lock:
            self._counts = dict(counts)

    def flush_counts(self, conn: Connection, counts: dict[Any, int]) -> Callable[[], None] | None:
        """Writer hook: persist a batch's encryption counts in its own transaction."""
        per_kek = {key[1]: n for key, n in counts.items() if key[0] == "kek"}
        if not per_kek:
            return None
        KeyRepository(conn).add_encryptions(per_kek)

        def durable() -> None:
            for version, n in per_kek.items():
                self.note_encryptions(version, n)

        return durable

    def note_encryptions(self, version: int, n: int) -> None:
        """Record ``n`` committed encryptions; rotate when the threshold is reached."""
        with self._lock:
            total = self._counts.get(version, 0) + n
            self._counts[version] = total
            keyring = self._v.seal.keyring()
            trigger = (
                total >= self._v.settings.kek_rotate_after
                and version == keyring.current
                and not self._auto_rotating
            )
            if trigger:
                self._auto_rotating = True
        if trigger:
            # Queue the rotation behind the current batch; never block the writer.
            fut = self._v.db.writer.submit(self._rotate_op)
            fut.add_done_callback(lambda _f: self._auto_rotation_done())

    def _auto_rotation_done(self) -> None:
        with self._lock:
            self._auto_rotating = False

    # -- operations -----------------------------------------------------

    def status(self, principal: Principal) -> list[KeyVersionStatus]:
        """Every KEK version with its usage and dependents."""
        principal.require_operator()
        keyring = self._v.seal.keyring()
        with self._v.db.read() as conn:
            repo = KeyRepository(conn)
            versions = repo.list_versions()
            deps = repo.dependents()
        return [
            KeyVersionStatus(
                version=r.version,
                current=r.version == keyring.current,
                retired=r.retired_at is not None,
                created_at=r.created_at,
                encryptions=r.encryptions,
                records=deps.get(r.version, {}).get("records", 0),
                subjects=deps.get(r.version, {}).get("subjects", 0),
            )
            for r in versions
        ]

    def rotate(self, principal: Principal) -> int:
        """Add a KEK version that every new write uses; returns its number."""
        principal.require_operator()
        return self._v.db.write(self._rotate_op)

    def _rotate_op(self, tx: WriteTx) -> int:
        root = self._v.seal.root()
        repo = KeyRepository(tx.conn)
        versions = repo.list_versions()
        new_version = (versions[-1].version if versions else 0) + 1
        kek = KEK.generate(version=new_version)
        repo.add(new_version, root.wrap_kek(kek), now=self._clock())
        keyring = self._v.seal.keyring()
        tx.after_commit(lambda: keyring.add(kek, current=True))
        log.info("kek rotated", extra={"kek_version": new_version})
        return new_version

    def rewrap_batch(self, principal: Principal, *, batch_size: int = 10_000) -> RewrapProgress:
        """Re-wrap one batch of stale keys under the current KEK version."""
        principal.require_operator()
        if batch_size < 1 or batch_size > 100_000:
            raise InvalidInput("batch_size must be between 1 and 100000")
        return self._v.db.write(lambda tx: self._rewrap_op(tx, batch_size))

    def rewrap_all(
        self,
        principal: Principal,
        *,
        batch_size: int = 10_000,
        progress: Callable[[RewrapProgress], None] | None = None,
    ) -> RewrapProgress:
        """Run batches until nothing is stale (in-process callers and benchmarks)."""
        total = 0
        while True:
            p = self.rewrap_batch(principal, batch_size=batch_size)
            total += p.rewrapped
            if progress is not None:
                progress(p)
            if p.done or p.rewrapped == 0:
                return RewrapProgress(rewrapped=total, remaining=p.remaining)

    def _rewrap_op(self, tx: WriteTx, batch_size: int) -> RewrapProgress:
        keyring = self._v.seal.keyring()
        current = keyring.current_kek
        repo = KeyRepository(tx.conn)
        done, fetched = repo.rewrap_stale(
            current=current.version,
            limit=batch_size,
            rewrap=lambda blobs: rewrap_many(blobs, keyring),
        )
        if done:
            tx.count(("kek", current.version), done)
            CRYPTO_OPERATIONS.labels(operation="rewrap").inc(done)
        # A short batch took every stale key there was (new writes always use
        # the current version, and rotation runs on this same writer thread),
        # so the count is only paid while work remains.
        remaining = 0 if fetched < batch_size else repo.count_stale(current=current.version)
        return RewrapProgress(rewrapped=done, remaining=remaining)

    def retire(self, principal: Principal, version: int) -> None:
        """Destroy a KEK version; refused while anything still depends on it."""
        principal.require_operator()

        def op(tx: WriteTx) -> None:
            keyring = self._v.seal.keyring()
            repo = KeyRepository(tx.conn)
            known = {r.version: r for r in repo.list_versions()}
            if version not in known:
                raise KeyUnavailable(f"there is no KEK version {version}")
            if known[version].retired_at is not None:
                raise KeyUnavailable(f"KEK version {version} is already retired")
            if version == keyring.current:
                raise Conflict("the current KEK version cannot be retired; rotate first")
            n = repo.count_dependents(version)
            if n:
                raise Conflict(
                    f"KEK version {version} still wraps {n} keys; run keys rewrap first",
                    dependents=n,
                )
            repo.retire(version, now=self._clock())
            tx.after_commit(lambda: keyring.retire(version))

        self._v.db.write(op)
