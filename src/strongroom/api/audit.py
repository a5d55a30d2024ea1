"""Every request in the audit log, and no response before its entry is durable.

:class:`AuditTrail` is a pure ASGI middleware. For each request it opens an
:class:`~strongroom.vault.audit.AuditScope`, lets the app run, and *holds the
response*. If the request made no entry of its own (a write carries its entry
in its transaction; a record read commits one before returning plaintext),
the middleware appends one now, with the outcome the response shows. Only
when that entry is durable does the response leave, with an audit receipt in
its headers. If the entry cannot be written, the held response is dropped and
the caller gets 503 (fail-closed, ARCHITECTURE.md §2).

Probes (``/livez``, ``/readyz``, ``/v1/sys/health``) and the OpenAPI document
are not audited: they carry no data and orchestrators call them every few
seconds.

Example::

    >>> EVENTS[("GET", "/v1/{mount}/data/{path:path}")]
    <Event.KV_RECORD_READ: 'kv:record:read'>
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strongroom.api.problems import send_problem
from strongroom.errors import AuditUnavailable, InvalidInput
from strongroom.ledger.entry import Event, Outcome
from strongroom.vault import Vault
from strongroom.vault.audit import AuditScope, current_scope, open_scope
from strongroom.vault.policy import PURPOSE_RE

__all__ = [
    "EVENTS",
    "UNAUDITED_PATHS",
    "AuditTrail",
    "audit_route",
    "name_event",
    "outcome_for_status",
    "resource_of",
]

log = logging.getLogger("strongroom.api")

UNAUDITED_PATHS = frozenset({"/livez", "/readyz", "/v1/sys/health", "/openapi.json"})
"""Paths answered without an audit entry (probes and the API description)."""

E = Event
EVENTS: dict[tuple[str, str], Event] = {
    # Records.
    ("GET", "/v1/{mount}/data/{path:path}"): E.KV_RECORD_READ,
    ("PUT", "/v1/{mount}/data/{path:path}"): E.KV_RECORD_WRITE,
    ("POST", "/v1/{mount}/data/{path:path}"): E.KV_RECORD_WRITE,
    ("DELETE", "/v1/{mount}/data/{path:path}"): E.KV_RECORD_DELETE,
    ("POST", "/v1/{mount}/delete/{path:path}"): E.KV_RECORD_DELETE,
    ("POST", "/v1/{mount}/undelete/{path:path}"): E.KV_RECORD_UNDELETE,
    ("PUT", "/v1/{mount}/destroy/{path:path}"): E.KV_RECORD_DESTROY,
    ("POST", "/v1/{mount}/destroy/{path:path}"): E.KV_RECORD_DESTROY,
    ("GET", "/v1/{mount}/metadata/{path:path}"): E.KV_METADATA_READ,
    ("POST", "/v1/{mount}/metadata/{path:path}"): E.KV_METADATA_WRITE,
    ("PUT", "/v1/{mount}/metadata/{path:path}"): E.KV_METADATA_WRITE,
    ("DELETE", "/v1/{mount}/metadata/{path:path}"): E.KV_METADATA_DELETE,
    # Tokens.
    ("POST", "/v1/auth/token/create"): E.AUTH_TOKEN_CREATE,
    ("GET", "/v1/auth/token/lookup-self"): E.AUTH_TOKEN_LOOKUP,
    ("POST", "/v1/auth/token/lookup"): E.AUTH_TOKEN_LOOKUP,
    ("POST", "/v1/auth/token/renew-self"): E.AUTH_TOKEN_RENEW,
    ("POST", "/v1/auth/token/renew"): E.AUTH_TOKEN_RENEW,
    ("POST", "/v1/auth/token/revoke-self"): E.AUTH_TOKEN_REVOKE,
    ("POST", "/v1/auth/token/revoke"): E.AUTH_TOKEN_REVOKE,
    # Seal and keys.
    ("GET", "/v1/sys/seal-status"): E.SYS_SEAL_STATUS,
    ("POST", "/v1/sys/init"): E.SYS_SEAL_INIT,
    ("POST", "/v1/sys/unseal"): E.SYS_SEAL_UNSEAL,
    ("POST", "/v1/sys/seal"): E.SYS_SEAL_SEAL,
    ("GET", "/v1/sys/keys"): E.SYS_KEYS_STATUS,
    ("POST", "/v1/sys/keys/rotate"): E.SYS_KEYS_ROTATE,
    ("POST", "/v1/sys/keys/rewrap"): E.SYS_KEYS_REWRAP,
    ("POST", "/v1/sys/keys/retire"): E.SYS_KEYS_RETIRE,
    ("GET", "/v1/sys/metrics"): E.SYS_METRICS_READ,
    ("GET", "/v1/sys/compliance/report"): E.SYS_COMPLIANCE_REPORT,
    # The security monitor.
    ("GET", "/v1/sys/monitor/alerts"): E.MONITOR_ALERT_LIST,
    ("GET", "/v1/sys/monitor/alerts/{alert_id}"): E.MONITOR_ALERT_LIST,
    ("POST", "/v1/sys/monitor/alerts/{alert_id}/ack"): E.MONITOR_ALERT_ACK,
    # Backups.
    ("POST", "/v1/sys/backups"): E.SYS_BACKUP_CREATE,
    ("GET", "/v1/sys/backups"): E.SYS_BACKUP_LIST,
    ("GET", "/v1/sys/backups/status"): E.SYS_BACKUP_LIST,
    ("POST", "/v1/sys/backups/jobs"): E.SYS_BACKUP_CREATE,
    ("GET", "/v1/sys/backups/jobs/{job_id}"): E.SYS_BACKUP_LIST,
    # Configuration.
    ("GET", "/v1/sys/mounts"): E.SYS_MOUNT_LIST,
    ("POST", "/v1/sys/mounts/{name}"): E.SYS_MOUNT_WRITE,
    ("DELETE", "/v1/sys/mounts/{name}"): E.SYS_MOUNT_DELETE,
    ("GET", "/v1/sys/policies/acl"): E.SYS_POLICY_LIST,
    ("GET", "/v1/sys/policies/acl/{name}"): E.SYS_POLICY_READ,
    ("PUT", "/v1/sys/policies/acl/{name}"): E.SYS_POLICY_WRITE,
    ("DELETE", "/v1/sys/policies/acl/{name}"): E.SYS_POLICY_DELETE,
    ("GET", "/v1/sys/tenants"): E.SYS_TENANT_LIST,
    ("POST", "/v1/sys/tenants/{name}"): E.SYS_TENANT_WRITE,
    ("POST", "/v1/sys/subjects"): E.SYS_SUBJECT_WRITE,
    ("POST", "/v1/sys/subjects/lookup"): E.SYS_SUBJECT_READ,
    ("GET", "/v1/sys/subjects"): E.SYS_SUBJECT_LIST,
    ("GET", "/v1/sys/subjects/{subject_id}"): E.SYS_SUBJECT_READ,
    ("POST", "/v1/sys/subjects/{subject_id}/erase"): E.SYS_SUBJECT_ERASE,
    ("POST", "/v1/sys/subjects/{subject_id}/export"): E.SYS_SUBJECT_EXPORT,
    ("GET", "/v1/sys/subjects/{subject_id}/access-report"): E.SYS_SUBJECT_REPORT,
    ("GET", "/v1/sys/subjects/{subject_id}/consents"): E.SYS_CONSENT_READ,
    ("POST", "/v1/sys/subjects/{subject_id}/consents"): E.SYS_CONSENT_WRITE,
    ("POST", "/v1/sys/subjects/{subject_id}/consents/{purpose}/withdraw"): E.SYS_CONSENT_WRITE,
    ("GET", "/v1/sys/retention/rules"): E.SYS_RETENTION_READ,
    ("PUT", "/v1/sys/retention/rules/{name}"): E.SYS_RETENTION_WRITE,
    ("DELETE", "/v1/sys/retention/rules/{name}"): E.SYS_RETENTION_DELETE,
    ("POST", "/v1/sys/retention/apply"): E.SYS_RETENTION_APPLY,
    ("GET", "/v1/sys/holds"): E.SYS_HOLD_READ,
    ("POST", "/v1/sys/holds"): E.SYS_HOLD_WRITE,
    ("POST", "/v1/sys/holds/{hold_id}/release"): E.SYS_HOLD_RELEASE,
    ("GET", "/v1/sys/processing-records"): E.SYS_RETENTION_READ,
    # The ledger.
    ("GET", "/v1/audit/checkpoint"): E.AUDIT_CHECKPOINT_READ,
    ("GET", "/v1/audit/checkpoints"): E.AUDIT_CHECKPOINT_READ,
    ("GET", "/v1/audit/key"): E.AUDIT_CHECKPOINT_READ,
    ("GET", "/v1/audit/entries"): E.AUDIT_ENTRIES_READ,
    ("GET", "/v1/audit/proof/inclusion"): E.AUDIT_PROOF_READ,
    ("GET", "/v1/audit/proof/consistency"): E.AUDIT_PROOF_READ,
    ("POST", "/v1/audit/proofs"): E.AUDIT_PROOF_READ,
    ("GET", "/v1/audit/search"): E.AUDIT_LOG_SEARCH,
}
"""The audit event of every audited route, by (method, path template)."""

# Starlette's ``route.path_format`` drops converters ("{path:path}" -> "{path}").
_BY_FORMAT = {(m, t.replace(":path", "")): e for (m, t), e in EVENTS.items()}

_RESOURCE_MAX = 1024
_INDEX_HEADER = b"strongroom-audit-index"
_HASH_HEADER = b"strongroom-audit-leaf-hash"
_PROBLEM_PREFIX = "urn:strongroom:problem:"


def resource_of(path_format: str, params: dict[str, Any]) -> str:
    """What a request touches: ``mount/path`` for records, else the filled-in route."""
    if "mount" in params and "path" in params:
        return f"{params['mount']}/{params['path']}"
    out = path_format.replace(":path", "")
    for name, value in params.items():
        out = out.replace("{" + name + "}", str(value))
    # The column holds 1024 characters: an over-long path parameter must not
    # make the entry unwritable (the request would go unaudited).
    out = out.removeprefix("/v1/")
    return out if len(out) <= _RESOURCE_MAX else out[: _RESOURCE_MAX - 1] + "…"


def name_event(
    scope: AuditScope, method: str, route: Any, params: dict[str, Any], query: str
) -> None:
    """Set the scope's event and resource from the matched route (no-op if unknown)."""
    key = (method, getattr(route, "path_format", ""))
    event = _BY_FORMAT.get(key)
    if event is None:
        return
    if event is Event.KV_METADATA_READ and any(
        part in ("list=true", "list=1") for part in query.split("&")
    ):
        event = Event.KV_RECORD_LIST
    scope.set_event(event, resource=resource_of(key[1], params))


PURPOSE_HEADER = "strongroom-purpose"
"""The request header declaring the purpose of use (recorded in the entry)."""
_PURPOSE_KEY = PURPOSE_HEADER.encode()


def _purpose(scope: Scope) -> str | None:
    for k, v in scope.get("headers", []):
        if k == _PURPOSE_KEY:
            text = v.decode("latin-1")
            # A malformed one is refused by audit_route, and not recorded.
            return text if PURPOSE_RE.fullmatch(text) else None
    return None


async def audit_route(request: Request) -> None:
    """App-wide dependency: name the current scope's event once the route is known.

    It runs before the endpoint, so a write's in-transaction entry already
    has its event and resource. (A body that is not even JSON fails before
    dependencies run; the middleware names those from the matched route.)
    """
    scope = current_scope()
    route = request.scope.get("route")
    if scope is None or route is None:
        return
    name_event(scope, request.method, route, dict(request.path_params), request.url.query)
    declared = request.headers.get(PURPOSE_HEADER)
    if declared is not None and not PURPOSE_RE.fullmatch(declared):
        raise InvalidInput(f"{PURPOSE_HEADER} must be 1-64 of a-z 0-9 _ . - (a purpose of use)")


def _reason_from_body(status: int, body: bytes, content_type: bytes) -> str:
    if b"json" in content_type:
        try:
            kind = json.loads(body).get("type", "")
        except (ValueError, AttributeError):
            kind = ""
        if isinstance(kind, str) and kind.startswith(_PROBLEM_PREFIX):
            return kind.removeprefix(_PROBLEM_PREFIX)
    return f"http-{status}"


def outcome_for_status(
    scope: AuditScope, status: int, body: bytes, ctype: bytes
) -> tuple[Outcome, str | None]:
    """The outcome of a request that had no entry yet, from what its response says."""
    if scope.failure is not None:
        return scope.failure
    if status < 400:
        return Outcome.ALLOWED, None
    reason = _reason_from_body(status, body, ctype)
    if status in (401, 403):
        return Outcome.DENIED, reason
    return Outcome.ERROR, reason


class AuditTrail:
    """ASGI middleware: one durable audit entry per request before its response leaves."""

    def __init__(self, app: ASGIApp, *, vault: Vault) -> None:
        self.app = app
        self.vault = vault

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http" or scope["path"] in UNAUDITED_PATHS:
            await self.app(scope, receive, send)
            return
        audit = self.vault.audit
        client = scope.get("client")
        address = client[0] if client else None
        ascope = AuditScope(
            request_id=str(scope.get("state", {}).get("request_id", "")),
            client=audit.client_ref(address),
            network=audit.network_ref(address),
            purpose=_purpose(scope),
        )
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        with open_scope(ascope):
            await self.app(scope, receive, hold)
        if ascope.event is None and scope.get("route") is not None:
            query = scope.get("query_string", b"").decode("latin-1")
            name_event(ascope, scope["method"], scope["route"], scope.get("path_params", {}), query)
        if start is None:  # pragma: no cover - the app always answers
            return
        body = b"".join(chunks)
        headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
        if ascope.receipt is None:
            ctype = next((v for k, v in headers if k == b"content-type"), b"")
            outcome, reason = outcome_for_status(ascope, int(start["status"]), body, ctype)
            try:
                ascope.receipt = await audit.acommit(ascope.to_event(outcome, reason=reason))
            except AuditUnavailable as exc:
                # Fail-closed: the held response (and any plaintext in it) is dropped.
                log.warning("audit entry could not be written (%s); answering 503", exc.slug)
                await send_problem(
                    send, exc, request_id=ascope.request_id, headers=[(b"retry-after", b"5")]
                )
                return
        receipt = ascope.receipt
        headers = [(k, v) for k, v in headers if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        headers.append((_INDEX_HEADER, str(receipt.index).encode()))
        headers.append((_HASH_HEADER, base64.b64encode(receipt.leaf_hash)))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})
