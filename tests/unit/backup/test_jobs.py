"""Backup jobs: one at a time, progress visible, failures recorded, old jobs forgotten."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from strongroom.backup.jobs import KEEP, BackupJobs
from strongroom.errors import Conflict, NotFound, StorageUnavailable


def test_progress_then_result_and_one_job_at_a_time() -> None:
    jobs = BackupJobs()
    release, seen = threading.Event(), threading.Event()
    done: list[tuple[str, Any]] = []

    def run(progress: Any) -> str:
        progress(512, 0)
        seen.set()
        release.wait(10)
        return "snapshot"

    job = jobs.start(
        run, target="t", estimate=1024, on_done=lambda j, r: done.append((j.job_id, r))
    )
    assert seen.wait(10)
    assert jobs.get(job.job_id).bytes_done == 512 and job.state == "running"
    with pytest.raises(Conflict, match=job.job_id):
        jobs.start(run, target="t")
    release.set()
    finished = jobs.wait(job.job_id, timeout=10)
    assert finished.state == "done" and finished.result == "snapshot"
    assert finished.finished_at is not None
    assert done == [(job.job_id, "snapshot")]


def test_a_failure_is_recorded_with_its_problem_type() -> None:
    jobs = BackupJobs()

    def run(_progress: Any) -> str:
        raise StorageUnavailable("the disk is full")

    job = jobs.wait(jobs.start(run, target="t").job_id, timeout=10)
    assert job.state == "failed"
    assert job.error == {"type": "storage-unavailable", "detail": "the disk is full"}


def test_an_unexpected_error_says_nothing_of_itself() -> None:
    jobs = BackupJobs()

    def run(_progress: Any) -> str:
        raise ValueError("secret=hunter2")

    job = jobs.wait(jobs.start(run, target="t").job_id, timeout=10)
    assert job.state == "failed" and "hunter2" not in str(job.error)


def test_the_log_entry_failing_fails_the_job() -> None:
    jobs = BackupJobs()

    def refuse(_job: Any, _result: Any) -> None:
        raise StorageUnavailable("the audit entry could not be written")

    job = jobs.wait(jobs.start(lambda _p: "x", target="t", on_done=refuse).job_id, timeout=10)
    assert job.state == "failed"


def test_old_jobs_are_forgotten() -> None:
    jobs = BackupJobs()
    ids = [jobs.wait(jobs.start(lambda _p: i, target="t").job_id).job_id for i in range(KEEP + 3)]
    with pytest.raises(NotFound):
        jobs.get(ids[0])
    assert jobs.get(ids[-1]).state == "done"
