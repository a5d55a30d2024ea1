"""Retention rules and legal holds (GDPR art. 5(1)(e) storage limitation; litigation holds).

A *retention rule* names a mount and a path prefix, an action and a period:

* ``destroy-versions`` — destroy (ciphertext and wrapped DEK removed for
  good) every record version written more than ``after_s`` ago;
* ``erase-subjects`` — erase (crypto-shred, :meth:`SubjectService.erase`)
  every data subject whose records there are all older than ``after_s``.

:meth:`RetentionService.apply` applies every rule of every tenant. The
server runs it on a schedule (``retention_interval_s``) and an operator can
run it at once (``POST /v1/sys/retention/apply``). Each record it destroys
and each subject it erases has its own audit entry, by principal
``system:retention``, and each run one ``sys:retention:apply`` entry with
its counts.

A *legal hold* covers one subject, or a mount's records under a path
prefix. While it is active, nothing it covers may be destroyed or erased —
not by retention, not by ``subject erase``, not by a record destroy or
metadata delete — and each such refusal is audited. Holds are created and
released (never deleted), each an audit entry.

Example::

    >>> sorted(ACTIONS)
    ['destroy-versions', 'erase-subjects']
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import and_, func, select

from strongroom.errors import InvalidInput, LegalHold, NotFound, StrongroomError
from strongroom.ledger.entry import AuditEvent, Event, Outcome
from strongroom.storage import schema as s
from strongroom.storage.repositories import KVRepository, MountRepository, SubjectRepository
from strongroom.storage.rights import (
    ConsentRepository,
    HoldRecord,
    HoldRepository,
    RetentionRecord,
    RetentionRepository,
    check_holds,
)
from strongroom.storage.writer import WriteTx
from strongroom.types import Capability, SealState
from strongroom.vault.audit_scope import note
from strongroom.vault.kv import validate_record_path
from strongroom.vault.policy import PURPOSE_RE, PolicyDocument
from strongroom.vault.principal import SYSTEM_TENANT, Principal

if TYPE_CHECKING:
    from strongroom.vault.service import Vault

__all__ = ["ACTIONS", "ApplyResult", "RetentionSchedule", "RetentionService", "check_holds"]
# check_holds lives with the holds' storage (kv checks it too); re-exported here.

log = logging.getLogger(__name__)

ACTIONS: Final = frozenset({"destroy-versions", "erase-subjects"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_BATCH = 500
_SYSTEM = "system:retention"


def _check_prefix(prefix: str) -> str:
    """A path prefix: empty, or the start of a valid record path (no '..', no leading '/')."""
    if not prefix:
        return ""
    validate_record_path(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


@dataclass(slots=True)
class ApplyResult:
    """What one run of the retention rules did."""

    versions_destroyed: int = 0
    subjects_erased: int = 0
    held: int = 0
    """Versions or subjects a legal hold kept."""
    rules: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "versions_destroyed": self.versions_destroyed,
            "subjects_erased": self.subjects_erased,
            "held": self.held,
            "rules": self.rules,
        }


class RetentionService:
    """Retention rules, legal holds, and the job that applies the rules."""

    def __init__(self, vault: Vault, clock: Callable[[], float] = time.time) -> None:
        self._v = vault
        self._clock = clock

    # -- rules ------------------------------------------------------------

    def put_rule(
        self,
        principal: Principal,
        name: str,
        *,
        mount: str,
        action: str,
        after_s: float,
        path_prefix: str = "",
        purpose: str = "",
    ) -> RetentionRecord:
        """Create or replace a rule of the caller's tenant."""
        principal.require_admin("sys/retention", Capability.UPDATE)
        if not _NAME.match(name):
            raise InvalidInput("a rule name is 1-64 of a-z 0-9 _ -")
        if action not in ACTIONS:
            raise InvalidInput(f"action must be one of {', '.join(sorted(ACTIONS))}")
        if not math.isfinite(after_s) or not 0 < after_s <= 100 * 365 * 86400:
            raise InvalidInput("after_s must be positive and at most 100 years")
        if purpose and not PURPOSE_RE.fullmatch(purpose):
            raise InvalidInput("a purpose is 1-64 of a-z 0-9 _ . -")
        path_prefix = _check_prefix(path_prefix)
        # A rule destroys or erases later, as system:retention: whoever writes
        # it must hold, now, the right to do that by hand.
        if action == "erase-subjects":
            principal.require_admin("sys/subjects", Capability.DELETE)
        else:
            principal.require_admin(f"{mount}/{path_prefix}", Capability.DELETE)
        rec = RetentionRecord(
            principal.tenant,
            name,
            mount,
            path_prefix,
            action,
            float(after_s),
            purpose,
            self._clock(),
        )

        def op(tx: WriteTx) -> RetentionRecord:
            if MountRepository(tx.conn).get(principal.tenant, mount) is None:
                raise NotFound("no such mount")
            created = RetentionRepository(tx.conn).put(rec)
            note(action=action, after_s=float(after_s), created=created)
            return rec

        with self._v.audit.operation(
            Event.SYS_RETENTION_WRITE, principal=principal, resource=f"sys/retention/rules/{name}"
        ):
            return self._v.db.write(op)

    def delete_rule(self, principal: Principal, name: str) -> None:
        """Remove a rule (NotFound if there is none)."""
        principal.require_admin("sys/retention", Capability.DELETE)

        def op(tx: WriteTx) -> None:
            if not RetentionRepository(tx.conn).delete(principal.tenant, name):
                raise NotFound("no such retention rule")

        with self._v.audit.operation(
            Event.SYS_RETENTION_DELETE, principal=principal, resource=f"sys/retention/rules/{name}"
        ):
            self._v.db.write(op)

    def rules(self, principal: Principal) -> list[RetentionRecord]:
        """The caller's tenant's rules."""
        principal.require_admin("sys/retention", Capability.READ)
        with self._v.db.read() as conn:
            return RetentionRepository(conn).list(principal.tenant)

    # -- holds --------------------------------------------------------------

    def place_hold(
        self,
        principal: Principal,
        *,
        reason: str,
        subject_id: str | None = None,
        mount: str | None = None,
        path_prefix: str = "",
    ) -> HoldRecord:
        """Place a legal hold on a subject or on a mount's records under ``path_prefix``."""
        principal.require_admin("sys/holds", Capability.CREATE)
        if (subject_id is None) == (mount is None):
            raise InvalidInput("hold either a subject or a mount (with an optional path prefix)")
        if not reason.strip() or len(reason) > 512:
            raise InvalidInput("a hold needs a reason of 1 to 512 characters")
        path_prefix = _check_prefix(path_prefix)
        rec = HoldRecord(
            principal.tenant,
            "hold_" + secrets.token_hex(8),
            subject_id,
            mount,
            path_prefix,
            reason,
            self._clock(),
            None,
        )

        def op(tx: WriteTx) -> HoldRecord:
            if subject_id is not None and (
                SubjectRepository(tx.conn).get(principal.tenant, subject_id) is None
            ):
                raise NotFound("no such data subject")
            if mount is not None and MountRepository(tx.conn).get(principal.tenant, mount) is None:
                raise NotFound("no such mount")
            HoldRepository(tx.conn).add(rec)
            note(hold=rec.id)
            return rec

        with self._v.audit.operation(
            Event.SYS_HOLD_WRITE, principal=principal, resource="sys/holds"
        ):
            return self._v.db.write(op)

    def release_hold(self, principal: Principal, hold_id: str) -> HoldRecord:
        """Release an active hold (NotFound if none)."""
        principal.require_admin("sys/holds", Capability.UPDATE)

        def op(tx: WriteTx) -> HoldRecord:
            repo = HoldRepository(tx.conn)
            if not repo.release(principal.tenant, hold_id, now=self._clock()):
                raise NotFound("no such active legal hold")
            found = repo.get(principal.tenant, hold_id)
            assert found is not None
            return found

        with self._v.audit.operation(
            Event.SYS_HOLD_RELEASE, principal=principal, resource=f"sys/holds/{hold_id}/release"
        ):
            return self._v.db.write(op)

    def holds(self, principal: Principal, *, active_only: bool = False) -> list[HoldRecord]:
        """The caller's tenant's holds."""
        principal.require_admin("sys/holds", Capability.READ)
        with self._v.db.read() as conn:
            return HoldRepository(conn).list(principal.tenant, active_only=active_only)

    # -- the job --------------------------------------------------------------

    def apply(self, principal: Principal | None = None) -> ApplyResult:
        """Apply every rule of every tenant now (an operator, or the schedule with None)."""
        if principal is not None:
            principal.require_operator()
        result = ApplyResult()
        with self._v.audit.operation(
            Event.SYS_RETENTION_APPLY, principal=principal, resource="sys/retention/apply"
        ) as scope:
            if principal is None:
                scope.principal, scope.tenant = _SYSTEM, SYSTEM_TENANT
            with self._v.db.read() as conn:
                rules = RetentionRepository(conn).list()
            now = self._clock()
            for rule in rules:
                counts = {"destroyed": 0, "erased": 0, "held": 0}
                if rule.action == "destroy-versions":
                    self._destroy(rule, now - rule.after_s, counts)
                else:
                    self._erase(rule, now - rule.after_s, counts)
                result.rules[f"{rule.tenant}/{rule.name}"] = counts
                result.versions_destroyed += counts["destroyed"]
                result.subjects_erased += counts["erased"]
                result.held += counts["held"]
            note(**{k: v for k, v in result.to_dict().items() if k != "rules"}, rules=len(rules))
        return result

    def _system_entry(
        self,
        tx: WriteTx,
        event: Event,
        tenant: str,
        resource: str,
        *,
        subject: str | None = None,
        **details: Any,
    ) -> None:
        self._v.audit.append_in(
            tx,
            AuditEvent(
                event=event,
                principal=_SYSTEM,
                tenant=tenant,
                resource=resource,
                outcome=Outcome.ALLOWED,
                request_id=f"retention-{secrets.token_hex(8)}",
                subject=subject,
                details=details,
            ),
        )

    def _destroy(self, rule: RetentionRecord, before: float, counts: dict[str, int]) -> None:
        """Destroy the rule's expired versions, batch by batch (keyset order, no ciphertext)."""
        with self._v.db.read() as conn:
            holds = HoldRepository(conn).list(rule.tenant, active_only=True)
        after: tuple[int, int] = (0, 0)
        while True:

            def op(tx: WriteTx, after: tuple[int, int] = after) -> tuple[int, int] | None:
                found = KVRepository(tx.conn).expired_versions(
                    rule.tenant,
                    rule.mount,
                    rule.path_prefix,
                    created_before=before,
                    after=after,
                    limit=_BATCH,
                )
                by_record: dict[tuple[int, str], list[tuple[int, str | None]]] = {}
                for mid, path, version, subject in found:
                    if any(
                        h.covers(rule.mount, path) or (subject and h.subject_id == subject)
                        for h in holds
                    ):
                        counts["held"] += 1
                        continue
                    by_record.setdefault((mid, path), []).append((version, subject))
                for (mid, path), items in by_record.items():
                    versions = [v for v, _ in items]
                    KVRepository(tx.conn).destroy(mid, versions)
                    subject = next((x for _, x in items if x), None)
                    self._system_entry(
                        tx,
                        Event.KV_RECORD_DESTROY,
                        rule.tenant,
                        f"{rule.mount}/{path}",
                        subject=self._pseudonym(tx, rule.tenant, subject),
                        versions=versions,
                        rule=rule.name,
                    )
                    counts["destroyed"] += len(versions)
                return (found[-1][0], found[-1][2]) if len(found) == _BATCH else None

            nxt = self._v.db.writer.call(op)
            if nxt is None:
                return
            after = nxt

    def _pseudonym(self, tx: WriteTx, tenant: str, subject_id: str | None) -> str | None:
        """The audit pseudonym of a live subject (None: no subject, or erased)."""
        if subject_id is None:
            return None
        found = SubjectRepository(tx.conn).key_of(tenant, subject_id)
        if found is None or found[0] is None or found[1] is None or found[2] is not None:
            return None
        kek = self._v.seal.keyring().get(found[0])
        key = kek.unwrap_subject_key(found[1], subject_id=subject_id)
        return str(key.audit_pseudonym())

    def _erase(self, rule: RetentionRecord, before: float, counts: dict[str, int]) -> None:
        """Erase the subjects with records under the rule whose every record is older than
        ``before`` — anywhere, since erasure shreds them all; re-checked when erasing."""
        kv, md, sj = s.kv_versions, s.kv_metadata, s.subjects
        cond = [md.c.tenant_id == rule.tenant, md.c.mount == rule.mount, sj.c.erased_at.is_(None)]
        if rule.path_prefix:
            cond += [md.c.path >= rule.path_prefix, md.c.path < rule.path_prefix + "\U0010ffff"]
        every = kv.alias("every")
        newest = (
            select(func.max(every.c.created_at))
            .where(every.c.subject_id == sj.c.id)
            .correlate(sj)
            .scalar_subquery()
        )
        with self._v.db.read() as conn:
            due = [
                str(r[0])
                for r in conn.execute(
                    select(sj.c.id)
                    .select_from(
                        kv.join(md, kv.c.metadata_id == md.c.id).join(
                            sj, sj.c.id == kv.c.subject_id
                        )
                    )
                    .where(and_(*cond, newest < before))
                    .group_by(sj.c.id)
                )
            ]
        for subject_id in due:
            try:
                self._v.subjects.erase_by_system(
                    rule.tenant, subject_id, actor=_SYSTEM, rule=rule.name, older_than=before
                )
            except LegalHold:
                counts["held"] += 1
            except StrongroomError as exc:
                # Erased meanwhile, or written to since: this subject only, not the run.
                counts["skipped"] = counts.get("skipped", 0) + 1
                log.info("retention skipped a subject: %s", exc.slug)
            else:
                counts["erased"] += 1

    # -- records of processing (GDPR art. 30) ----------------------------------

    def processing_records(self, principal: Principal) -> dict[str, Any]:
        """The records of processing activities of the caller's tenant, from live state.

        One activity per mount: its description, the purposes declared for it
        (retention rules, consent requirements of the tenant's policies, and
        the consents on record), the subjects whose records it holds, its
        retention rules, legal holds and the technical measures that protect
        it (art. 30(1)(g) → art. 32).
        """
        principal.require_admin("sys/retention", Capability.READ)
        tenant = principal.tenant
        kv, md = s.kv_versions, s.kv_metadata
        with self._v.db.read() as conn:
            mounts = MountRepository(conn).list(tenant)
            rules = RetentionRepository(conn).list(tenant)
            holds = HoldRepository(conn).list(tenant, active_only=True)
            consented = ConsentRepository(conn).purposes(tenant)
            docs = [
                PolicyDocument.parse(r.document)
                for r in conn.execute(
                    select(s.policies.c.document).where(s.policies.c.tenant_id == tenant)
                )
            ]
            per_mount = {
                str(m): (int(records), int(subjects))
                for m, records, subjects in conn.execute(
                    select(
                        md.c.mount,
                        func.count(func.distinct(md.c.id)),
                        func.count(func.distinct(kv.c.subject_id)),
                    )
                    .select_from(md.join(kv, kv.c.metadata_id == md.c.id, isouter=True))
                    .where(md.c.tenant_id == tenant)
                    .group_by(md.c.mount)
                )
            }
        required: dict[str, set[str]] = {}
        for doc in docs:
            for rule in doc.rules:
                mount = rule.path.split("/", 1)[0]
                required.setdefault(mount, set()).update(rule.require_consent)
        settings = self._v.settings
        activities = []
        for m in mounts:
            mine = [r for r in rules if r.mount == m.name]
            purposes = {r.purpose for r in mine if r.purpose} | required.get(m.name, set())
            records, subjects = per_mount.get(m.name, (0, 0))
            activities.append(
                {
                    "mount": m.name,
                    "description": m.description,
                    "purposes": sorted(purposes),
                    "consent_required_for": sorted(required.get(m.name, set())),
                    "records": records,
                    "data_subjects": subjects,
                    "retention": [r.to_dict() for r in mine],
                    "version_expiry_s": m.delete_version_after or None,
                    "legal_holds": [h.id for h in holds if h.mount == m.name],
                }
            )
        return {
            "format": "strongroom-processing-records/v1",
            "tenant": tenant,
            "generated_at": self._clock(),
            "activities": activities,
            "purposes_with_consents": consented,
            "security_measures": {
                "encryption_at_rest": "AES-256-GCM envelope encryption; subject records under "
                "per-subject keys (crypto-shredding)",
                "audit": "RFC 9162 Merkle log with signed checkpoints",
                "subject_key_backup_days": settings.subject_key_backup_days,
                "tls": settings.tls_cert_file is not None,
            },
        }


class RetentionSchedule:
    """The thread that applies the retention rules every ``interval_s`` while unsealed."""

    def __init__(self, vault: Vault, *, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._v = vault
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.last_result: ApplyResult | None = None
        self.last_error: str | None = None

    def run_once(self) -> ApplyResult | None:
        """Apply the rules now; ``None`` while sealed. Errors are recorded, not raised."""
        if self._v.state() is not SealState.UNSEALED:
            return None
        self.runs += 1
        try:
            self.last_result = self._v.retention.apply(None)
        except StrongroomError as exc:
            self.last_error = exc.diagnostics()
            log.warning("retention run failed: %s", exc.slug)
            return None
        self.last_error = None
        return self.last_result

    def start(self) -> None:
        """Start the thread (the first run is one interval from now)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="strongroom-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, letting a run in progress finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - the thread must survive; the type only
                log.error("retention run failed unexpectedly: %s", type(exc).__name__)  # noqa: TRY400
