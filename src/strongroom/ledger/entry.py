"""Audit entries: the event taxonomy and the canonical bytes that become Merkle leaves.

An entry is a JSON object serialised with the JSON Canonicalization Scheme
(RFC 8785), so anyone can re-derive the exact leaf bytes from the parsed
object and no two serialisations of one entry exist. Entries hold no secret
values and no personal data: the vault passes keyed HMACs for client
addresses and data subjects (see :mod:`strongroom.vault.audit`).

Example::

    >>> e = AuditEvent(event=Event.KV_RECORD_READ, principal="acc1", tenant="default",
    ...                resource="secret/app/db", outcome=Outcome.ALLOWED, request_id="r1")
    >>> raw = e.canonical(seq=0, time_ns=1_700_000_000_000_000_000)
    >>> parse_entry(raw)["event"]
    'kv:record:read'
    >>> canonical(parse_entry(raw)) == raw
    True
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from collections.abc import Mapping
from typing import Any, Final

import rfc8785

from strongroom.errors import IntegrityViolation

__all__ = [
    "ENTRY_FORMAT",
    "AuditEvent",
    "Event",
    "Outcome",
    "canonical",
    "format_time",
    "parse_entry",
]

ENTRY_FORMAT: Final = 1
"""The ``v`` field of every entry: the entry format version."""


class Event(enum.StrEnum):
    """Every auditable operation, named ``source:subject:action``."""

    # Records (KV v2).
    KV_RECORD_READ = "kv:record:read"
    KV_RECORD_WRITE = "kv:record:write"
    KV_RECORD_DELETE = "kv:record:delete"
    KV_RECORD_UNDELETE = "kv:record:undelete"
    KV_RECORD_DESTROY = "kv:record:destroy"
    KV_RECORD_LIST = "kv:record:list"
    KV_METADATA_READ = "kv:metadata:read"
    KV_METADATA_WRITE = "kv:metadata:write"
    KV_METADATA_DELETE = "kv:metadata:delete"
    # Tokens (event names, not secrets).
    # (The linter flags any name containing TOKEN as a password.)
    AUTH_TOKEN_CREATE = "auth:token:create"  # noqa: S105
    AUTH_TOKEN_LOOKUP = "auth:token:lookup"  # noqa: S105
    AUTH_TOKEN_RENEW = "auth:token:renew"  # noqa: S105
    AUTH_TOKEN_REVOKE = "auth:token:revoke"  # noqa: S105
    # An address locked out after too many failed attempts.
    AUTH_CLIENT_LOCKOUT = "auth:client:lockout"
    # Seal.
    SYS_SEAL_INIT = "sys:seal:init"
    SYS_SEAL_UNSEAL = "sys:seal:unseal"
    SYS_SEAL_SEAL = "sys:seal:seal"
    SYS_SEAL_STATUS = "sys:seal:status"
    # Keyring.
    SYS_KEYS_STATUS = "sys:keys:status"
    SYS_KEYS_ROTATE = "sys:keys:rotate"
    SYS_KEYS_REWRAP = "sys:keys:rewrap"
    SYS_KEYS_RETIRE = "sys:keys:retire"
    # Backups.
    SYS_BACKUP_CREATE = "sys:backup:create"
    SYS_BACKUP_LIST = "sys:backup:list"
    SYS_BACKUP_RESTORE = "sys:backup:restore"
    # Operations.
    SYS_METRICS_READ = "sys:metrics:read"
    SYS_COMPLIANCE_REPORT = "sys:compliance:report"
    # Configuration.
    SYS_MOUNT_LIST = "sys:mount:list"
    SYS_MOUNT_READ = "sys:mount:read"
    SYS_MOUNT_WRITE = "sys:mount:write"
    SYS_MOUNT_DELETE = "sys:mount:delete"
    SYS_POLICY_LIST = "sys:policy:list"
    SYS_POLICY_READ = "sys:policy:read"
    SYS_POLICY_WRITE = "sys:policy:write"
    SYS_POLICY_DELETE = "sys:policy:delete"
    SYS_TENANT_LIST = "sys:tenant:list"
    SYS_TENANT_WRITE = "sys:tenant:write"
    SYS_SUBJECT_WRITE = "sys:subject:write"
    SYS_SUBJECT_READ = "sys:subject:read"
    SYS_SUBJECT_LIST = "sys:subject:list"
    SYS_SUBJECT_ERASE = "sys:subject:erase"
    SYS_SUBJECT_EXPORT = "sys:subject:export"
    SYS_SUBJECT_REPORT = "sys:subject:report"
    SYS_CONSENT_WRITE = "sys:consent:write"
    SYS_CONSENT_READ = "sys:consent:read"
    SYS_RETENTION_WRITE = "sys:retention:write"
    SYS_RETENTION_READ = "sys:retention:read"
    SYS_RETENTION_DELETE = "sys:retention:delete"
    SYS_RETENTION_APPLY = "sys:retention:apply"
    SYS_HOLD_WRITE = "sys:hold:write"
    SYS_HOLD_READ = "sys:hold:read"
    SYS_HOLD_RELEASE = "sys:hold:release"
    # The ledger itself (reading the log is an access too).
    AUDIT_CHECKPOINT_READ = "audit:checkpoint:read"
    AUDIT_ENTRIES_READ = "audit:entries:read"
    AUDIT_PROOF_READ = "audit:proof:read"
    AUDIT_LOG_SEARCH = "audit:log:search"
    # The security monitor: an alert raised, the alerts listed, one acknowledged.
    MONITOR_ALERT_RAISE = "monitor:alert:raise"
    MONITOR_ALERT_LIST = "monitor:alert:list"
    MONITOR_ALERT_ACK = "monitor:alert:ack"
    # A request no route could take (unknown path, wrong method).
    HTTP_REQUEST_REJECT = "http:request:reject"


class Outcome(enum.StrEnum):
    """How a request ended."""

    ALLOWED = "allowed"
    DENIED = "denied"
    ERROR = "error"


def format_time(time_ns: int) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-12-01T09:30:00.123456Z``."""
    t = dt.datetime.fromtimestamp(time_ns // 1000 / 1_000_000, tz=dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_fast_dumps = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


def _fast_ok(value: Any) -> bool:
    # Where Python's own encoder provably writes RFC 8785 bytes: strings
    # (both escape only ", \ and C0 controls, the same way, RFC 8785 §3.2.2.2),
    # integers within IEEE 754 double precision (§3.2.2.3), booleans, null,
    # lists, and objects whose keys are ASCII, so that code-point order is
    # UTF-16 order (§3.2.3). Anything else (floats, large integers) goes to
    # the reference implementation.
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -(2**53) < value < 2**53
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _fast_ok(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_fast_ok(v) for v in value)
    return False


def canonical(obj: Mapping[str, Any]) -> bytes:
    """The RFC 8785 canonical serialisation of ``obj``.

    Every audited request serialises one entry, so the common shapes take
    the standard library's C encoder (a property test checks it byte for
    byte against the ``rfc8785`` reference); other values use the reference.
    """
    value = dict(obj)
    if _fast_ok(value):
        return _fast_dumps(value).encode()
    return rfc8785.dumps(value)


def parse_entry(raw: bytes) -> dict[str, Any]:
    """Parse entry bytes; raise IntegrityViolation unless they are a canonical entry.

    Canonical form is checked by re-serialising (RFC 8785 §3): an entry with
    extra whitespace, reordered keys or a different number spelling would
    still hash differently, so it is rejected here with a clear reason.
    """
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntegrityViolation("the entry is not JSON") from exc
    if not isinstance(obj, dict):
        raise IntegrityViolation("the entry is not a JSON object")
    try:
        again = canonical(obj)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise IntegrityViolation("the entry cannot be canonicalised") from exc
    if again != raw:
        raise IntegrityViolation("the entry is not in RFC 8785 canonical form")
    if obj.get("v") != ENTRY_FORMAT:
        raise IntegrityViolation(f"unknown entry format {obj.get('v')!r}")
    return obj


@dataclasses.dataclass(frozen=True, slots=True)
class AuditEvent:
    """What happened, before it has a place in the log (``seq``) and a time.

    ``principal`` is a token accessor (never the token), ``client`` a keyed
    hash of the client address, ``network`` a keyed hash of its network
    (the /24 of an IPv4 address, the /48 of an IPv6 one), ``details``
    small non-secret facts (a version number, a count), ``subject`` the
    audit pseudonym of the data subject whose record was touched (keyed by
    the subject's own key, so erasure makes it unlinkable), ``purpose`` the
    purpose of use the request declared; the caller
    guarantees no secret or personal value is in any field.
    """

    event: Event
    principal: str
    tenant: str
    resource: str
    outcome: Outcome
    request_id: str
    reason: str | None = None
    policy_version: str | None = None
    client: str | None = None
    network: str | None = None
    subject: str | None = None
    purpose: str | None = None
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def canonical(self, *, seq: int, time_ns: int) -> bytes:
        """The entry's canonical bytes at leaf index ``seq``, timestamped ``time_ns``."""
        obj: dict[str, Any] = {
            "v": ENTRY_FORMAT,
            "seq": seq,
            "time": format_time(time_ns),
            "event": str(self.event),
            "principal": self.principal,
            "tenant": self.tenant,
            "resource": self.resource,
            "outcome": str(self.outcome),
            "request_id": self.request_id,
            "details": dict(self.details),
        }
        if self.reason is not None:
            obj["reason"] = self.reason
        if self.policy_version is not None:
            obj["policy_version"] = self.policy_version
        if self.client is not None:
            obj["client"] = self.client
        if self.network is not None:
            obj["network"] = self.network
        if self.subject is not None:
            obj["subject"] = self.subject
        if self.purpose is not None:
            obj["purpose"] = self.purpose
        return canonical(obj)
