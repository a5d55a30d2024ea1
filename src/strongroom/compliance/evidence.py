"""Gather the live facts of one vault for a compliance report, once, in one read snapshot.

Read-only: settings, the seal, the keyring, tokens, records and subjects
(counted with SQLAlchemy Core over the storage engine), and the audit log,
verified on the spot (:mod:`strongroom.compliance.verification`). The API's
routes are handed in by the caller, which knows the running app.

Example::

    >>> import pathlib, tempfile
    >>> from strongroom.config import Settings
    >>> from strongroom.vault import Vault
    >>> v = Vault(Settings(data_dir=pathlib.Path(tempfile.mkdtemp()), dev=True))
    >>> v.open()  # doctest: +ELLIPSIS
    >>> facts = gather(v, routes=())
    >>> facts.seal.kind, facts.keys.current.version
    ('dev', 1)
    >>> v.close()
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from strongroom.compliance.facts import (
    ActivityFacts,
    AlertFacts,
    BackupFacts,
    Facts,
    KeyFacts,
    KeyVersion,
    ListenerFacts,
    PrivilegedToken,
    RecordFacts,
    RetentionFacts,
    Route,
    SealFacts,
    SubjectFacts,
    TokenFacts,
)
from strongroom.compliance.sox import CHANGE_EVENTS
from strongroom.compliance.verification import verify_stored_log
from strongroom.config import Settings
from strongroom.storage import schema as s
from strongroom.storage.repositories import KeyRepository
from strongroom.storage.rights import HoldRepository, RetentionRepository
from strongroom.vault import Vault
from strongroom.vault.policy import PolicyDocument

__all__ = ["gather"]

_E = s.audit_entries
_ALERT_RAISE = "monitor:alert:raise"
_ALERT_ACK = "monitor:alert:ack"
_BACKUP = "sys:backup:create"
_RESTORE = "sys:backup:restore"
_RETENTION = "sys:retention:apply"
# Initialisation happens before any identity exists, so it is the one change
# that may name no principal.
_ANONYMOUS_OK = frozenset({"sys:seal:init"})
_NOBODY = ("", "anonymous")
_LIST_MAX = 200


def gather(
    vault: Vault,
    *,
    routes: Sequence[Route],
    now: float | None = None,
    request_scheme: str | None = None,
) -> Facts:
    """Every fact a report needs, from ``vault`` at ``now`` (default: the vault's clock)."""
    at = vault.clock() if now is None else now
    cfg = vault.seal_config()
    seal = SealFacts(
        kind=None if cfg is None else cfg.kind,
        shares=0 if cfg is None else cfg.shares,
        threshold=0 if cfg is None else cfg.threshold,
        state=str(vault.state().value),
        created_at=None if cfg is None else cfg.created_at,
    )
    with vault.db.snapshot_read() as conn:
        keys = _keys(conn)
        tokens = _tokens(conn, at)
        records = _records(conn)
        subjects = _subjects(conn)
        alerts = _alerts(conn)
        backups = _backups(conn)
        activity = _activity(conn)
        retention = _retention(conn)
        ledger = verify_stored_log(conn)
    return Facts(
        now=at,
        settings=vault.settings,
        seal=seal,
        keys=keys,
        tokens=tokens,
        records=records,
        ledger=ledger,
        alerts=alerts,
        backups=backups,
        subjects=subjects,
        activity=activity,
        listener=_listener(vault.settings, request_scheme),
        routes=tuple(routes),
        retention=retention,
    )


def _count(conn: Connection, table: Any, *where: Any) -> int:
    stmt = select(func.count()).select_from(table)
    if where:
        stmt = stmt.where(and_(*where))
    return int(conn.execute(stmt).scalar_one())


def _keys(conn: Connection) -> KeyFacts:
    repo = KeyRepository(conn)
    deps = repo.dependents()
    return KeyFacts(
        tuple(
            KeyVersion(
                version=r.version,
                created_at=float(r.created_at),
                retired_at=None if r.retired_at is None else float(r.retired_at),
                encryptions=int(r.encryptions),
                records=deps.get(r.version, {}).get("records", 0),
                subjects=deps.get(r.version, {}).get("subjects", 0),
            )
            for r in repo.list_versions()
        )
    )


def _tokens(conn: Connection, now: float) -> TokenFacts:
    t = s.tokens
    rows = conn.execute(
        select(t.c.accessor, t.c.tenant_id, t.c.policies, t.c.created_at, t.c.expires_at)
        .where(t.c.revoked_at.is_(None))
        .where(or_(t.c.expires_at.is_(None), t.c.expires_at > now))
        .order_by(t.c.created_at)
    ).all()
    privileged: list[PrivilegedToken] = []
    forever: list[str] = []
    for accessor, tenant, policies, created, expires in rows:
        if "root" in json.loads(policies):
            privileged.append(
                PrivilegedToken(
                    accessor, tenant, float(created), None if expires is None else float(expires)
                )
            )
        if expires is None:
            forever.append(accessor)
    return TokenFacts(live=len(rows), privileged=tuple(privileged), non_expiring=tuple(forever))


def _records(conn: Connection) -> RecordFacts:
    v, k, sj = s.kv_versions, s.kek_versions, s.subjects
    holding = v.c.ciphertext.is_not(None)
    live_keks = select(k.c.version).where(k.c.retired_at.is_(None))
    erased = select(sj.c.id).where(sj.c.erased_at.is_not(None))
    return RecordFacts(
        versions=_count(conn, v, holding),
        unwrapped=_count(
            conn,
            v,
            holding,
            or_(
                v.c.wrapped_dek.is_(None),
                and_(v.c.kek_version.is_(None), v.c.subject_id.is_(None)),
            ),
        ),
        on_dead_kek=_count(
            conn, v, holding, v.c.kek_version.is_not(None), v.c.kek_version.not_in(live_keks)
        ),
        under_erased_subject=_count(conn, v, holding, v.c.subject_id.in_(erased)),
    )


def _subjects(conn: Connection) -> SubjectFacts:
    sj = s.subjects
    kept = conn.execute(
        select(sj.c.id)
        .where(sj.c.erased_at.is_not(None), sj.c.wrapped_key.is_not(None))
        .order_by(sj.c.id)
        .limit(_LIST_MAX)
    ).scalars()
    return SubjectFacts(
        total=_count(conn, sj),
        erased=_count(conn, sj, sj.c.erased_at.is_not(None)),
        erased_with_key=tuple(str(i) for i in kept),
    )


def _allowed(event: str) -> Any:
    return and_(_E.c.event == event, _E.c.outcome == "allowed")


def _alerts(conn: Connection) -> AlertFacts:
    raised = conn.execute(select(_E.c.seq, _E.c.time).where(_allowed(_ALERT_RAISE))).all()
    acked: set[int] = set()
    for (raw,) in conn.execute(select(_E.c.entry).where(_allowed(_ALERT_ACK))):
        alert = json.loads(bytes(raw)).get("details", {}).get("alert")
        if isinstance(alert, int):
            acked.add(alert)
    ids = sorted(int(seq) for seq, _ in raised)
    last = max(raised, default=None)
    return AlertFacts(
        raised=len(ids),
        acknowledged=sum(1 for i in ids if i in acked),
        open_ids=tuple(i for i in ids if i not in acked)[:_LIST_MAX],
        last_raised=None if last is None else int(last[0]),
        last_raised_time=None if last is None else float(last[1]),
    )


def _backups(conn: Connection) -> BackupFacts:
    n = _count(conn, _E, _allowed(_BACKUP))
    last = conn.execute(
        select(_E.c.seq, _E.c.time, _E.c.entry)
        .where(_allowed(_BACKUP))
        .order_by(_E.c.seq.desc())
        .limit(1)
    ).first()
    snapshot = None
    if last is not None:
        found = json.loads(bytes(last[2])).get("details", {}).get("snapshot")
        snapshot = found if isinstance(found, str) else None
    return BackupFacts(
        logged=n,
        last_index=None if last is None else int(last[0]),
        last_time=None if last is None else float(last[1]),
        last_snapshot=snapshot,
        restores=_count(conn, _E, _allowed(_RESTORE)),
    )


def _activity(conn: Connection) -> ActivityFacts:
    allowed_change = and_(_E.c.event.in_(CHANGE_EVENTS), _E.c.outcome == "allowed")
    counts = {
        str(event): int(n)
        for event, n in conn.execute(
            select(_E.c.event, func.count()).where(allowed_change).group_by(_E.c.event)
        )
    }
    nobody = conn.execute(
        select(_E.c.seq)
        .where(allowed_change)
        .where(_E.c.event.not_in(_ANONYMOUS_OK))
        .where(_E.c.principal.in_(_NOBODY))
        .order_by(_E.c.seq)
        .limit(_LIST_MAX)
    ).scalars()
    return ActivityFacts(
        changes={e: counts.get(e, 0) for e in CHANGE_EVENTS},
        unattributed_changes=tuple(int(i) for i in nobody),
        denied=_count(conn, _E, _E.c.outcome == "denied"),
    )


def _retention(conn: Connection) -> RetentionFacts:
    kv, md, m = s.kv_versions, s.kv_metadata, s.mounts
    held = {
        f"{t}/{mount}": int(n)
        for t, mount, n in conn.execute(
            select(md.c.tenant_id, md.c.mount, func.count())
            .select_from(kv.join(md, kv.c.metadata_id == md.c.id))
            .where(kv.c.subject_id.is_not(None))
            .group_by(md.c.tenant_id, md.c.mount)
        )
    }
    rules = tuple(r.to_dict() | {"tenant": r.tenant} for r in RetentionRepository(conn).list())
    expiry = {
        f"{t}/{name}": float(after)
        for t, name, after in conn.execute(
            select(m.c.tenant_id, m.c.name, m.c.delete_version_after)
        )
    }
    purposes: dict[str, set[str]] = {}
    for tenant, document in conn.execute(select(s.policies.c.tenant_id, s.policies.c.document)):
        for rule in PolicyDocument.parse(document).rules:
            if rule.require_consent:
                mount = rule.path.split("/", 1)[0]
                purposes.setdefault(f"{tenant}/{mount}", set()).update(rule.require_consent)
    last = conn.execute(
        select(func.max(_E.c.time)).where(_allowed(_RETENTION))
    ).scalar_one_or_none()
    return RetentionFacts(
        subject_records=held,
        rules=rules,
        version_expiry=expiry,
        consent_purposes={k: tuple(sorted(v)) for k, v in purposes.items()},
        active_holds=len(HoldRepository(conn).list(active_only=True)),
        runs_logged=_count(conn, _E, _allowed(_RETENTION)),
        last_run_time=None if last is None else float(last),
    )


def _listener(settings: Settings, scheme: str | None) -> ListenerFacts:
    cert, key = settings.tls_cert_file, settings.tls_key_file
    problem = None
    if cert is not None and key is not None:
        # Load the pair as the server does, so a missing file, a key that does
        # not match the certificate, or an encrypted key is reported now.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ctx.load_cert_chain(cert, key, password=lambda: b"")
        except (OSError, ssl.SSLError) as exc:
            problem = f"{type(exc).__name__}: {exc.strerror or exc}"
    return ListenerFacts(
        listen=settings.listen,
        tls=cert is not None,
        cert_file=None if cert is None else str(cert),
        tls_problem=problem,
        request_scheme=scheme,
    )
