"""RFC 9457 problem details: the one mapping from errors to HTTP.

Every error response, ours or the framework's, is ``application/problem+json``
with ``type``, ``title``, ``status`` and ``detail``; members from
:attr:`StrongroomError.extra` are added as extension members (RFC 9457 §3.2).
Unexpected exceptions become an opaque 500 whose body says nothing about the
cause; the cause is logged with the request id.

Example::

    >>> from strongroom.errors import NotFound
    >>> problem_body(NotFound("nothing at this path"), request_id="r1")["status"]
    404
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from strongroom.errors import StrongroomError
from strongroom.ledger.entry import Outcome
from strongroom.vault.audit import current_scope, outcome_of

__all__ = [
    "PROBLEM_TYPE_BASE",
    "install_problem_handlers",
    "problem_body",
    "problem_response",
    "send_problem",
]

log = logging.getLogger("strongroom.api")

PROBLEM_TYPE_BASE = "urn:strongroom:problem:"
_MEDIA = "application/problem+json"

_HTTP_TITLES = {
    400: ("invalid-input", "Invalid input"),
    401: ("unauthenticated", "Authentication required"),
    403: ("permission-denied", "Permission denied"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    431: ("headers-too-large", "Request header fields too large"),
    500: ("internal", "Internal error"),
}


def problem_body(err: StrongroomError, *, request_id: str | None) -> dict[str, Any]:
    """Build the problem document for a Strongroom error."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + err.slug,
        "title": err.title,
        "status": err.status_code,
        "detail": err.detail,
    }
    for key, value in err.extra.items():
        if key not in body:
            body[key] = value
    if request_id:
        body["request_id"] = request_id
    return body


async def send_problem(
    send: Send,
    err: StrongroomError,
    *,
    request_id: str | None,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Answer ``err`` as a problem document straight from ASGI middleware (no route ran)."""
    body = json.dumps(problem_body(err, request_id=request_id)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": err.status_code,
            "headers": [
                (b"content-type", _MEDIA.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def problem_response(
    status: int, detail: str, *, request_id: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A problem response for a plain HTTP status (framework errors)."""
    slug, title = _HTTP_TITLES.get(status, ("http-error", "HTTP error"))
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, media_type=_MEDIA, headers=headers)


def _rid(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else None


def _fail(outcome: Outcome, reason: str) -> None:
    # Tell the audit trail why the request failed (a 404 may be a policy denial).
    scope = current_scope()
    if scope is not None and scope.failure is None:
        scope.failure = (outcome, reason)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    async def on_strongroom(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StrongroomError):  # pragma: no cover - registered for this type
            raise exc
        _fail(*outcome_of(exc))
        if exc.status_code >= 500:
            log.warning(
                "request failed: %s", exc.diagnostics(), extra={"request_id": _rid(request)}
            )
        return JSONResponse(
            problem_body(exc, request_id=_rid(request)),
            status_code=exc.status_code,
            media_type=_MEDIA,
            headers={"Retry-After": "5"} if exc.status_code == 503 else None,
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        _fail(Outcome.ERROR, "invalid-input")
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        # Never echo the offending input back: it may be a secret value.
        where = sorted({".".join(str(p) for p in e.get("loc", ())) for e in errors})
        detail = "the request does not match the schema" + (
            f" at: {', '.join(where)[:300]}" if where else ""
        )
        return problem_response(400, detail, request_id=_rid(request))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        _fail(Outcome.ERROR, _HTTP_TITLES.get(status, ("http-error", ""))[0])
        detail = {
            404: "no route matches this path",
            405: "method not allowed on this path",
            413: str(getattr(exc, "detail", "the request body is too large")),
        }.get(status, "the request could not be served")
        headers = getattr(exc, "headers", None)
        return problem_response(status, detail, request_id=_rid(request), headers=headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        _fail(Outcome.ERROR, "internal")
        log.error("unexpected error %s", type(exc).__name__, extra={"request_id": _rid(request)})
        return problem_response(500, "internal error", request_id=_rid(request))

    app.add_exception_handler(StrongroomError, on_strongroom)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
