"""Realistic audit entries, fast: the exact bytes ``AuditEvent.canonical`` gives, for millions.

``AuditEvent.canonical`` (RFC 8785 in pure Python) takes ~25 us an entry, so a
million-entry ledger would spend half a minute serialising before the
benchmark starts. Instead every entry is built from one of a few
:data:`TEMPLATES` (reads, writes, lists, token look-ups, a denied read; a few
principals, tenants and paths): each template is canonicalised once with
sentinel values for ``request_id``, ``seq`` and ``time``, split around them,
and an entry is the pieces joined with its own values. RFC 8785 sorts keys and
the three values are plain ASCII, so the result is byte for byte what
``AuditEvent.canonical`` returns; :func:`ledger_entries` checks that on every
:data:`CHECK_EVERY`-th entry and raises if not.

Example::

    >>> import dataclasses
    >>> raw, t, k = next(ledger_entries(5, 1))
    >>> event = dataclasses.replace(TEMPLATES[k], request_id=request_id(5))
    >>> raw == event.canonical(seq=5, time_ns=time_ns_of(5))
    True
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from typing import Any

from strongroom.ledger.entry import AuditEvent, Event, Outcome, format_time

__all__ = ["CHECK_EVERY", "T0_NS", "TEMPLATES", "ledger_entries", "request_id", "time_ns_of"]

T0_NS = 1_767_225_600_000_000_000
"""2026-01-01T00:00:00Z: the time of entry 0."""
_STEP_NS = 1_234_567
"""Entries are ~1.2 ms apart (so the microseconds vary)."""
CHECK_EVERY = 997
"""Every this many entries, the fast bytes are compared with ``AuditEvent.canonical``."""

_RID = "RIDSENTINELrid"
_SEQ = 987_654_321_987
_TIME_NS = 4_070_908_800_123_456_000  # 2099-01-01T00:00:00.123456Z


def _accessor(n: int) -> str:
    """A token accessor shaped like the real ones (``acc_`` + 22 characters)."""
    return "acc_" + hashlib.sha256(f"principal-{n}".encode()).hexdigest()[:22]


def _client(n: int) -> str:
    """A keyed-hash client reference shaped like the real ones (32 hex characters)."""
    return hashlib.sha256(f"client-{n}".encode()).hexdigest()[:32]


def _templates() -> list[AuditEvent]:
    out: list[AuditEvent] = []
    for n in range(24):
        principal, tenant = _accessor(n % 6), ("default", "acme", "globex")[n % 3]
        resource = f"secret/app{n % 8}/db-password"
        common: dict[str, Any] = {
            "principal": principal,
            "tenant": tenant,
            "request_id": _RID,
            "policy_version": str(3 + n % 2),
            "client": _client(n % 5),
        }
        kind = n % 8
        if kind in (0, 1, 2):
            ev = AuditEvent(
                event=Event.KV_RECORD_READ,
                resource=resource,
                outcome=Outcome.ALLOWED,
                details={"version": 1 + n},
                **common,
            )
        elif kind in (3, 4):
            ev = AuditEvent(
                event=Event.KV_RECORD_WRITE,
                resource=resource,
                outcome=Outcome.ALLOWED,
                details={"version": 2 + n},
                **common,
            )
        elif kind == 5:
            ev = AuditEvent(
                event=Event.KV_RECORD_LIST,
                resource=f"secret/app{n % 8}/",
                outcome=Outcome.ALLOWED,
                details={"count": 12},
                **common,
            )
        elif kind == 6:
            ev = AuditEvent(
                event=Event.AUTH_TOKEN_LOOKUP,
                resource="auth/token/self",
                outcome=Outcome.ALLOWED,
                **common,
            )
        else:
            ev = AuditEvent(
                event=Event.KV_RECORD_READ,
                resource=resource,
                outcome=Outcome.DENIED,
                reason="permission-denied",
                **common,
            )
        out.append(ev)
    return out


TEMPLATES: list[AuditEvent] = _templates()
"""The kinds of entry the benchmarks' ledgers are made of, cycled."""


def _split(ev: AuditEvent) -> tuple[bytes, bytes, bytes, bytes]:
    """The template's canonical bytes, cut around request_id, seq and time (in key order)."""
    raw = ev.canonical(seq=_SEQ, time_ns=_TIME_NS)
    marks = [_RID.encode(), str(_SEQ).encode(), format_time(_TIME_NS).encode()]
    pieces: list[bytes] = []
    rest = raw
    for mark in marks:
        if rest.count(mark) != 1:
            raise RuntimeError("entry template cannot be split: sentinel not unique")
        before, rest = rest.split(mark)
        pieces.append(before)
    pieces.append(rest)
    a, b, c, d = pieces
    return a, b, c, d


_PARTS = [_split(ev) for ev in TEMPLATES]


def request_id(seq: int) -> str:
    """The request id of entry ``seq``."""
    return f"req-{seq:016x}"


def time_ns_of(seq: int) -> int:
    """The timestamp of entry ``seq``."""
    return T0_NS + seq * _STEP_NS


def ledger_entries(start: int, count: int) -> Iterator[tuple[bytes, float, int]]:
    """Yield ``(canonical bytes, time in s, template index)`` for entries ``start..start+count``.

    Raises ``RuntimeError`` if a checked entry differs from ``AuditEvent.canonical``.
    """
    parts, n_templates = _PARTS, len(_PARTS)
    for seq in range(start, start + count):
        k = (seq * 7) % n_templates
        a, b, c, d = parts[k]
        t = T0_NS + seq * _STEP_NS
        rid = f"req-{seq:016x}".encode()
        raw = b"".join((a, rid, b, str(seq).encode(), c, format_time(t).encode(), d))
        if seq % CHECK_EVERY == 0:
            ev = dataclasses.replace(TEMPLATES[k], request_id=request_id(seq))
            if ev.canonical(seq=seq, time_ns=t) != raw:
                raise RuntimeError(f"fast entry {seq} differs from AuditEvent.canonical")
        yield raw, t / 1e9, k
