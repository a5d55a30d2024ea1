"""One audited request as the detectors see it: who, from where, did what, how it ended.

The monitor reads the audit log, not the HTTP traffic, so it judges exactly
what was recorded (and the replay harness can feed it the same shape). An
:class:`Activity` keeps only the fields detection needs; ``client`` and
``network`` are the keyed hashes the log already holds, never addresses.

Example::

    >>> raw = {"seq": 7, "time": "2026-12-01T09:00:00.000000Z", "event": "kv:record:read",
    ...        "principal": "acc1", "tenant": "default", "resource": "secret/app/db",
    ...        "outcome": "allowed", "client": "c1", "network": "n1"}
    >>> a = Activity.from_entry(raw)
    >>> a.is_record_read, a.is_auth_failure
    (True, False)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ANONYMOUS", "Activity", "parse_time"]

ANONYMOUS = "anonymous"
"""The principal of a request that presented no valid token."""

# Sources whose events are the vault's own bookkeeping: reading the log,
# the monitor's alerts, backups. They are not data access by a principal.
_SYSTEM_SOURCES = frozenset({"sys", "audit", "monitor"})
# Problem types (``reason``) that say "this path is not there for you": the
# same 404 answers "absent" and "not yours", and 403 is a policy denial.
_PROBE_REASONS = frozenset({"not-found", "permission-denied"})
# Naming a token by value that does not exist: guessing tokens.
_TOKEN_PROBES = frozenset({"auth:token:lookup", "auth:token:renew", "auth:token:revoke"})
_WRITE_ACTIONS = frozenset({"write", "create", "rotate", "rewrap", "retire", "renew"})
_DELETE_ACTIONS = frozenset({"delete", "destroy", "revoke"})


def parse_time(value: str) -> float:
    """Seconds since the epoch from an entry's RFC 3339 ``time`` (always UTC, ``Z``)."""
    # fromisoformat reads the entries' fixed format about 20 times faster
    # than strptime, and the monitor parses every entry.
    t = dt.datetime.fromisoformat(value)
    if t.tzinfo is None:
        raise ValueError("an entry time must carry its zone")
    return t.timestamp()


@dataclass(frozen=True, slots=True)
class Activity:
    """What one audit entry says about one request."""

    time: float
    event: str
    principal: str
    outcome: str
    resource: str = ""
    tenant: str = ""
    reason: str | None = None
    client: str | None = None
    network: str | None = None
    seq: int = -1

    @classmethod
    def from_entry(cls, obj: Mapping[str, Any]) -> Activity:
        """Build from a parsed audit entry (see :mod:`strongroom.ledger.entry`)."""
        reason = obj.get("reason")
        client = obj.get("client")
        network = obj.get("network")
        return cls(
            time=parse_time(str(obj["time"])),
            event=str(obj["event"]),
            principal=str(obj.get("principal", ANONYMOUS)),
            outcome=str(obj.get("outcome", "")),
            resource=str(obj.get("resource", "")),
            tenant=str(obj.get("tenant", "")),
            reason=None if reason is None else str(reason),
            client=None if client is None else str(client),
            network=None if network is None else str(network),
            seq=int(obj.get("seq", -1)),
        )

    @property
    def source(self) -> str:
        """The first part of the event name (``kv``, ``auth``, ``sys``…)."""
        return self.event.split(":", 1)[0]

    @property
    def action(self) -> str:
        """The last part of the event name (``read``, ``write``…)."""
        return self.event.rsplit(":", 1)[-1]

    @property
    def is_monitor(self) -> bool:
        """True for the monitor's own entries (never fed back into detection)."""
        return self.source == "monitor"

    @property
    def is_auth_failure(self) -> bool:
        """A failed authentication: a 401, a failed unseal, or a token lookup (renewal,
        revocation) that named a token that does not exist."""
        if self.outcome == "allowed":
            return False
        if self.reason == "unauthenticated":
            return True
        if self.event == "sys:seal:unseal":
            return True
        return self.event in _TOKEN_PROBES and self.reason in _PROBE_REASONS

    @property
    def is_lockout(self) -> bool:
        """The API locked this client out after repeated failures."""
        return self.event == "auth:client:lockout"

    @property
    def is_probe_failure(self) -> bool:
        """A 404 or 403 on a path (what enumeration produces), other than a token probe."""
        return (
            self.outcome != "allowed"
            and self.reason in _PROBE_REASONS
            and self.event not in _TOKEN_PROBES
        )

    @property
    def is_record_read(self) -> bool:
        """A read of record contents that was allowed (what exfiltration produces)."""
        return (
            self.outcome == "allowed"
            and self.action == "read"
            and self.source not in _SYSTEM_SOURCES
            and self.source != "auth"
        )

    @property
    def is_write(self) -> bool:
        """An allowed change (write, create, rotate…)."""
        return self.outcome == "allowed" and self.action in _WRITE_ACTIONS

    @property
    def is_delete(self) -> bool:
        """An allowed removal (delete, destroy, revoke)."""
        return self.outcome == "allowed" and self.action in _DELETE_ACTIONS

    @property
    def is_list(self) -> bool:
        """A listing."""
        return self.action == "list"

    @property
    def is_admin(self) -> bool:
        """A configuration or key operation (``sys:…``) or a token operation."""
        return self.source in ("sys", "auth")

    @property
    def area(self) -> str:
        """The first two segments of the resource (``secret/app``): which part of the vault."""
        parts = self.resource.split("/", 2)
        return "/".join(parts[:2])
