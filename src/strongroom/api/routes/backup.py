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

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from strongroom.api.deps import CurrentPrincipal, VaultDep, common_responses
from strongroom.backup import Manifest, Repository, Target, open_target
from strongroom.backup.vault_snapshot import backup_database
from strongroom.errors import NotFound, PermissionDenied
from strongroom.vault import Vault
from strongroom.vault.audit import note

__all__ = ["router"]

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
    target = _open(vault, url)
    manifest = backup_database(vault.db, target, keyring=vault.seal.keyring())
    # The log vouches for this snapshot: `backup verify --audit-bundle` finds
    # it here by repository id, and notices if it is later deleted.
    note(
        snapshot=manifest.snapshot_id,
        manifest_root=manifest.root,
        ledger_size=manifest.meta.get("ledger_size"),
        repository=Repository.open(target).repo_id,
    )
    return _summary(manifest, url)


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
