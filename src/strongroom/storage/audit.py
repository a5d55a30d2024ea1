"""Persistence of the audit ledger: entries, Merkle nodes, checkpoints and the signing key.

The ledger's logic (hashing, proofs, checkpoint format) lives in
:mod:`strongroom.ledger`; this module only stores and fetches bytes. Entries
and complete-subtree node hashes are append-only: nothing here updates or
deletes them.

Example::

    >>> from sqlalchemy import create_engine
    >>> from strongroom.storage.schema import metadata
    >>> engine = create_engine("sqlite://")
    >>> metadata.create_all(engine)
    >>> with engine.begin() as conn:
    ...     repo = AuditRepository(conn)
    ...     repo.append(AuditRow(0, b"h" * 32, b"{}", 0.0, "e:x:y", "t", "p", "r", "allowed"), [])
    ...     repo.size()
    1
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from strongroom.storage import schema as s

__all__ = [
    "AuditKeyRecord",
    "AuditRepository",
    "AuditRow",
    "CheckpointRecord",
    "SearchQuery",
    "backfill_subject_column",
]

_E = s.audit_entries
_N = s.audit_nodes
# Lookups by (level, index) are batched; bound the statement size.
_NODE_CHUNK = 400


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One stored entry: its leaf index, leaf hash, canonical bytes and search copies."""

    seq: int
    leaf_hash: bytes
    entry: bytes = field(repr=False)
    time: float
    event: str
    tenant: str
    principal: str
    resource: str
    outcome: str
    subject: str | None = None
    """The data subject's audit pseudonym, if the entry names one."""


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    """A signed checkpoint as stored."""

    size: int
    root_hash: bytes
    note: bytes
    created_at: float


@dataclass(frozen=True, slots=True)
class AuditKeyRecord:
    """The checkpoint signing key: public half in clear, private half wrapped by the root key."""

    id: int
    name: str
    public_key: bytes
    wrapped_private: bytes = field(repr=False)
    created_at: float


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Filters of an auditor's search; ``None`` means "any"."""

    principal: str | None = None
    resource: str | None = None
    resource_prefix: bool = False
    event: str | None = None
    tenant: str | None = None
    outcome: str | None = None
    subject: str | None = None
    since: float | None = None
    until: float | None = None
    after_seq: int | None = None
    limit: int = 100


def _row(r: Sequence[object]) -> AuditRow:
    return AuditRow(
        seq=int(r[0]),  # type: ignore[call-overload]
        leaf_hash=bytes(r[1]),  # type: ignore[call-overload]
        entry=bytes(r[2]),  # type: ignore[call-overload]
        time=float(r[3]),  # type: ignore[arg-type]
        event=str(r[4]),
        tenant=str(r[5]),
        principal=str(r[6]),
        resource=str(r[7]),
        outcome=str(r[8]),
        subject=None if r[9] is None else str(r[9]),
    )


_COLUMNS = (
    _E.c.seq,
    _E.c.leaf_hash,
    _E.c.entry,
    _E.c.time,
    _E.c.event,
    _E.c.tenant_id,
    _E.c.principal,
    _E.c.resource,
    _E.c.outcome,
    _E.c.subject,
)


class AuditRepository:
    """Typed access to the ledger tables on one connection (one unit of work)."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    # -- entries and nodes -------------------------------------------------

    def append(self, row: AuditRow, nodes: Iterable[tuple[tuple[int, int], bytes]]) -> None:
        """Store one entry and the complete-subtree nodes its leaf completed.

        ``nodes`` may include the level-0 node; it is skipped, because the
        entry row already holds the leaf hash.
        """
        # The hot path of every request: straight to the driver (SQLAlchemy's
        # per-statement processing cost four times the insert itself).
        q = "?" if self._c.dialect.paramstyle == "qmark" else "%s"
        self._c.exec_driver_sql(
            f"INSERT INTO {_E.name} (seq, leaf_hash, entry, time, event, tenant_id, "  # noqa: S608
            f"principal, resource, outcome, subject) VALUES ({', '.join([q] * 10)})",
            (
                row.seq,
                row.leaf_hash,
                row.entry,
                row.time,
                row.event,
                row.tenant,
                row.principal,
                row.resource,
                row.outcome,
                row.subject,
            ),
        )
        upper = [(lv, ix, h) for (lv, ix), h in nodes if lv > 0]
        if upper:
            self._c.exec_driver_sql(
                f"INSERT INTO {_N.name} (level, idx, hash) VALUES ({q}, {q}, {q})",  # noqa: S608
                upper,
            )

    def size(self) -> int:
        """The number of entries (the tree size)."""
        n = self._c.execute(select(func.max(_E.c.seq))).scalar_one()
        return 0 if n is None else int(n) + 1

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Hashes of complete subtrees by ``(level, index)``; level 0 are leaf hashes.

        One statement per table. Upper nodes are matched as
        ``level = ? AND idx IN (…)`` per level, OR-ed together, so both SQLite
        and PostgreSQL answer each term from the primary key. (A row-value
        ``(level, idx) IN (VALUES …)`` made SQLite scan the whole table:
        130 ms per proof at a million entries.)
        """
        out: dict[tuple[int, int], bytes] = {}
        leaves = sorted({ix for lv, ix in keys if lv == 0})
        by_level: dict[int, list[int]] = {}
        for lv, ix in sorted(set(keys)):
            if lv > 0:
                by_level.setdefault(lv, []).append(ix)
        # Hand-written SQL on the driver: SQLAlchemy compiled a new statement
        # for every shape of key set (2.4 ms per proof, measured).
        q = "?" if self._c.dialect.paramstyle == "qmark" else "%s"
        # The DBAPI cursor of this connection (same transaction): SQLAlchemy's
        # result wrapping alone doubled the cost of a proof.
        cur = self._c.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for i in range(0, len(leaves), _NODE_CHUNK):
            chunk = leaves[i : i + _NODE_CHUNK]
            cur.execute(
                f"SELECT seq, leaf_hash FROM {_E.name} "  # noqa: S608 - names are ours
                f"WHERE seq IN ({', '.join([q] * len(chunk))})",
                tuple(chunk),
            )
            for seq, h in cur.fetchall():
                out[(0, int(seq))] = bytes(h)
        upper = [(lv, ix) for lv, ixs in by_level.items() for ix in ixs]
        if upper:
            # Join a VALUES list of keys to the table: both planners probe
            # the primary key once per key.
            values = ", ".join([f"({q}, {q})"] * len(upper))
            if self._c.dialect.name == "sqlite":
                sql = (
                    f"SELECT n.level, n.idx, n.hash FROM (VALUES {values}) AS k "  # noqa: S608
                    f"CROSS JOIN {_N.name} AS n WHERE n.level = k.column1 AND n.idx = k.column2"
                )
            else:
                sql = (
                    f"SELECT n.level, n.idx, n.hash FROM (VALUES {values}) AS k (l, i) "  # noqa: S608
                    f"JOIN {_N.name} AS n ON n.level = k.l AND n.idx = k.i"
                )
            cur.execute(sql, tuple(x for key in upper for x in key))
            for lv, ix, h in cur.fetchall():
                out[(int(lv), int(ix))] = bytes(h)
        return out

    def entries(self, start: int, end: int) -> list[AuditRow]:
        """Entries with ``start <= seq < end``, in order."""
        rows = self._c.execute(
            select(*_COLUMNS).where(and_(_E.c.seq >= start, _E.c.seq < end)).order_by(_E.c.seq)
        )
        return [_row(r) for r in rows]

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes with ``start <= seq < end``, in order (for rebuilding the tree)."""
        rows = self._c.execute(
            select(_E.c.leaf_hash).where(and_(_E.c.seq >= start, _E.c.seq < end)).order_by(_E.c.seq)
        )
        return [bytes(r[0]) for r in rows]

    def find_by_leaf_hash(self, leaf_hash: bytes) -> int | None:
        """The index of the entry with this leaf hash, if any."""
        seq = self._c.execute(
            select(_E.c.seq).where(_E.c.leaf_hash == leaf_hash).order_by(_E.c.seq).limit(1)
        ).scalar_one_or_none()
        return None if seq is None else int(seq)

    def search(self, q: SearchQuery) -> list[AuditRow]:
        """Entries matching every given filter, oldest first, at most ``q.limit``."""
        cond = []
        if q.principal is not None:
            cond.append(_E.c.principal == q.principal)
        if q.resource is not None:
            if q.resource_prefix:
                # A byte-wise range instead of LIKE, so no wildcard escaping
                # and the index applies (the column uses the "C" collation).
                cond.append(_E.c.resource >= q.resource)
                cond.append(_E.c.resource < q.resource + "\U0010ffff")
            else:
                cond.append(_E.c.resource == q.resource)
        if q.event is not None:
            cond.append(_E.c.event == q.event)
        if q.tenant is not None:
            cond.append(_E.c.tenant_id == q.tenant)
        if q.outcome is not None:
            cond.append(_E.c.outcome == q.outcome)
        if q.subject is not None:
            cond.append(_E.c.subject == q.subject)
        if q.since is not None:
            cond.append(_E.c.time >= q.since)
        if q.until is not None:
            cond.append(_E.c.time < q.until)
        if q.after_seq is not None:
            cond.append(_E.c.seq > q.after_seq)
        stmt = select(*_COLUMNS).order_by(_E.c.seq).limit(q.limit)
        if cond:
            stmt = stmt.where(and_(*cond))
        return [_row(r) for r in self._c.execute(stmt)]

    # -- checkpoints -------------------------------------------------------

    def add_checkpoint(self, cp: CheckpointRecord) -> None:
        """Store a signed checkpoint (one per tree size)."""
        self._c.execute(
            insert(s.audit_checkpoints).values(
                size=cp.size, root_hash=cp.root_hash, note=cp.note, created_at=cp.created_at
            )
        )

    def latest_checkpoint(self) -> CheckpointRecord | None:
        """The checkpoint of the largest tree size, if any."""
        c = s.audit_checkpoints
        r = self._c.execute(select(c).order_by(c.c.size.desc()).limit(1)).first()
        return None if r is None else CheckpointRecord(int(r[0]), bytes(r[1]), bytes(r[2]), r[3])

    def checkpoints(
        self, *, min_size: int = 0, max_size: int | None = None
    ) -> list[CheckpointRecord]:
        """Checkpoints with ``min_size <= size <= max_size``, smallest first."""
        c = s.audit_checkpoints
        stmt = select(c).where(c.c.size >= min_size).order_by(c.c.size)
        if max_size is not None:
            stmt = stmt.where(c.c.size <= max_size)
        return [
            CheckpointRecord(int(r[0]), bytes(r[1]), bytes(r[2]), r[3])
            for r in self._c.execute(stmt)
        ]

    # -- the signing key ---------------------------------------------------

    def signing_key(self) -> AuditKeyRecord | None:
        """The checkpoint signing key record, if one was made."""
        k = s.audit_keys
        r = self._c.execute(select(k).order_by(k.c.id.desc()).limit(1)).first()
        if r is None:
            return None
        return AuditKeyRecord(int(r[0]), str(r[1]), bytes(r[2]), bytes(r[3]), float(r[4]))

    def add_signing_key(self, rec: AuditKeyRecord) -> None:
        """Store the (wrapped) checkpoint signing key."""
        self._c.execute(
            insert(s.audit_keys).values(
                id=rec.id,
                name=rec.name,
                public_key=rec.public_key,
                wrapped_private=rec.wrapped_private,
                created_at=rec.created_at,
            )
        )


def backfill_subject_column(conn: Connection, *, batch: int = 5000) -> int:
    """Fill ``audit_entries.subject`` from the entry bytes where it is missing; return how many.

    For entries stored before the column existed (migration 0005, or a
    restore of an older snapshot). The entry bytes are the truth and are
    not touched.
    """
    after, filled = -1, 0
    while True:
        rows = conn.execute(
            select(_E.c.seq, _E.c.entry)
            .where(and_(_E.c.seq > after, _E.c.subject.is_(None)))
            .order_by(_E.c.seq)
            .limit(batch)
        ).all()
        if not rows:
            return filled
        found = []
        for seq, raw in rows:
            if b'"subject":' in bytes(raw):
                subject = json.loads(bytes(raw)).get("subject")
                if isinstance(subject, str):
                    found.append({"s": int(seq), "v": subject})
        if found:
            conn.execute(
                update(_E).where(_E.c.seq == bindparam("s")).values(subject=bindparam("v")),
                found,
            )
            filled += len(found)
        after = int(rows[-1][0])
