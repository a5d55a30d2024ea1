"""ASGI middleware: request ids, body size cap, security headers.

The body cap is enforced on the stream, not only on ``Content-Length``, so a
chunked upload cannot bypass it.

Example::

    >>> BodyLimit.__name__
    'BodyLimit'
"""

from __future__ import annotations

import re
import secrets
import time

import structlog
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strongroom.api.problems import send_problem
from strongroom.errors import HeadersTooLarge, PayloadTooLarge
from strongroom.observability import tracing
from strongroom.observability.logging import ACCESS_LOG
from strongroom.observability.metrics import HTTP_DURATION, HTTP_REQUESTS

__all__ = ["BodyLimit", "HttpMetrics", "RequestContext"]

_RID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]


class _TooLarge(StarletteHTTPException):
    # An HTTPException so that FastAPI's body parsing re-raises it as it is
    # (it turns other exceptions into a 400) and the problem handler renders it.
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class RequestContext:
    """Give each request an id (``X-Request-Id``) and add security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                rid = candidate if _RID.match(candidate) else None
        rid = rid or secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = rid

        status = 500
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                headers.extend(_SECURITY_HEADERS)
                message["headers"] = headers
            await send(message)

        # Every log line of this request carries its id (structlog contextvars;
        # the threads FastAPI runs handlers in inherit the context).
        with structlog.contextvars.bound_contextvars(request_id=rid):
            try:
                await self.app(scope, receive, send_with_headers)
            finally:
                # The route template, never the path: paths hold record names.
                ACCESS_LOG.info(
                    "request",
                    method=scope.get("method"),
                    route=_route(scope),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                )


class BodyLimit:
    """Answer 413 for request bodies above ``limit`` bytes (declared or streamed), and
    431 for headers above ``header_bytes`` in all or ``max_headers`` in number.

    uvicorn's default parser (httptools) sets no limit of its own on header
    size; the check here keeps an oversized request from reaching routing,
    authentication or the vault (it is still audited, as a 431).
    """

    def __init__(
        self, app: ASGIApp, *, limit: int, header_bytes: int = 16384, max_headers: int = 100
    ) -> None:
        self.app = app
        self.limit = limit
        self.header_bytes = header_bytes
        self.max_headers = max_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = scope.get("state", {}).get("request_id")
        headers = scope.get("headers", [])
        size = sum(len(k) + len(v) for k, v in headers) + len(scope.get("query_string", b""))
        if len(headers) > self.max_headers or size > self.header_bytes:
            err = HeadersTooLarge(
                f"the request headers exceed {self.header_bytes} bytes or {self.max_headers} fields"
            )
            await send_problem(send, err, request_id=rid)
            return
        for name, value in headers:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.limit:
                    await self._reject(send, rid)
                    return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send, rid)

    async def _reject(self, send: Send, rid: str | None) -> None:
        err = PayloadTooLarge(f"the request body is larger than {self.limit} bytes")
        await send_problem(send, err, request_id=rid)


class HttpMetrics:
    """Count each HTTP request and time it, by method, route template and status.

    The outermost middleware, so the status is what the client got (a 503
    from the audit trail included). The route is the template FastAPI
    matched, never the path: paths hold record names. A request no route
    took is ``unmatched``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The labelled children, looked up once per (method, route, status):
        # prometheus_client's labels() costs about 10 µs a request otherwise.
        # Bounded: methods are folded to a fixed set, routes are templates.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        raw_method = str(scope.get("method", ""))
        # A client picks the method: anything unusual is one label, not a new series.
        method = raw_method if raw_method in _METHODS else "other"

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        headers = _headers(scope) if tracing.enabled() else {}
        with tracing.server_span(
            f"HTTP {method}", headers, **{"http.request.method": method}
        ) as tr:
            try:
                await self.app(scope, receive, watch)
            finally:
                route = _route(scope)
                key = (method, route, status)
                kids = self._children.get(key)
                if kids is None:
                    kids = self._children[key] = (
                        HTTP_REQUESTS.labels(method=method, route=route, status=str(status)),
                        HTTP_DURATION.labels(method=method, route=route),
                    )
                kids[0].inc()
                kids[1].observe(time.perf_counter() - started)
                if tr is not None:
                    # Named after the template once routing has found it.
                    tr.update_name(f"HTTP {method} {route}")
                    tr.set_attribute("http.route", route)
                    tr.set_attribute("http.response.status_code", status)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "LIST"})


def _route(scope: Scope) -> str:
    """The template of the route that took the request (``unmatched`` if none)."""
    return getattr(scope.get("route"), "path", None) or "unmatched"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
