"""Backups requested over HTTP run as jobs: the client follows their progress.

A backup of a large vault takes minutes, and the audit middleware holds
every response until its entry is durable, so a response cannot stream
progress. Instead ``POST /v1/sys/backups/jobs`` starts a :class:`BackupJob`
on a thread and answers at once; ``GET /v1/sys/backups/jobs/{id}`` reports
bytes done, an estimate of the total, and at the end the snapshot or the
error. ``strongroom backup create`` polls it to draw its progress bar.

One job runs at a time per server (a second request gets a conflict naming
the running one); the last :data:`KEEP` finished jobs stay visible.

Example::

    >>> jobs = BackupJobs()
    >>> job = jobs.start(lambda progress: progress(10, 10) or "done", target="t")
    >>> jobs.wait(job.job_id, timeout=5).state
    'done'
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from strongroom.errors import Conflict, NotFound, StrongroomError

__all__ = ["KEEP", "BackupJob", "BackupJobs"]

log = logging.getLogger(__name__)

KEEP: Final = 20
"""Finished jobs remembered (oldest forgotten first)."""

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class BackupJob:
    """One backup run and what is known about it so far."""

    job_id: str
    target: str
    started_at: float
    state: str = "running"
    """``running``, ``done`` or ``failed``."""
    bytes_done: int = 0
    bytes_estimate: int = 0
    """A guess of the export's size (0: unknown); ``bytes_done`` may pass it."""
    finished_at: float | None = None
    result: Any = None
    """Whatever the runner returned (the snapshot), once done."""
    error: dict[str, str] | None = None
    """``{"type": slug, "detail": …}`` once failed."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def progress(self, done: int, _total: int) -> None:
        """The runner's progress callback."""
        with self.lock:
            self.bytes_done = done


class BackupJobs:
    """The jobs of one server: at most one running, the last :data:`KEEP` remembered."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._jobs: OrderedDict[str, BackupJob] = OrderedDict()
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(
        self,
        run: Callable[[Progress], Any],
        *,
        target: str,
        estimate: int = 0,
        on_done: Callable[[BackupJob, Any], None] | None = None,
    ) -> BackupJob:
        """Start ``run(progress)`` on a thread; Conflict while another job runs.

        ``on_done(job, result)`` runs on the job's thread after ``run`` returns
        (the audit entry naming the snapshot); if it raises, the job fails.
        """
        with self._lock:
            for job in self._jobs.values():
                if job.state == "running":
                    raise Conflict(f"backup job {job.job_id} is still running")
            job = BackupJob(
                job_id=secrets.token_hex(8),
                target=target,
                started_at=self._clock(),
                bytes_estimate=estimate,
            )
            self._jobs[job.job_id] = job
            while len(self._jobs) > KEEP:
                self._jobs.popitem(last=False)
            thread = threading.Thread(
                target=self._run, args=(job, run, on_done), name="strongroom-backup-job"
            )
            self._threads[job.job_id] = thread
        thread.start()
        return job

    def _run(
        self,
        job: BackupJob,
        run: Callable[[Progress], Any],
        on_done: Callable[[BackupJob, Any], None] | None,
    ) -> None:
        try:
            result = run(job.progress)
            if on_done is not None:
                on_done(job, result)
        except StrongroomError as exc:
            with job.lock:
                job.error = {"type": exc.slug, "detail": exc.detail}
                job.state, job.finished_at = "failed", self._clock()
        except Exception as exc:  # noqa: BLE001 - a job thread must record, not vanish
            # The type only: a traceback could carry values from the vault.
            log.error("backup job %s failed: %s", job.job_id, type(exc).__name__)  # noqa: TRY400
            with job.lock:
                job.error = {"type": "internal", "detail": "the backup failed unexpectedly"}
                job.state, job.finished_at = "failed", self._clock()
        else:
            with job.lock:
                job.result = result
                job.state, job.finished_at = "done", self._clock()
        finally:
            with self._lock:
                self._threads.pop(job.job_id, None)

    def get(self, job_id: str) -> BackupJob:
        """The job ``job_id``; NotFound if unknown or forgotten."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no backup job {job_id!r}")
        return job

    def wait(self, job_id: str, timeout: float | None = None) -> BackupJob:
        """Wait for ``job_id`` to finish (tests and shutdown)."""
        with self._lock:
            thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
        return self.get(job_id)

    def close(self, timeout: float = 60.0) -> None:
        """Wait for a running job (a server stopping finishes its backup first)."""
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)
