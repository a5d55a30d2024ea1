"""Persistence of data-subject rights: consents, retention rules and legal holds.

Plain typed access to three tables of :mod:`strongroom.storage.schema`; the
rules about them live in :mod:`strongroom.vault.consent` and
:mod:`strongroom.vault.retention`.

Example::

    >>> from sqlalchemy import create_engine
    >>> from strongroom.storage.schema import metadata
    >>> engine = create_engine("sqlite://")
    >>> metadata.create_all(engine)
    >>> with engine.connect() as conn:
    ...     ConsentRepository(conn).current("default", "sub_x", "care") is None
    True
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from strongroom.errors import LegalHold
from strongroom.storage import schema as s

__all__ = [
    "ConsentRecord",
    "ConsentRepository",
    "HoldRecord",
    "HoldRepository",
    "RetentionRecord",
    "RetentionRepository",
    "check_holds",
]


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One version of a subject's consent to one purpose."""

    tenant: str
    subject_id: str
    purpose: str
    version: int
    scope: str
    granted_at: float
    expires_at: float | None
    withdrawn_at: float | None
    evidence_ref: str
    recorded_at: float

    def valid_at(self, now: float) -> bool:
        """Granted, not withdrawn and not expired at ``now``."""
        return (
            self.withdrawn_at is None
            and self.granted_at <= now
            and (self.expires_at is None or now < self.expires_at)
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "subject": self.subject_id,
            "purpose": self.purpose,
            "version": self.version,
            "scope": self.scope,
            "granted_at": self.granted_at,
            "expires_at": self.expires_at,
            "withdrawn_at": self.withdrawn_at,
            "evidence_ref": self.evidence_ref,
            "recorded_at": self.recorded_at,
        }


def _consent(r: Any) -> ConsentRecord:
    return ConsentRecord(
        r.tenant_id,
        r.subject_id,
        r.purpose,
        int(r.version),
        r.scope,
        float(r.granted_at),
        r.expires_at,
        r.withdrawn_at,
        r.evidence_ref,
        float(r.recorded_at),
    )


class ConsentRepository:
    """Versioned consent records: each change is a new row, none is rewritten."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, rec: ConsentRecord) -> None:
        """Store a new version."""
        self._c.execute(
            insert(s.consents).values(
                tenant_id=rec.tenant,
                subject_id=rec.subject_id,
                purpose=rec.purpose,
                version=rec.version,
                scope=rec.scope,
                granted_at=rec.granted_at,
                expires_at=rec.expires_at,
                withdrawn_at=rec.withdrawn_at,
                evidence_ref=rec.evidence_ref,
                recorded_at=rec.recorded_at,
            )
        )

    def current(self, tenant: str, subject_id: str, purpose: str) -> ConsentRecord | None:
        """The newest version of the subject's consent to ``purpose``."""
        c = s.consents
        row = self._c.execute(
            select(c)
            .where(
                and_(c.c.tenant_id == tenant, c.c.subject_id == subject_id, c.c.purpose == purpose)
            )
            .order_by(c.c.version.desc())
            .limit(1)
        ).first()
        return None if row is None else _consent(row)

    def history(self, tenant: str, subject_id: str) -> builtins.list[ConsentRecord]:
        """Every version of every consent of the subject, by purpose then version."""
        c = s.consents
        rows = self._c.execute(
            select(c)
            .where(and_(c.c.tenant_id == tenant, c.c.subject_id == subject_id))
            .order_by(c.c.purpose, c.c.version)
        )
        return [_consent(r) for r in rows]

    def purposes(self, tenant: str | None = None) -> dict[str, int]:
        """Purpose → subjects with any consent record for it (for the records of processing)."""
        c = s.consents
        stmt = select(c.c.purpose, func.count(func.distinct(c.c.subject_id))).group_by(c.c.purpose)
        if tenant is not None:
            stmt = stmt.where(c.c.tenant_id == tenant)
        return {str(p): int(n) for p, n in self._c.execute(stmt)}


@dataclass(frozen=True, slots=True)
class RetentionRecord:
    """A retention rule: what to destroy or erase, where, after how long."""

    tenant: str
    name: str
    mount: str
    path_prefix: str
    action: str
    after_s: float
    purpose: str
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "name": self.name,
            "mount": self.mount,
            "path_prefix": self.path_prefix,
            "action": self.action,
            "after_s": self.after_s,
            "purpose": self.purpose,
            "created_at": self.created_at,
        }


class RetentionRepository:
    """Retention rules of each tenant."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def put(self, rec: RetentionRecord) -> bool:
        """Create or replace a rule; True if it was new."""
        r = s.retention_rules
        key = and_(r.c.tenant_id == rec.tenant, r.c.name == rec.name)
        existed = self._c.execute(select(r.c.name).where(key)).first() is not None
        values = {
            "mount": rec.mount,
            "path_prefix": rec.path_prefix,
            "action": rec.action,
            "after_s": rec.after_s,
            "purpose": rec.purpose,
        }
        if existed:
            self._c.execute(update(r).where(key).values(**values))
        else:
            self._c.execute(
                insert(r).values(
                    tenant_id=rec.tenant, name=rec.name, created_at=rec.created_at, **values
                )
            )
        return not existed

    def delete(self, tenant: str, name: str) -> bool:
        """Remove a rule; False if there was none."""
        r = s.retention_rules
        n = self._c.execute(delete(r).where(and_(r.c.tenant_id == tenant, r.c.name == name)))
        return bool(n.rowcount)

    def list(self, tenant: str | None = None) -> builtins.list[RetentionRecord]:
        """Rules of ``tenant`` (every tenant's if None), by tenant and name."""
        r = s.retention_rules
        stmt = select(r).order_by(r.c.tenant_id, r.c.name)
        if tenant is not None:
            stmt = stmt.where(r.c.tenant_id == tenant)
        return [
            RetentionRecord(
                x.tenant_id,
                x.name,
                x.mount,
                x.path_prefix,
                x.action,
                float(x.after_s),
                x.purpose,
                float(x.created_at),
            )
            for x in self._c.execute(stmt)
        ]


@dataclass(frozen=True, slots=True)
class HoldRecord:
    """A legal hold on one subject, or on a mount's records under a path prefix."""

    tenant: str
    id: str
    subject_id: str | None
    mount: str | None
    path_prefix: str
    reason: str
    created_at: float
    released_at: float | None

    def covers(self, mount: str, path: str) -> bool:
        """True when this (active) hold covers record ``mount/path``."""
        return self.mount == mount and path.startswith(self.path_prefix)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "id": self.id,
            "subject": self.subject_id,
            "mount": self.mount,
            "path_prefix": self.path_prefix,
            "reason": self.reason,
            "created_at": self.created_at,
            "released_at": self.released_at,
        }


def _hold(x: Any) -> HoldRecord:
    return HoldRecord(
        x.tenant_id,
        x.id,
        x.subject_id,
        x.mount,
        x.path_prefix,
        x.reason,
        float(x.created_at),
        x.released_at,
    )


class HoldRepository:
    """Legal holds: created, listed, released (never deleted)."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, rec: HoldRecord) -> None:
        """Store a new hold."""
        self._c.execute(
            insert(s.legal_holds).values(
                tenant_id=rec.tenant,
                id=rec.id,
                subject_id=rec.subject_id,
                mount=rec.mount,
                path_prefix=rec.path_prefix,
                reason=rec.reason,
                created_at=rec.created_at,
                released_at=None,
            )
        )

    def release(self, tenant: str, hold_id: str, *, now: float) -> bool:
        """Release an active hold; False if there is no such active hold."""
        h = s.legal_holds
        n = self._c.execute(
            update(h)
            .where(and_(h.c.tenant_id == tenant, h.c.id == hold_id, h.c.released_at.is_(None)))
            .values(released_at=now)
        )
        return bool(n.rowcount)

    def get(self, tenant: str, hold_id: str) -> HoldRecord | None:
        """One hold of ``tenant``."""
        h = s.legal_holds
        row = self._c.execute(
            select(h).where(and_(h.c.tenant_id == tenant, h.c.id == hold_id))
        ).first()
        return None if row is None else _hold(row)

    def list(
        self, tenant: str | None = None, *, active_only: bool = False
    ) -> builtins.list[HoldRecord]:
        """Holds of ``tenant`` (every tenant's if None), oldest first."""
        h = s.legal_holds
        cond = []
        if tenant is not None:
            cond.append(h.c.tenant_id == tenant)
        if active_only:
            cond.append(h.c.released_at.is_(None))
        stmt = select(h).order_by(h.c.created_at, h.c.id)
        if cond:
            stmt = stmt.where(and_(*cond))
        return [_hold(x) for x in self._c.execute(stmt)]

    def check_mount(self, tenant: str, mount: str) -> None:
        """LegalHold if an active hold covers any record of ``mount`` (on it, or on a subject
        with records there)."""
        h, kv, md = s.legal_holds, s.kv_versions, s.kv_metadata
        subject_here = (
            select(kv.c.subject_id)
            .select_from(kv.join(md, kv.c.metadata_id == md.c.id))
            .where(and_(md.c.tenant_id == tenant, md.c.mount == mount))
        )
        found = self._c.execute(
            select(h.c.id)
            .where(
                and_(
                    h.c.tenant_id == tenant,
                    h.c.released_at.is_(None),
                    or_(h.c.mount == mount, h.c.subject_id.in_(subject_here)),
                )
            )
            .limit(1)
        ).scalar_one_or_none()
        if found is not None:
            raise LegalHold(f"legal hold {found} covers records of this mount", hold=found)

    def active_for_subject(self, tenant: str, subject_id: str) -> builtins.list[HoldRecord]:
        """Active holds that forbid erasing the subject: on it, or on records of it."""
        h, kv, md = s.legal_holds, s.kv_versions, s.kv_metadata
        # Holds on the subject itself, and holds whose mount/prefix covers any
        # of the subject's records.
        on_records = (
            select(md.c.id)
            .select_from(md.join(kv, kv.c.metadata_id == md.c.id))
            .where(
                and_(
                    kv.c.subject_id == subject_id,
                    md.c.tenant_id == tenant,
                    md.c.mount == h.c.mount,
                    func.substr(md.c.path, 1, func.length(h.c.path_prefix)) == h.c.path_prefix,
                )
            )
            .exists()
        )
        stmt = select(h).where(
            and_(
                h.c.tenant_id == tenant,
                h.c.released_at.is_(None),
                or_(h.c.subject_id == subject_id, and_(h.c.mount.is_not(None), on_records)),
            )
        )
        return [_hold(x) for x in self._c.execute(stmt)]


def check_holds(
    conn: Connection,
    tenant: str,
    *,
    mount: str | None = None,
    path: str | None = None,
    subjects: Iterable[str] = (),
) -> None:
    """Raise LegalHold if an active hold covers record ``mount/path`` or any of ``subjects``."""
    wanted = set(subjects)
    for h in HoldRepository(conn).list(tenant, active_only=True):
        if (h.subject_id is not None and h.subject_id in wanted) or (
            mount is not None and path is not None and h.covers(mount, path)
        ):
            raise LegalHold(f"legal hold {h.id} forbids destroying this data", hold=h.id)
