"""The audit log service: every request becomes a leaf of the RFC 9162 Merkle log.

How an entry gets written (ARCHITECTURE.md §2 and §5):

1. The API opens an :class:`AuditScope` per request (request id, keyed hash
   of the client address) and fills in the event, resource and principal once
   the route and token are known.
2. A *write* made while a scope is open carries the scope's entry in the same
   unit of work: :meth:`AuditLog.wrap_write` wraps every ``Database.write``
   op, so the record and its entry commit, or roll back, together.
3. A *read* of record plaintext commits its entry (durably) before the
   plaintext is returned (:meth:`AuditLog.commit_scope`), and the API holds
   every response until its entry is durable; if the entry cannot be written
   the caller gets 503 and nothing else (fail-closed).
4. A request that ended without an entry (denied, malformed, failed) gets one
   appended by the API before its response leaves.

The Merkle frontier (the tree's right edge) is kept in memory and moved
only by the single writer thread; savepoint rollbacks restore it through
``WriteTx.on_rollback``. A checkpointer thread signs a C2SP checkpoint within
a second of any new entry while the vault is unsealed.

Example::

    >>> scope = AuditScope(request_id="r1")
    >>> scope.set_event(Event.KV_RECORD_READ, resource="secret/app/db")
    >>> scope.event
    <Event.KV_RECORD_READ: 'kv:record:read'>
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from strongroom.crypto import (
    BlindIndex,
    RootKey,
    SigningKey,
    VerifyKey,
    generate_accessor,
    seal_signing_key,
    unseal_signing_key,
)
from strongroom.errors import (
    AuditUnavailable,
    IntegrityViolation,
    InvalidInput,
    NotFound,
    StrongroomError,
)
from strongroom.ledger.checkpoint import Checkpoint, sign_checkpoint, verifier_key_string
from strongroom.ledger.entry import AuditEvent, Event, Outcome
from strongroom.ledger.merkle import (
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_at,
)
from strongroom.observability.metrics import AUDIT_FAILURES, VAULT_OPERATIONS
from strongroom.observability.tracing import span
from strongroom.storage.audit import (
    AuditKeyRecord,
    AuditRepository,
    AuditRow,
    CheckpointRecord,
    SearchQuery,
)
from strongroom.storage.journal import has_restore_note, take_restore_note
from strongroom.storage.writer import WriteTx
from strongroom.vault.audit_scope import (
    AuditScope,
    Receipt,
    current_scope,
    note,
    open_scope,
    outcome_of,
)
from strongroom.vault.audit_sinks import SinkPump, sinks_from_settings
from strongroom.vault.principal import SYSTEM_TENANT

if TYPE_CHECKING:
    from strongroom.vault.principal import Principal
    from strongroom.vault.service import Vault

__all__ = [
    "AuditLog",
    "AuditScope",
    "Receipt",
    "audited",
    "current_scope",
    "note",
    "open_scope",
    "outcome_of",
]

log = logging.getLogger("strongroom.audit")

T = TypeVar("T")

_CHECKPOINT_POLL_S = 0.2
_MAX_RANGE = 1000


P = ParamSpec("P")


def audited(
    event: Event,
) -> Callable[
    [Callable[Concatenate[Any, Principal, str, str, P], T]],
    Callable[Concatenate[Any, Principal, str, str, P], T],
]:
    """Audit a record operation ``(self, principal, mount, path, ...)`` of a vault service.

    Over HTTP the request's scope is used; called in process (a domain app),
    the operation gets a scope and an entry of its own, so every record
    operation is in the log whichever way it is reached.
    """

    name = f"vault {event}"

    def decorate(
        fn: Callable[Concatenate[Any, Principal, str, str, P], T],
    ) -> Callable[Concatenate[Any, Principal, str, str, P], T]:
        def wrapper(
            self: Any, principal: Principal, mount: str, path: str, /, *a: P.args, **k: P.kwargs
        ) -> T:
            with (
                span(name, **{"strongroom.event": str(event)}),
                self._v.audit.operation(event, principal=principal, resource=f"{mount}/{path}"),
            ):
                return fn(self, principal, mount, path, *a, **k)

        functools.update_wrapper(wrapper, fn)
        return wrapper

    return decorate


class AuditLog:
    """Appends entries, maintains the Merkle frontier, signs checkpoints, serves proofs."""

    def __init__(self, vault: Vault, clock: Callable[[], float] = time.time) -> None:
        self._v = vault
        self._clock = clock
        self._pending = Frontier()
        self._committed = Frontier()
        self._state_lock = threading.Lock()
        # One signer at a time: the checkpointer thread and an explicit
        # checkpoint_now() would otherwise both sign and store the same size.
        self._checkpoint_lock = threading.Lock()
        self._client_index: BlindIndex | None = None
        self._network_index: BlindIndex | None = None
        self._listeners: list[Callable[[bytes], None]] = []
        self._signer: SigningKey | None = None
        self._verifier: VerifyKey | None = None
        self._origin: str | None = None
        self._last_checkpoint = -1
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._sinks: SinkPump | None = None

    # -- lifecycle ----------------------------------------------------------

    def open(self) -> None:
        """Load the frontier and check it against the newest signed checkpoint."""
        db = self._v.db
        with db.read() as conn:
            repo = AuditRepository(conn)
            size = repo.size()
            frontier = Frontier.load(repo, size)
            latest = repo.latest_checkpoint()
            key = repo.signing_key()
            # A cheap start-up check (O(log n) reads): the stored tree must
            # still reach the newest signed checkpoint and hash to its root.
            # It catches truncation and rewritten peaks; `audit verify`
            # re-hashes every entry.
            if latest is not None and (
                latest.size > size or root_at(repo, latest.size) != latest.root_hash
            ):
                raise IntegrityViolation(
                    "the audit log does not match its latest signed checkpoint",
                    checkpoint_size=latest.size,
                    stored_size=size,
                )
        self._pending = self._committed = frontier
        self._last_checkpoint = -1 if latest is None else latest.size
        if key is not None:
            self._origin = key.name
            self._verifier = VerifyKey.from_bytes(key.public_key)
        db.write_hook = self.wrap_write
        settings = self._v.settings
        self._sinks = sinks_from_settings(settings.audit_jsonl, settings.audit_syslog)

    def close(self) -> None:
        """Stop the checkpointer (after a last checkpoint) and drop the keys."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        if self._sinks is not None:
            self._sinks.close()
            self._sinks = None
        self.on_seal()

    def on_unseal(self, root: RootKey) -> None:
        """Unwrap (or create) the checkpoint signing key and start the checkpointer."""
        self._client_index = BlindIndex(root.derive("ip-hmac"), field="client-address")
        self._network_index = BlindIndex(root.derive("ip-hmac"), field="client-network")
        with self._v.db.read() as conn:
            rec = AuditRepository(conn).signing_key()
        if rec is None:
            origin = self._v.settings.audit_origin or (
                f"strongroom.local/{generate_accessor().removeprefix('acc_')[:10].lower()}/audit/v1"
            )
            signer = SigningKey.generate()
            rec = AuditKeyRecord(
                id=1,
                name=origin,
                public_key=signer.public_key().raw,
                wrapped_private=seal_signing_key(root, signer, name=origin),
                created_at=self._clock(),
            )
            self._v.db.write(lambda tx: AuditRepository(tx.conn).add_signing_key(rec))
        else:
            signer = unseal_signing_key(root, rec.wrapped_private, name=rec.name)
        self._origin = rec.name
        self._verifier = VerifyKey.from_bytes(rec.public_key)
        self._signer = signer
        self._log_restore()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._checkpointer, name="strongroom-checkpointer", daemon=True
            )
            self._thread.start()
        self._wake.set()

    def _log_restore(self) -> None:
        """Append what an offline restore did (it cannot sign); the entry is the record of it.

        A restore of old data keeps the whole log, so without this entry the
        log would tell of writes the restored vault no longer holds.
        """
        with self._v.db.read() as conn:
            pending = has_restore_note(conn)
        if not pending:
            return

        def op(tx: WriteTx) -> None:
            note = take_restore_note(tx.conn)
            if note is not None:
                self.append_in(
                    tx,
                    AuditEvent(
                        event=Event.SYS_BACKUP_RESTORE,
                        principal="system",
                        tenant=SYSTEM_TENANT,
                        resource="sys/backups",
                        outcome=Outcome.ALLOWED,
                        request_id=f"restore-{generate_accessor()[4:20]}",
                        details=note,
                    ),
                )

        self._v.db.writer.call(op)

    def on_seal(self) -> None:
        """Forget the keys; checkpoints pause until the next unseal."""
        self._client_index = None
        self._network_index = None
        self._signer = None

    # -- scopes -------------------------------------------------------------

    def client_ref(self, address: str | None) -> str | None:
        """A keyed hash of a client address (None while sealed or unknown)."""
        index = self._client_index
        if index is None or not address:
            return None
        return index.compute(address).hex()[:32]

    def network_ref(self, address: str | None) -> str | None:
        """A keyed hash of the client's network (/24 or /48), for "new network" detection.

        The network is hashed separately from the address, so neither hash
        reveals the other and the log still holds no address.
        """
        index = self._network_index
        if index is None or not address:
            return None
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        prefix = 24 if ip.version == 4 else 48
        net = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
        return index.compute(str(net)).hex()[:32]

    def subscribe(self, listener: Callable[[bytes], None]) -> None:
        """Call ``listener`` with each entry's bytes once durable (it must not block)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[bytes], None]) -> None:
        """Stop calling ``listener``."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    @contextmanager
    def operation(
        self, event: Event, *, principal: Principal | None, resource: str
    ) -> Iterator[AuditScope]:
        """Audit an in-process operation (no HTTP request) like a request.

        Inside an HTTP request this only names the event if the API did not;
        outside one it opens a scope, and if the block fails, appends the
        denied or error entry before the exception propagates.
        """
        scope = current_scope()
        if scope is not None:
            if scope.event is None:
                scope.set_event(event, resource=resource)
            yield scope
            return
        scope = AuditScope(request_id=f"local-{generate_accessor()[:16]}")
        scope.set_event(event, resource=resource)
        if principal is not None:
            scope.set_principal(principal)
        with open_scope(scope):
            try:
                yield scope
            except BaseException as exc:
                if scope.receipt is None:
                    outcome, reason = outcome_of(exc)
                    self.commit(scope.to_event(outcome, reason=reason))
                raise
            if scope.receipt is None:
                self.commit_scope(scope)

    # -- appending ----------------------------------------------------------

    def wrap_write(self, op: Callable[[WriteTx], T]) -> Callable[[WriteTx], T]:
        """Make ``op`` carry the current scope's entry in its own transaction.

        Called in the requesting thread (where the scope is visible); the
        returned function runs on the writer thread. Only the first write of
        a scope carries the entry, so a request has exactly one.
        """
        scope = current_scope()
        if scope is None or scope.receipt is not None:
            return op

        def audited(tx: WriteTx) -> T:
            saved = dict(scope.details)
            try:
                with open_scope(scope):
                    result = op(tx)
            except BaseException:
                # Facts noted by an operation that rolled back did not happen.
                scope.details = saved
                raise
            if scope.receipt is None:
                receipt = self.append_in(tx, scope.to_event(Outcome.ALLOWED))
                scope.receipt = receipt
                tx.on_rollback(lambda: setattr(scope, "receipt", None))
            return result

        return audited

    def append_in(self, tx: WriteTx, event: AuditEvent) -> Receipt:
        """Append ``event`` inside ``tx`` (writer thread only); undone if ``tx`` rolls back."""
        before = self._pending
        seq = before.size
        raw = event.canonical(seq=seq, time_ns=time.time_ns())
        lh = leaf_hash(raw)
        after, nodes = before.append(lh)
        AuditRepository(tx.conn).append(
            AuditRow(
                seq=seq,
                leaf_hash=lh,
                entry=raw,
                time=self._clock(),
                event=str(event.event),
                tenant=event.tenant,
                principal=event.principal,
                resource=event.resource,
                outcome=str(event.outcome),
                subject=event.subject,
            ),
            nodes,
        )
        self._pending = after

        def undo() -> None:
            self._pending = before

        def durable() -> None:
            VAULT_OPERATIONS.labels(event=str(event.event), outcome=str(event.outcome)).inc()
            with self._state_lock:
                if after.size > self._committed.size:
                    self._committed = after
            if self._sinks is not None:
                self._sinks.put(raw)
            for listener in self._listeners:
                listener(raw)

        tx.on_rollback(undo)
        tx.after_commit(durable)
        return Receipt(seq, lh)

    def commit(self, event: AuditEvent) -> Receipt:
        """Append ``event`` in its own unit of work and wait until it is durable.

        Raises :class:`~strongroom.errors.AuditUnavailable` if it cannot be
        written: callers must then return nothing.
        """
        try:
            with span("ledger append", **{"strongroom.event": str(event.event)}):
                return self._v.db.writer.call(lambda tx: self.append_in(tx, event))
        except StrongroomError as exc:
            AUDIT_FAILURES.inc()
            raise AuditUnavailable("the audit entry could not be written") from exc

    async def acommit(self, event: AuditEvent) -> Receipt:
        """Async form of :meth:`commit`."""
        try:
            with span("ledger append", **{"strongroom.event": str(event.event)}):
                return await self._v.db.writer.run(lambda tx: self.append_in(tx, event))
        except StrongroomError as exc:
            AUDIT_FAILURES.inc()
            raise AuditUnavailable("the audit entry could not be written") from exc

    def commit_scope(self, scope: AuditScope, outcome: Outcome = Outcome.ALLOWED) -> Receipt:
        """Commit the scope's entry now unless it already has one (reads call this)."""
        if scope.receipt is None:
            scope.receipt = self.commit(scope.to_event(outcome))
        return scope.receipt

    # -- checkpoints --------------------------------------------------------

    @property
    def origin(self) -> str | None:
        """The log's origin line and key name, once the signing key exists."""
        return self._origin

    def verifier_key(self) -> str:
        """The signed-note verifier key string of the log (``name+id+key``)."""
        if self._origin is None or self._verifier is None:
            raise NotFound("the audit log has no signing key yet; unseal the vault first")
        return verifier_key_string(self._origin, self._verifier)

    def public_key(self) -> bytes:
        """The raw Ed25519 public key of the log."""
        if self._verifier is None:
            raise NotFound("the audit log has no signing key yet; unseal the vault first")
        return self._verifier.raw

    def size(self) -> int:
        """The number of durable entries."""
        return self._committed.size

    def checkpoint_now(self) -> CheckpointRecord | None:
        """Sign and store a checkpoint of the committed tree if it grew (None if not)."""
        with self._checkpoint_lock:
            signer, origin = self._signer, self._origin
            if signer is None or origin is None:
                return None
            with self._state_lock:
                frontier = self._committed
            if frontier.size <= self._last_checkpoint:
                return None
            cp = Checkpoint(origin, frontier.size, frontier.root())
            trace = span("ledger checkpoint", **{"strongroom.ledger.size": frontier.size})
            rec = CheckpointRecord(
                size=cp.size,
                root_hash=cp.root_hash,
                note=sign_checkpoint(cp, key=signer, name=origin),
                created_at=self._clock(),
            )
            with trace:
                self._v.db.writer.call(lambda tx: AuditRepository(tx.conn).add_checkpoint(rec))
            self._last_checkpoint = rec.size
            return rec

    def _checkpointer(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(_CHECKPOINT_POLL_S)
            self._wake.clear()
            try:
                self.checkpoint_now()
            except Exception:
                log.exception("checkpoint failed; will retry")
        try:
            self.checkpoint_now()
        except Exception:
            log.exception("final checkpoint failed")

    def latest_checkpoint(self) -> CheckpointRecord:
        """The newest signed checkpoint; NotFound before the first one."""
        with self._v.db.read() as conn:
            cp = AuditRepository(conn).latest_checkpoint()
        if cp is None:
            raise NotFound("no checkpoint has been signed yet")
        return cp

    def checkpoints(
        self, *, min_size: int = 0, max_size: int | None = None
    ) -> list[CheckpointRecord]:
        """Stored checkpoints in a size range, smallest first."""
        with self._v.db.read() as conn:
            return AuditRepository(conn).checkpoints(min_size=min_size, max_size=max_size)

    # -- reading the log ----------------------------------------------------

    def entries(self, start: int, end: int) -> list[AuditRow]:
        """Entries ``start <= index < end`` (at most 1000, and only durable ones)."""
        size = self.size()
        if start < 0 or end <= start:
            raise InvalidInput("need 0 <= start < end")
        end = min(end, start + _MAX_RANGE, size)
        if start >= size:
            return []
        with self._v.db.read() as conn:
            return AuditRepository(conn).entries(start, end)

    def _tree_size(self, size: int | None) -> int:
        current = self.size()
        if size is None:
            return current
        if size < 1 or size > current:
            raise InvalidInput(f"size must be between 1 and the tree size ({current})")
        return size

    def inclusion(self, *, index: int, size: int | None = None) -> tuple[int, int, list[bytes]]:
        """RFC 9162 §2.1.3.1 inclusion proof of leaf ``index`` in the tree of ``size``."""
        n = self._tree_size(size)
        if not 0 <= index < n:
            raise InvalidInput("index must be below the tree size")
        with self._v.db.read() as conn:
            return index, n, inclusion_proof(AuditRepository(conn), index=index, size=n)

    def inclusion_by_hash(
        self, lh: bytes, *, size: int | None = None
    ) -> tuple[int, int, list[bytes]]:
        """Inclusion proof of the entry whose leaf hash is ``lh``."""
        n = self._tree_size(size)
        with self._v.db.read() as conn:
            index = AuditRepository(conn).find_by_leaf_hash(lh)
        if index is None or index >= n:
            raise NotFound("no entry with that leaf hash in a tree of that size")
        return self.inclusion(index=index, size=n)

    def consistency(self, *, first: int, second: int | None = None) -> tuple[int, int, list[bytes]]:
        """RFC 9162 §2.1.4.1 consistency proof between two tree sizes."""
        n = self._tree_size(second)
        if not 0 < first <= n:
            raise InvalidInput("need 0 < first <= second")
        with self._v.db.read() as conn:
            return first, n, consistency_proof(AuditRepository(conn), first=first, second=n)

    def search(self, q: SearchQuery) -> list[AuditRow]:
        """Entries matching an auditor's filters (oldest first)."""
        if not 1 <= q.limit <= _MAX_RANGE:
            raise InvalidInput(f"limit must be between 1 and {_MAX_RANGE}")
        with self._v.db.read() as conn:
            return AuditRepository(conn).search(q)
