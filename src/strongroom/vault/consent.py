"""Consent and purpose of use: versioned consent records, checked on every read that needs one.

A consent is a subject's agreement to one *purpose* (``treatment``,
``research.oncology``) over a *scope* (a path pattern like a policy rule's,
``*`` for everything), from ``granted_at`` until it expires or is withdrawn,
with a reference to its evidence (where the signed form is kept). Each grant,
renewal or withdrawal adds a version; none is rewritten (GDPR art. 7(1):
the controller must be able to show that consent was given), and each is a
``sys:consent:write`` audit entry.

A policy rule may say ``require_consent: [research]``
(:class:`strongroom.vault.policy.Rule`). Reading a subject's record under
such a rule then needs the request to declare one of those purposes (the
``Strongroom-Purpose`` header) and the subject's consent to it, valid now
and covering the record; otherwise the read is refused with
``consent-required`` and the refusal is in the log under the subject's
pseudonym. Consents are read from the database on every such read, so a
withdrawal applies to the very next request.

Example::

    >>> scope_covers("*", "clinic", "patients/7")
    True
    >>> scope_covers("clinic/notes/*", "clinic", "patients/7")
    False
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from strongroom.errors import ConsentRequired, InvalidInput, NotFound
from strongroom.ledger.entry import Event
from strongroom.storage.repositories import SubjectRepository
from strongroom.storage.rights import ConsentRecord, ConsentRepository
from strongroom.storage.writer import WriteTx
from strongroom.types import Capability
from strongroom.vault.audit_scope import declared_purpose, note
from strongroom.vault.policy import PURPOSE_RE, Acl, PolicyDocument, Rule
from strongroom.vault.principal import Principal

if TYPE_CHECKING:
    from strongroom.vault.service import Vault

__all__ = ["ConsentService", "scope_covers"]

_MAX_EVIDENCE = 512


def scope_covers(scope: str, mount: str, path: str) -> bool:
    """True when a consent ``scope`` (a policy path pattern, or ``*``) covers ``mount/path``."""
    if scope == "*":
        return True
    acl = Acl([PolicyDocument(rules=(Rule(scope, frozenset({Capability.READ})),))], cache_size=0)
    return acl.allows(f"{mount}/{path}", Capability.READ)


def _check_purpose(purpose: str) -> str:
    if not PURPOSE_RE.fullmatch(purpose):
        raise InvalidInput("a purpose is 1-64 of a-z 0-9 _ . -")
    return purpose


def _check_scope(scope: str) -> str:
    if scope != "*":
        # The same patterns as policy rules; InvalidInput when malformed.
        Rule(scope, frozenset({Capability.READ}))
    return scope


class ConsentService:
    """Grant, withdraw, list and check data subjects' consents."""

    def __init__(self, vault: Vault, clock: Callable[[], float] = time.time) -> None:
        self._v = vault
        self._clock = clock

    @staticmethod
    def _subject(conn: Connection, principal: Principal, subject_id: str) -> None:
        rec = SubjectRepository(conn).get(principal.tenant, subject_id)
        # An erased subject has no consents to change: the same 404 as absent.
        if rec is None or rec.erased_at is not None:
            raise NotFound("no such data subject")

    def grant(
        self,
        principal: Principal,
        subject_id: str,
        *,
        purpose: str,
        scope: str = "*",
        expires_at: float | None = None,
        evidence_ref: str = "",
    ) -> ConsentRecord:
        """Record (or renew) the subject's consent to ``purpose``: a new version."""
        principal.require_admin("sys/subjects", Capability.UPDATE)
        _check_purpose(purpose)
        _check_scope(scope)
        if len(evidence_ref) > _MAX_EVIDENCE:
            raise InvalidInput(f"evidence_ref is at most {_MAX_EVIDENCE} characters")
        now = self._clock()
        if expires_at is not None and (not math.isfinite(expires_at) or expires_at <= now):
            raise InvalidInput("expires_at must be a time in the future")

        def op(tx: WriteTx) -> ConsentRecord:
            self._subject(tx.conn, principal, subject_id)
            repo = ConsentRepository(tx.conn)
            prev = repo.current(principal.tenant, subject_id, purpose)
            rec = ConsentRecord(
                principal.tenant,
                subject_id,
                purpose,
                1 if prev is None else prev.version + 1,
                scope,
                now,
                expires_at,
                None,
                evidence_ref,
                now,
            )
            repo.add(rec)
            note(purpose=purpose, version=rec.version, action="grant")
            return rec

        with self._v.audit.operation(
            Event.SYS_CONSENT_WRITE,
            principal=principal,
            resource=f"sys/subjects/{subject_id}/consents",
        ):
            return self._v.db.write(op)

    def withdraw(self, principal: Principal, subject_id: str, *, purpose: str) -> ConsentRecord:
        """Withdraw the subject's consent to ``purpose`` (a new version); applies at once."""
        principal.require_admin("sys/subjects", Capability.UPDATE)
        _check_purpose(purpose)
        now = self._clock()

        def op(tx: WriteTx) -> ConsentRecord:
            self._subject(tx.conn, principal, subject_id)
            repo = ConsentRepository(tx.conn)
            prev = repo.current(principal.tenant, subject_id, purpose)
            if prev is None or prev.withdrawn_at is not None:
                raise NotFound("no consent to this purpose to withdraw")
            rec = ConsentRecord(
                prev.tenant,
                subject_id,
                purpose,
                prev.version + 1,
                prev.scope,
                prev.granted_at,
                prev.expires_at,
                now,
                prev.evidence_ref,
                now,
            )
            repo.add(rec)
            note(purpose=purpose, version=rec.version, action="withdraw")
            return rec

        with self._v.audit.operation(
            Event.SYS_CONSENT_WRITE,
            principal=principal,
            resource=f"sys/subjects/{subject_id}/consents/{purpose}/withdraw",
        ):
            return self._v.db.write(op)

    def history(self, principal: Principal, subject_id: str) -> list[ConsentRecord]:
        """Every version of every consent of the subject."""
        principal.require_admin("sys/subjects", Capability.READ)
        with self._v.db.read() as conn:
            self._subject(conn, principal, subject_id)
            return ConsentRepository(conn).history(principal.tenant, subject_id)

    def require(
        self, tenant: str, subject_id: str, purposes: Collection[str], mount: str, path: str
    ) -> str:
        """The declared purpose, if the subject's valid consent to it covers ``mount/path``.

        Otherwise ConsentRequired, naming what is missing (never the subject).
        """
        declared = declared_purpose()
        wanted = ", ".join(sorted(purposes))
        if declared is None or declared not in purposes:
            raise ConsentRequired(
                f"reading this record needs a declared purpose of use ({wanted}) "
                "in the Strongroom-Purpose header",
                purposes=sorted(purposes),
            )
        with self._v.db.read() as conn:
            rec = ConsentRepository(conn).current(tenant, subject_id, declared)
        if (
            rec is None
            or not rec.valid_at(self._clock())
            or not scope_covers(rec.scope, mount, path)
        ):
            raise ConsentRequired(
                f"the data subject has no valid consent to {declared!r} covering this record",
                purposes=sorted(purposes),
            )
        # Which consent allowed it, in the read's entry (not only what was declared).
        note(consent_version=rec.version)
        return declared
