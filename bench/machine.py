"""What the benchmarks ran on, and CPU pinning of the server and the load generator.

Example::

    >>> info = machine_info()
    >>> info["nproc"] >= 1
    True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["CPUPlan", "cpu_plan", "fsync_rate", "machine_info", "pinned", "process_cpu_seconds"]


def _cpu_model() -> str:
    """Return the ``model name`` line of /proc/cpuinfo (or the platform's answer)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    """Return MemTotal from /proc/meminfo in GiB, or ``None``."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_info() -> dict[str, Any]:
    """Describe the machine: CPUs, CPU model, memory, kernel, Python, and the date (UTC)."""
    import cryptography
    import sqlalchemy

    return {
        "nproc": os.cpu_count() or 1,
        "cpus_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "cryptography": cryptography.__version__,
        "openssl": _openssl_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": _sqlite_version(),
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _openssl_version() -> str:
    """Return the OpenSSL version that ``cryptography`` is linked against."""
    from cryptography.hazmat.backends.openssl.backend import backend

    return str(backend.openssl_version_text())


def _sqlite_version() -> str:
    """Return the SQLite library version."""
    import sqlite3

    return sqlite3.sqlite_version


class CPUPlan:
    """Which CPU the server and the load generator get (``None``: no pinning)."""

    def __init__(self, server: int | None, client: int | None, note: str) -> None:
        self.server = server
        self.client = client
        self.note = note

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"server_cpu": self.server, "loadgen_cpu": self.client, "note": self.note}


def cpu_plan() -> CPUPlan:
    """Pin the server to the first available CPU and the load generator to the second.

    With fewer than two CPUs, or without ``sched_setaffinity``, nothing is pinned
    and the two share the machine (the note says so).
    """
    if not hasattr(os, "sched_getaffinity"):
        return CPUPlan(None, None, "no sched_setaffinity on this platform: not pinned")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return CPUPlan(None, None, f"only {len(cpus)} CPU available: server and client share it")
    return CPUPlan(
        cpus[0],
        cpus[1],
        f"server pinned to CPU {cpus[0]}, load generator pinned to CPU {cpus[1]}",
    )


@contextlib.contextmanager
def pinned(cpu: int | None) -> Iterator[None]:
    """Pin this process to ``cpu`` for the duration of the block (no-op for ``None``)."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def process_cpu_seconds(pid: int) -> float | None:
    """Return user + system CPU seconds of process ``pid`` (all threads), or ``None``.

    Read from ``/proc/<pid>/stat`` (fields 14 and 15, in clock ticks).
    """
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields restart after ")".
    fields = raw.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def fsync_rate(directory: Path, *, seconds: float) -> float:
    """Return how many 4 KiB append + ``fdatasync`` cycles per second ``directory``'s disk does.

    The physical ceiling of "one durable commit per write" on this disk
    (a SQLite WAL commit is at least one such sync).
    """
    with tempfile.NamedTemporaryFile(dir=directory) as fh:
        fd = fh.fileno()
        block = b"\0" * 4096
        n = 0
        start = time.perf_counter()
        until = start + seconds
        while time.perf_counter() < until:
            os.write(fd, block)
            os.fdatasync(fd)
            n += 1
        return n / (time.perf_counter() - start)
