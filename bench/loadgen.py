"""A lean asyncio HTTP/1.1 keep-alive load generator (closed and open loop).

``httpx`` spends more CPU per request than the server under test, so on a
two-core machine it cannot saturate a server. This client sends pre-encoded
request bytes over ``asyncio.open_connection`` (uvloop when available) and
parses only what it needs: the status line, ``Content-Length`` and the body.
Responses must carry ``Content-Length`` (FastAPI's JSON responses do); chunked
bodies are not supported.

Two schedules:

* :func:`closed_loop` - each connection sends its next request as soon as the
  previous answer arrives: the maximum throughput at that concurrency;
* :func:`open_loop` - requests are *scheduled* at a fixed rate and latency is
  measured from each request's scheduled send time, not from when it was
  actually sent, so a stalled server cannot hide its stall by slowing the
  client down ("coordinated omission", as wrk2 corrects it).

Example::

    >>> build_request("GET", "/livez", host="127.0.0.1:1")[:20]
    b'GET /livez HTTP/1.1\\r'
    >>> parse_head(b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\n")
    (200, 2)
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "LoadResult",
    "RequestFactory",
    "build_request",
    "closed_loop",
    "open_loop",
    "parse_head",
    "run_async",
    "send_all",
]

T = TypeVar("T")

RequestFactory = Callable[[int, int], bytes]
"""``(connection index, sequence number on that connection) -> request bytes``."""

_GRACE_S = 30.0
_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = b"\r\ncontent-length:"


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on uvloop when it is installed, else on the default asyncio loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    result: T = uvloop.run(coro)
    return result


def build_request(
    method: str,
    target: str,
    *,
    host: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    """Encode one HTTP/1.1 keep-alive request (``Content-Length`` is set when a body is given)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("PUT", "POST"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_head(head: bytes) -> tuple[int, int]:
    """Return ``(status, content_length)`` of a response head ending in CRLF CRLF.

    Raises ``ValueError`` for a malformed status line or a missing ``Content-Length``.
    """
    if not head.startswith(b"HTTP/1."):
        raise ValueError("not an HTTP/1.x response")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(_CONTENT_LENGTH)
    if at < 0:
        if status in (204, 304) or 100 <= status < 200:
            return status, 0
        raise ValueError("response without Content-Length")
    start = at + len(_CONTENT_LENGTH)
    end = lower.index(b"\r\n", start)
    return status, int(head[start:end])


@dataclass(slots=True)
class LoadResult:
    """What one load run measured (only the measurement window, not the warm-up)."""

    window_s: float
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    send_lag_s: list[float] = field(default_factory=list)
    scheduled: int = 0
    loadgen_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        """Successful responses per second of the measurement window."""
        return self.ok / self.window_s if self.window_s > 0 else 0.0

    def error_summary(self) -> dict[str, int]:
        """Error counts by status code or exception name."""
        return dict(self.errors)

    @classmethod
    def merge(cls, parts: Sequence[LoadResult]) -> LoadResult:
        """Combine the results of several measurement windows into one."""
        out = cls(window_s=sum(p.window_s for p in parts))
        for p in parts:
            out.ok += p.ok
            out.errors.update(p.errors)
            out.latencies_s.extend(p.latencies_s)
            out.send_lag_s.extend(p.send_lag_s)
            out.scheduled += p.scheduled
            out.loadgen_cpu_s += p.loadgen_cpu_s
        return out


class _Connection:
    """One keep-alive connection; reconnects after an error."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, data: bytes) -> int:
        """Send ``data`` and return the response status (the body is read and dropped)."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        reader = self._reader
        if reader is None:  # pragma: no cover - set together with the writer
            raise RuntimeError("connection not open")
        self._writer.write(data)
        head = await reader.readuntil(_HEAD_END)
        status, length = parse_head(head)
        if length:
            await reader.readexactly(length)
        return status

    def close(self) -> None:
        """Close the socket (errors ignored)."""
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()


async def _guarded(tasks: list[asyncio.Task[None]], timeout_s: float, result: LoadResult) -> None:
    """Wait for ``tasks``; after ``timeout_s`` cancel the rest and count them as timeouts."""
    _done, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for task in pending:
        task.cancel()
        result.errors["timeout"] += 1
    if pending:
        await asyncio.wait(pending)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            result.errors[type(task.exception()).__name__] += 1


async def closed_loop(
    host: str,
    port: int,
    *,
    make_request: RequestFactory,
    connections: int,
    duration_s: float,
    warmup_s: float,
) -> LoadResult:
    """Drive ``connections`` keep-alive connections flat out for ``warmup_s + duration_s``.

    Responses that complete inside the measurement window (after the warm-up)
    are counted; a 200 counts as success, anything else as an error by status.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from = start + warmup_s
    until = measure_from + duration_s
    result = LoadResult(window_s=duration_s)
    clock = time.perf_counter
    mono = loop.time
    cpu0 = time.process_time()

    async def worker(index: int) -> None:
        conn = _Connection(host, port)
        seq = 0
        latencies = result.latencies_s
        errors = result.errors
        try:
            while mono() < until:
                data = make_request(index, seq)
                seq += 1
                t0 = clock()
                try:
                    status = await conn.request(data)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    conn.close()
                    if mono() >= measure_from:
                        errors[type(exc).__name__] += 1
                    continue
                elapsed = clock() - t0
                now = mono()
                if measure_from <= now <= until:
                    if status == 200:
                        result.ok += 1
                        latencies.append(elapsed)
                    else:
                        errors[str(status)] += 1
        finally:
            conn.close()

    tasks = [asyncio.create_task(worker(i)) for i in range(connections)]
    await _guarded(tasks, warmup_s + duration_s + _GRACE_S, result)
    result.loadgen_cpu_s = time.process_time() - cpu0
    return result


async def open_loop(
    host: str,
    port: int,
    *,
    make_request: RequestFactory,
    rate: float,
    connections: int,
    duration_s: float,
    warmup_s: float,
) -> LoadResult:
    """Offer ``rate`` requests per second on a fixed schedule; latency from scheduled time.

    Request ``i`` is due at ``start + i / rate``. An idle connection takes the
    next due request, waits until its due time and sends it; if every
    connection is busy the request waits, and that wait counts in its latency.
    ``send_lag_s`` records how late each request actually left (timer
    granularity plus queueing), so the client's own contribution is visible.
    """
    clock = time.perf_counter
    period = 1.0 / rate
    total = round((warmup_s + duration_s) * rate)
    first_measured = round(warmup_s * rate)
    result = LoadResult(window_s=duration_s, scheduled=total - first_measured)
    counter = iter(range(total))
    start = clock() + 0.05
    measure_from = start + first_measured * period
    last_done = measure_from
    cpu0 = time.process_time()

    async def worker(index: int) -> None:
        nonlocal last_done
        conn = _Connection(host, port)
        seq = 0
        try:
            for i in counter:
                due = start + i * period
                delay = due - clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                data = make_request(index, seq)
                seq += 1
                sent = clock()
                try:
                    status = await conn.request(data)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    conn.close()
                    if i >= first_measured:
                        result.errors[type(exc).__name__] += 1
                    continue
                done = clock()
                if i < first_measured:
                    continue
                last_done = max(last_done, done)
                if status == 200:
                    result.ok += 1
                    result.latencies_s.append(done - due)
                    result.send_lag_s.append(sent - due)
                else:
                    result.errors[str(status)] += 1
        finally:
            conn.close()

    tasks = [asyncio.create_task(worker(i)) for i in range(connections)]
    await _guarded(tasks, warmup_s + duration_s + _GRACE_S, result)
    result.loadgen_cpu_s = time.process_time() - cpu0
    # The achieved rate is measured over the span from the first measured due
    # time to the last completion, so a server that falls behind shows a rate
    # below the offered one.
    result.window_s = max(last_done - measure_from, duration_s)
    return result


async def send_all(
    host: str, port: int, *, requests: Sequence[bytes], connections: int
) -> LoadResult:
    """Send every request in ``requests`` once, spread over ``connections`` connections.

    Used to load fixtures (records to read back); the result counts 200s and errors.
    """
    result = LoadResult(window_s=0.0)
    start = time.perf_counter()

    async def worker(index: int) -> None:
        conn = _Connection(host, port)
        try:
            for i in range(index, len(requests), connections):
                try:
                    status = await conn.request(requests[i])
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    conn.close()
                    result.errors[type(exc).__name__] += 1
                    continue
                if status == 200:
                    result.ok += 1
                else:
                    result.errors[str(status)] += 1
        finally:
            conn.close()

    tasks = [asyncio.create_task(worker(i)) for i in range(connections)]
    await _guarded(tasks, 600.0, result)
    result.window_s = time.perf_counter() - start
    return result
