"""Copies of the audit log for the tools operators already run: JSON lines and syslog.

The Merkle log in the database is the record of truth; sinks get a copy of
each entry *after* it is durable, from a background thread, so a slow or
absent SIEM never holds up a request. A copy lost in a crash is still in the
log (``strongroom audit tail`` or ``export`` replays it).

* :class:`JsonLinesSink` appends each entry's exact canonical bytes and a
  newline to a file (or standard output), the format ``jq`` and every log
  shipper read.
* :class:`SyslogSink` sends RFC 5424 messages over UDP, TCP (octet-counted
  framing, RFC 6587 §3.4.1) or a Unix datagram socket such as ``/dev/log``.
  Facility ``authpriv`` (10); severity notice for allowed, warning for denied,
  error for errors; MSGID is the event name; MSG is a UTF-8 BOM and the
  canonical entry (RFC 5424 §6.4).

Example::

    >>> syslog_message(b'{"event":"kv:record:read","outcome":"allowed","seq":0}',
    ...                hostname="vault1", time="2026-12-01T09:00:00.000000Z")[:40]
    b'<85>1 2026-12-01T09:00:00.000000Z vault1'
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import sys
import threading
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import urlsplit

from strongroom.errors import InvalidInput

__all__ = [
    "AuditSink",
    "JsonLinesSink",
    "SinkPump",
    "SyslogSink",
    "sinks_from_settings",
    "syslog_message",
]

log = logging.getLogger("strongroom.audit")

_FACILITY_AUTHPRIV = 10
_SEVERITY = {"allowed": 5, "denied": 4, "error": 3}
_BOM = b"\xef\xbb\xbf"
_QUEUE_MAX = 100_000


class AuditSink(Protocol):
    """Somewhere a copy of each durable entry goes."""

    def emit(self, entry: bytes) -> None:
        """Deliver one entry's canonical bytes (may raise OSError)."""
        ...

    def close(self) -> None:
        """Release the destination."""
        ...


class JsonLinesSink:
    """Append entries as JSON lines to a file, or to standard output for ``-``."""

    def __init__(self, target: str) -> None:
        self._own = target != "-"
        if self._own:
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._out: IO[bytes] = os.fdopen(fd, "ab")
        else:
            self._out = sys.stdout.buffer

    def emit(self, entry: bytes) -> None:
        """Write one line and flush it."""
        self._out.write(entry + b"\n")
        self._out.flush()

    def close(self) -> None:
        """Close the file (standard output is left open)."""
        if self._own:
            self._out.close()


def syslog_message(entry: bytes, *, hostname: str, time: str, app: str = "strongroom") -> bytes:
    """Format one entry as an RFC 5424 message (header, no structured data, BOM + JSON)."""
    try:
        obj = json.loads(entry)
        outcome, event = str(obj.get("outcome", "")), str(obj.get("event", "-"))
    except ValueError:
        outcome, event = "error", "-"
    pri = _FACILITY_AUTHPRIV * 8 + _SEVERITY.get(outcome, 5)
    # RFC 5424 §6.2: HOSTNAME, APP-NAME, PROCID and MSGID are printable
    # US-ASCII without spaces; MSGID at most 32 characters.
    msgid = "".join(c for c in event if 33 <= ord(c) <= 126)[:32] or "-"
    host = "".join(c for c in hostname if 33 <= ord(c) <= 126)[:255] or "-"
    header = f"<{pri}>1 {time} {host} {app} {os.getpid()} {msgid} -"
    return header.encode("ascii") + b" " + _BOM + entry


class SyslogSink:
    """Send entries to syslog: ``udp://host:port``, ``tcp://host:port`` or ``unix:/path``."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._hostname = socket.gethostname()
        self._tcp = parts.scheme == "tcp"
        if parts.scheme in ("udp", "tcp"):
            if not parts.hostname:
                raise InvalidInput("the syslog URL needs a host, e.g. udp://127.0.0.1:514")
            kind = socket.SOCK_STREAM if self._tcp else socket.SOCK_DGRAM
            self._addr: str | tuple[str, int] = (parts.hostname, parts.port or 514)
            self._sock = socket.socket(socket.AF_INET, kind)
            if self._tcp:
                self._sock.connect(self._addr)
        elif parts.scheme == "unix":
            self._addr = parts.path
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        else:
            raise InvalidInput("the syslog URL must start with udp://, tcp:// or unix:")

    def emit(self, entry: bytes) -> None:
        """Send one message (timestamp from the entry itself, so copies match the log)."""
        try:
            when = str(json.loads(entry).get("time", "-"))
        except ValueError:
            when = "-"
        msg = syslog_message(entry, hostname=self._hostname, time=when)
        if self._tcp:
            # RFC 6587 §3.4.1 octet counting: "LEN SP MSG".
            self._sock.sendall(str(len(msg)).encode() + b" " + msg)
        else:
            self._sock.sendto(msg, self._addr)

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()


class SinkPump:
    """One background thread feeding every sink, in log order."""

    def __init__(self, sinks: list[AuditSink]) -> None:
        self._sinks = sinks
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_MAX)
        self._thread = threading.Thread(
            target=self._run, name="strongroom-audit-sinks", daemon=True
        )
        self._dropped = 0
        self._thread.start()

    def put(self, entry: bytes) -> None:
        """Queue a durable entry (never blocks: a full queue drops and counts)."""
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self._dropped += 1

    def close(self) -> None:
        """Deliver what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=10)
        for sink in self._sinks:
            with contextlib.suppress(OSError):
                sink.close()

    def _run(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is None:
                return
            for sink in self._sinks:
                try:
                    sink.emit(entry)
                except OSError as exc:
                    log.warning("audit sink %s failed: %s", type(sink).__name__, exc)


def sinks_from_settings(jsonl: str | None, syslog: str | None) -> SinkPump | None:
    """Build the pump for the configured sinks (None when there are none)."""
    sinks: list[AuditSink] = []
    if jsonl:
        sinks.append(JsonLinesSink(jsonl))
    if syslog:
        sinks.append(SyslogSink(syslog))
    return SinkPump(sinks) if sinks else None
