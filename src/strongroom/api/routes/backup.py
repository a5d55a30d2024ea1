"""``/v1/sys/backups``: take a snapshot of the serving vault; list snapshots (operators only).

The target is the configured ``backup_target`` (default ``<data_dir>/backups``)
or one of ``backup_targets``: a client can never make the server write
somewhere the operator did not allow. The snapshot's manifest root goes into
the request's audit entry (``sys:backup:create``), so every snapshot is
provably in the log.

Example::

    >>> router.prefix
    '/v1/sys/backups'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from strongroom.api.deps import CurrentPrincipal, VaultDep, common_responses
from strongroom.backup import Manifest, Repository, Target, open_target
from strongroom.backup.jobs import BackupJob, BackupJobs
from strongroom.backup.log_check import logged_details
from strongroom.backup.schedule import BackupScheduler
from strongroom.backup.vault_snapshot import backup_database, estimate_export_size
from strongroom.crypto import Keyring
from strongroom.errors import NotFound, PermissionDenied
from strongroom.ledger.entry import AuditEvent, Event, Outcome
from strongroom.types import SealState
from strongroom.vault import Vault
from strongroom.vault.audit import note

__all__ = ["router", "scheduler_for"]

router = APIRouter(prefix="/v1/sys/backups", tags=["backup"])


class BackupRequest(BaseModel):
    """``POST /v1/sys/backups``."""

    model_config = ConfigDict(extra="forbid")
    target: str | None = Field(default=None, max_length=2048)


def _target_url(vault: Vault, asked: str | None) -> str:
    default = vault.settings.effective_backup_target()
    if asked is None or asked == default:
        return default
    if asked in vault.settings.backup_targets:
        return asked
    raise PermissionDenied("that target is not in the server's backup_targets")


def _open(vault: Vault, url: str) -> Target:
    settings = vault.settings
    return open_target(
        url, s3_endpoint=settings.backup_s3_endpoint, s3_region=settings.backup_s3_region
    )


def _summary(m: Manifest, target: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "snapshot_id": m.snapshot_id,
        "created": m.created,
        "root": m.root,
        "ledger_size": m.meta.get("ledger_size"),
        "size": m.size,
        "target": target,
    }
    if m.stats is not None:
        out["stats"] = {
            "bytes_read": m.stats.bytes_read,
            "chunks_total": m.stats.chunks_total,
            "chunks_new": m.stats.chunks_new,
            "bytes_stored_new": m.stats.bytes_stored_new,
        }
    return out


@router.post("", responses=common_responses())
def create(
    vault: VaultDep, principal: CurrentPrincipal, body: BackupRequest | None = None
) -> dict[str, Any]:
    """Snapshot the whole vault (records, keys wrapped, policies, tokens as hashes, the log)."""
    principal.require_operator()
    url = _target_url(vault, (body or BackupRequest()).target)
    manifest = backup_database(
        vault.db, _open(vault, url), keyring=vault.seal.keyring(), key_window_s=_window(vault)
    )
    # The log vouches for this snapshot: `backup verify --audit-bundle` finds
    # it here by repository id, and notices if it is later deleted.
    note(**logged_details(manifest))
    return _summary(manifest, url)


def _window(vault: Vault) -> float:
    """The key-backup window in seconds (see :mod:`strongroom.backup.subject_keys`)."""
    return vault.settings.subject_key_backup_days * 86400.0


def _job_view(job: BackupJob) -> dict[str, Any]:
    with job.lock:
        out: dict[str, Any] = {
            "job_id": job.job_id,
            "state": job.state,
            "target": job.target,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "bytes_done": job.bytes_done,
            "bytes_estimate": job.bytes_estimate,
        }
        if job.state == "done" and isinstance(job.result, Manifest):
            out["snapshot"] = _summary(job.result, job.target)
        if job.error is not None:
            out["error"] = dict(job.error)
    return out


def _jobs(request: Request) -> BackupJobs:
    jobs: BackupJobs = request.app.state.backup_jobs
    return jobs


@router.post("/jobs", status_code=202, responses=common_responses(409))
def start_job(
    vault: VaultDep,
    principal: CurrentPrincipal,
    request: Request,
    body: BackupRequest | None = None,
) -> dict[str, Any]:
    """Start a backup and answer at once; follow it at ``GET /v1/sys/backups/jobs/{job_id}``.

    When the snapshot is stored, its own ``sys:backup:create`` entry (by the
    same principal) names it and its manifest root, as for ``POST
    /v1/sys/backups``.
    """
    principal.require_operator()
    url = _target_url(vault, (body or BackupRequest()).target)
    target = _open(vault, url)
    keyring = vault.seal.keyring()

    def run(progress: Callable[[int, int], None]) -> Manifest:
        return backup_database(
            vault.db, target, keyring=keyring, progress=progress, key_window_s=_window(vault)
        )

    def logged(job: BackupJob, manifest: Manifest) -> None:
        vault.audit.commit(
            AuditEvent(
                event=Event.SYS_BACKUP_CREATE,
                principal=principal.accessor,
                tenant=principal.tenant,
                resource="sys/backups",
                outcome=Outcome.ALLOWED,
                request_id=f"job-{job.job_id}",
                policy_version=principal.policy_version or None,
                details={**logged_details(manifest), "job": job.job_id},
            )
        )

    job = _jobs(request).start(
        run, target=url, estimate=estimate_export_size(vault.db), on_done=logged
    )
    note(job=job.job_id, target=url)
    return _job_view(job)


@router.get("/jobs/{job_id}", responses=common_responses())
def get_job(principal: CurrentPrincipal, request: Request, job_id: str) -> dict[str, Any]:
    """A backup job: running (bytes done, estimated total), done (the snapshot) or failed."""
    principal.require_operator()
    return _job_view(_jobs(request).get(job_id))


def scheduler_for(vault: Vault) -> BackupScheduler | None:
    """The scheduled-backup thread for ``vault``, if ``backup_interval_s`` is set."""
    interval = vault.settings.backup_interval_s
    if not interval:
        return None
    url = vault.settings.effective_backup_target()

    def keyring() -> Keyring | None:
        return vault.seal.keyring() if vault.state() is SealState.UNSEALED else None

    def logged(manifest: Manifest) -> None:
        # A scheduled snapshot is vouched for in the log like a requested one.
        vault.audit.commit(
            AuditEvent(
                event=Event.SYS_BACKUP_CREATE,
                principal="system",
                tenant="default",
                resource="sys/backups",
                outcome=Outcome.ALLOWED,
                request_id=f"schedule-{manifest.snapshot_id[:16]}",
                details={**logged_details(manifest), "scheduled": True},
            )
        )

    return BackupScheduler(
        vault.db,
        _open(vault, url),
        interval_s=interval,
        keyring=keyring,
        on_snapshot=logged,
        key_window_s=_window(vault),
    )


@router.get("/status", responses=common_responses())
def status(vault: VaultDep, principal: CurrentPrincipal, request: Request) -> dict[str, Any]:
    """Scheduled backups: interval, last success and last error (UNIX seconds)."""
    principal.require_operator()
    sched: BackupScheduler | None = getattr(request.app.state, "backup_scheduler", None)
    out: dict[str, Any] = {
        "interval_s": vault.settings.backup_interval_s,
        "target": vault.settings.effective_backup_target(),
    }
    if sched is not None:
        st = sched.status
        out.update(
            last_success=st.last_success,
            last_snapshot=st.last_snapshot,
            last_error=st.last_error,
            last_error_at=st.last_error_at,
            runs=st.runs,
        )
    return out


@router.get("", responses=common_responses())
def list_snapshots(vault: VaultDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Snapshots in the default target, oldest first."""
    principal.require_operator()
    url = vault.settings.effective_backup_target()
    target = _open(vault, url)
    if not target.exists("config"):
        raise NotFound("no backup has been made to the default target yet")
    snaps = Repository.open(target).list_snapshots()
    return {"snapshots": [_summary(m, url) for m in snaps]}
