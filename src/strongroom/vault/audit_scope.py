"""The audit state of one request: its scope, and the receipt of its entry.

A scope is opened per HTTP request by the API (and per in-process operation
by :meth:`strongroom.vault.audit.AuditLog.operation`) and is visible to all
code running for that request through a context variable, so a service can
add facts to the entry (:func:`note`) without being handed the scope.

Example::

    >>> scope = AuditScope(request_id="r1")
    >>> with open_scope(scope):
    ...     note(version=3)
    >>> scope.details
    {'version': 3}
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strongroom.errors import NotFound, StrongroomError
from strongroom.ledger.entry import AuditEvent, Event, Outcome

if TYPE_CHECKING:
    from strongroom.vault.principal import Principal

__all__ = [
    "AuditScope",
    "Receipt",
    "current_scope",
    "declared_purpose",
    "note",
    "note_subject",
    "open_scope",
    "outcome_of",
]

_SCOPE: contextvars.ContextVar[AuditScope | None] = contextvars.ContextVar(
    "strongroom_audit_scope", default=None
)


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where an entry sits in the log: its leaf index and leaf hash (RFC 9162 §2.1.1)."""

    index: int
    leaf_hash: bytes


@dataclass(slots=True)
class AuditScope:
    """The audit state of one request (or one in-process operation).

    Mutable on purpose: the API fills it in as it learns more, the writer
    thread sets :attr:`receipt` when the entry is written, and a rollback
    clears it again.
    """

    request_id: str
    client: str | None = None
    network: str | None = None
    subject: str | None = None
    purpose: str | None = None
    """The purpose of use the request declared (``Strongroom-Purpose`` header)."""
    event: Event | None = None
    resource: str = ""
    principal: str = "anonymous"
    tenant: str = ""
    policy_version: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    receipt: Receipt | None = None
    failure: tuple[Outcome, str] | None = None
    """How the request failed, set by the API's error handlers (None: it did not)."""

    def set_event(self, event: Event, *, resource: str) -> None:
        """Name the operation and what it touches."""
        self.event = event
        self.resource = resource

    def set_principal(self, principal: Principal) -> None:
        """Record who is calling (the token accessor, never the token)."""
        self.principal = principal.accessor
        self.tenant = principal.tenant
        self.policy_version = principal.policy_version or None

    def to_event(self, outcome: Outcome, *, reason: str | None = None) -> AuditEvent:
        """The entry this scope describes, with ``outcome``."""
        return AuditEvent(
            event=self.event or Event.HTTP_REQUEST_REJECT,
            principal=self.principal,
            tenant=self.tenant,
            resource=self.resource,
            outcome=outcome,
            request_id=self.request_id,
            reason=reason,
            policy_version=self.policy_version,
            client=self.client,
            network=self.network,
            subject=self.subject,
            purpose=self.purpose,
            details=dict(self.details),
        )


def current_scope() -> AuditScope | None:
    """The scope of the request being served in this context, if any."""
    return _SCOPE.get()


def note(**details: Any) -> None:
    """Add non-secret facts (a version number, a count) to the current entry."""
    scope = _SCOPE.get()
    if scope is not None:
        scope.details.update(details)


def declared_purpose() -> str | None:
    """The purpose of use declared by the request being served, if any."""
    scope = _SCOPE.get()
    return None if scope is None else scope.purpose


def note_subject(pseudonym: str) -> None:
    """Name the data subject (by its audit pseudonym) whose record the current entry touches."""
    scope = _SCOPE.get()
    if scope is not None:
        scope.subject = pseudonym


@contextmanager
def open_scope(scope: AuditScope) -> Iterator[AuditScope]:
    """Make ``scope`` current for the duration of the block."""
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def outcome_of(exc: BaseException) -> tuple[Outcome, str]:
    """Classify an error for the log: denied (auth or policy) or error, and its reason."""
    if isinstance(exc, StrongroomError):
        if exc.status_code in (401, 403) or (
            isinstance(exc, NotFound) and getattr(exc, "denied_by_policy", False)
        ):
            return Outcome.DENIED, exc.slug
        return Outcome.ERROR, exc.slug
    return Outcome.ERROR, "internal-error"
