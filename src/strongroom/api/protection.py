"""Rate limits and lockouts: 429 with ``Retry-After`` before a request reaches the vault.

Two limits, counted with the ``limits`` library's sliding-window counters:
requests per token and requests per client address. Over either, the
request is answered 429 at once, with ``Retry-After``.

Lockout: failed authentications (a 401: unknown, expired or revoked
token), token lookups, renewals or revocations naming a token that does not
exist (404), and failed unseal attempts (a refused share or passphrase)
from one address are counted; ``lockout_threshold`` of them within
``lockout_window_s`` lock the address out for ``lockout_base_s``, doubling
with each further lockout within a day, up to ``lockout_max_s``. A lockout
is recorded in the audit log (``auth:client:lockout``, the address as a
keyed hash) and counted in the metrics.

Counters live in memory, or in Redis (``rate_limit_storage``) so that
several API replicas share them. Keys never hold a token or an address in
clear: tokens go in as SHA-256 digests (they are random, so the digest
reveals nothing), addresses as digests salted with the namespace (not a
secret; the keys expire with their window). If Redis cannot
be reached, requests go through (fail open: the vault must stay
reachable) and ``strongroom_rate_limit_errors_total`` counts it.

Rejected requests are not written to the audit log one by one (a flood
would turn into a flood of durable writes); they are counted in
``strongroom_rate_limited_total{scope}``, and each lockout is audited.

Example::

    >>> Retry.after(2.1)
    3
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter as SyncSlidingWindowCounterRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strongroom.api.audit import UNAUDITED_PATHS
from strongroom.api.deps import token_from_headers
from strongroom.api.problems import send_problem
from strongroom.config import Settings
from strongroom.errors import RateLimited
from strongroom.ledger.entry import AuditEvent, Event, Outcome
from strongroom.observability.metrics import LOCKOUTS, RATE_LIMIT_ERRORS, RATE_LIMITED
from strongroom.vault import Vault

__all__ = ["Guard", "Retry", "Throttle"]

log = logging.getLogger(__name__)

_DAY: Final = 86_400
_UNSEAL: Final = "/v1/sys/unseal"
_TOKEN_PROBES: Final = frozenset(
    {"/v1/auth/token/lookup", "/v1/auth/token/renew", "/v1/auth/token/revoke"}
)


class Retry:
    """``Retry-After`` arithmetic."""

    @staticmethod
    def after(seconds: float) -> int:
        """Whole seconds to wait, at least 1 (RFC 9110 §10.2.3 takes integers)."""
        return max(1, math.ceil(seconds))


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused, and for how long."""

    scope: str
    """``token``, ``ip`` or ``lockout``."""
    retry_after: int
    detail: str


class _MemoryCounters:
    """``limits``' sliding-window counter over its synchronous memory storage.

    Every request consults the counters, and ``limits``' asynchronous memory
    storage schedules an asyncio task per hit to expire keys (measured at
    about 50 µs a request in place); the synchronous one costs a few µs and
    expires keys from one timer thread. The methods are coroutines only to
    share :class:`_RedisCounters`' shape.
    """

    def __init__(self) -> None:
        self._store = MemoryStorage()
        self._limiter = SyncSlidingWindowCounterRateLimiter(self._store)

    async def hit(self, item: RateLimitItem, *ids: str) -> bool:
        return self._limiter.hit(item, *ids)

    async def reset_time(self, item: RateLimitItem, *ids: str) -> float:
        return self._limiter.get_window_stats(item, *ids).reset_time

    async def get(self, key: str) -> int:
        return self._store.get(key)

    async def get_expiry(self, key: str) -> float:
        return self._store.get_expiry(key)

    async def incr(self, key: str, expiry: int) -> int:
        return self._store.incr(key, expiry)

    async def clear(self, key: str) -> None:
        self._store.clear(key)


class _RedisCounters:
    """The same over Redis, with the asynchronous client (a slow Redis never blocks the loop)."""

    def __init__(self, uri: str) -> None:
        store = storage_from_string(f"async+{uri}", implementation="redispy")
        if not isinstance(store, Storage):  # pragma: no cover - "async+" gives async storage
            raise TypeError("expected an async rate-limit storage")
        self._store = store
        self._limiter = SlidingWindowCounterRateLimiter(store)

    async def hit(self, item: RateLimitItem, *ids: str) -> bool:
        return await self._limiter.hit(item, *ids)

    async def reset_time(self, item: RateLimitItem, *ids: str) -> float:
        return (await self._limiter.get_window_stats(item, *ids)).reset_time

    async def get(self, key: str) -> int:
        return await self._store.get(key)

    async def get_expiry(self, key: str) -> float:
        return await self._store.get_expiry(key)

    async def incr(self, key: str, expiry: int) -> int:
        return await self._store.incr(key, expiry)

    async def clear(self, key: str) -> None:
        await self._store.clear(key)


class Guard:
    """The limiter and lockout state of one server (see the module docstring)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        uri = settings.rate_limit_storage
        self._storage: _MemoryCounters | _RedisCounters = (
            _MemoryCounters() if uri.startswith("memory://") else _RedisCounters(uri)
        )
        self._per_token = _rate(settings.rate_limit_per_token)
        self._per_ip = _rate(settings.rate_limit_per_ip)
        self._ns = settings.rate_limit_namespace
        self._threshold = settings.lockout_threshold
        self._window = settings.lockout_window_s
        self._base = settings.lockout_base_s
        self._max = settings.lockout_max_s
        self._clock = clock

    def _ip_key(self, ip: str) -> str:
        return hashlib.sha256(f"{self._ns}|{ip}".encode()).hexdigest()[:32]

    async def check(self, ip: str | None, token: str | None) -> Refusal | None:
        """Count this request; a :class:`Refusal` if it must be turned away."""
        try:
            return await self._check(ip, token)
        except Exception as exc:  # noqa: BLE001 - the store is down: fail open, loudly
            RATE_LIMIT_ERRORS.inc()
            log.warning(
                "rate-limit store unavailable (%s): request let through", type(exc).__name__
            )
            return None

    async def _check(self, ip: str | None, token: str | None) -> Refusal | None:
        if ip is not None:
            ipk = self._ip_key(ip)
            locked = await self._locked(ipk)
            if locked is not None:
                return Refusal(
                    "lockout",
                    locked,
                    "too many failed attempts from this address: locked out for a while",
                )
            refused = await self._hit(self._per_ip, "ip", ipk)
            if refused is not None:
                return Refusal("ip", refused, "too many requests from this address")
        if token:
            tk = hashlib.sha256(token.encode()).hexdigest()[:32]
            refused = await self._hit(self._per_token, "token", tk)
            if refused is not None:
                return Refusal("token", refused, "too many requests with this token")
        return None

    async def _hit(self, item: RateLimitItem | None, kind: str, key: str) -> int | None:
        if item is None:
            return None
        if await self._storage.hit(item, self._ns, kind, key):
            return None
        reset = await self._storage.reset_time(item, self._ns, kind, key)
        return Retry.after(reset - self._clock())

    async def _locked(self, ipk: str) -> int | None:
        key = f"{self._ns}/lock/{ipk}"
        if not await self._storage.get(key):
            return None
        return Retry.after(await self._storage.get_expiry(key) - self._clock())

    async def failed(self, ip: str | None) -> float | None:
        """Count a failed attempt from ``ip``; the lockout's length if this one starts it."""
        if ip is None or self._threshold <= 0:
            return None
        try:
            return await self._failed(self._ip_key(ip))
        except Exception as exc:  # noqa: BLE001 - fail open, as in check()
            RATE_LIMIT_ERRORS.inc()
            log.warning(
                "rate-limit store unavailable (%s): failure not counted", type(exc).__name__
            )
            return None

    async def _failed(self, ipk: str) -> float | None:
        failures = await self._storage.incr(f"{self._ns}/fail/{ipk}", math.ceil(self._window))
        if failures < self._threshold:
            return None
        await self._storage.clear(f"{self._ns}/fail/{ipk}")
        strikes = await self._storage.incr(f"{self._ns}/strikes/{ipk}", _DAY)
        seconds = math.ceil(min(self._base * 2 ** (strikes - 1), self._max))
        await self._storage.incr(f"{self._ns}/lock/{ipk}", seconds)
        return float(seconds)


def _rate(text: str) -> RateLimitItem | None:
    return parse(text) if text.strip() else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class Throttle:
    """ASGI middleware applying a :class:`Guard` (outside the audit trail: see the docstring)."""

    def __init__(self, app: ASGIApp, *, guard: Guard, vault: Vault) -> None:
        self.app = app
        self.guard = guard
        self.vault = vault

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http" or scope["path"] in UNAUDITED_PATHS:
            # Liveness and readiness probes come from the load balancer, often.
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = str(client[0]) if client else None
        token = token_from_headers(
            _header(scope, b"x-strongroom-token"), _header(scope, b"authorization")
        )
        refusal = await self.guard.check(ip, token)
        if refusal is not None:
            RATE_LIMITED.labels(scope=refusal.scope).inc()
            err = RateLimited(refusal.detail, retry_after=refusal.retry_after)
            await send_problem(
                send,
                err,
                request_id=str(scope.get("state", {}).get("request_id", "")) or None,
                headers=[(b"retry-after", str(refusal.retry_after).encode())],
            )
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if _is_failure(scope, status):
            seconds = await self.guard.failed(ip)
            if seconds is not None:
                await self._record_lockout(ip, seconds, scope)

    async def _record_lockout(self, ip: str | None, seconds: float, scope: Scope) -> None:
        LOCKOUTS.inc()
        audit = self.vault.audit
        event = AuditEvent(
            event=Event.AUTH_CLIENT_LOCKOUT,
            principal="anonymous",
            tenant="default",
            resource=str(scope.get("path", ""))[:1024],
            outcome=Outcome.DENIED,
            request_id=str(scope.get("state", {}).get("request_id", "")),
            reason="too-many-failures",
            client=audit.client_ref(ip),
            network=audit.network_ref(ip),
            details={"seconds": seconds},
        )
        try:
            await audit.acommit(event)
        except Exception as exc:  # noqa: BLE001 - the lockout holds even if it cannot be logged
            log.warning("lockout could not be audited (%s)", type(exc).__name__)


def _is_failure(scope: Scope, status: int) -> bool:
    """A failed authentication, a token lookup that missed, or a refused unseal share."""
    if status == 401:
        return True
    if scope.get("method") != "POST":
        return False
    path = scope.get("path")
    # Guessing tokens through lookup, renew or revoke by value answers 404:
    # as much an authentication failure as presenting one.
    if path in _TOKEN_PROBES:
        return status == 404
    return path == _UNSEAL and status in (400, 403)
