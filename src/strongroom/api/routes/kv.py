"""KV v2 routes, shaped like HashiCorp Vault's.

Paths: ``/v1/{mount}/data|metadata|delete|undelete|destroy/{path}``.

Example::

    >>> router.tags
    ['kv']
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from strongroom.api.deps import CurrentPrincipal, VaultDep, common_responses
from strongroom.api.schemas import KVMetadataWrite, KVVersions, KVWrite

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["kv"])

_WRITE = common_responses(409)


@router.get("/{mount}/data/{path:path}", responses=common_responses())
def read(
    vault: VaultDep,
    principal: CurrentPrincipal,
    mount: str,
    path: str,
    version: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> dict[str, Any]:
    """Read a version (default: current)."""
    res = vault.kv.get(principal, mount, path, version=version)
    return {
        "data": {
            "data": res.data,
            "metadata": {**res.info.to_dict(), "custom_metadata": res.custom_metadata},
        }
    }


def _write(vault: Any, principal: Any, mount: str, path: str, body: KVWrite) -> dict[str, Any]:
    info = vault.kv.put(
        principal, mount, path, body.data, cas=body.options.cas, subject=body.options.subject
    )
    return {"data": info.to_dict()}


@router.put("/{mount}/data/{path:path}", responses=_WRITE)
def write(
    vault: VaultDep, principal: CurrentPrincipal, mount: str, path: str, body: KVWrite
) -> dict[str, Any]:
    """Write a new version (``options.cas`` for check-and-set, 0 = create only)."""
    return _write(vault, principal, mount, path, body)


@router.post("/{mount}/data/{path:path}", responses=_WRITE)
def write_post(
    vault: VaultDep, principal: CurrentPrincipal, mount: str, path: str, body: KVWrite
) -> dict[str, Any]:
    """Same as PUT (Vault accepts both)."""
    return _write(vault, principal, mount, path, body)


@router.delete("/{mount}/data/{path:path}", status_code=204, responses=common_responses())
def delete_latest(vault: VaultDep, principal: CurrentPrincipal, mount: str, path: str) -> Response:
    """Soft-delete the current version."""
    vault.kv.delete(principal, mount, path)
    return Response(status_code=204)


@router.post("/{mount}/delete/{path:path}", status_code=204, responses=common_responses())
def delete_versions(
    vault: VaultDep, principal: CurrentPrincipal, mount: str, path: str, body: KVVersions
) -> Response:
    """Soft-delete chosen versions."""
    vault.kv.delete(principal, mount, path, versions=body.versions or None)
    return Response(status_code=204)


@router.post("/{mount}/undelete/{path:path}", status_code=204, responses=common_responses())
def undelete(
    vault: VaultDep, principal: CurrentPrincipal, mount: str, path: str, body: KVVersions
) -> Response:
    """Restore soft-deleted versions."""
    vault.kv.undelete(principal, mount, path, versions=body.versions)
    return Response(status_code=204)


@router.put("/{mount}/destroy/{path:path}", status_code=204, responses=common_responses())
def destroy(
    vault: VaultDep, principal: CurrentPrincipal, mount: str, path: str, body: KVVersions
) -> Response:
    """Destroy chosen versions for good."""
    vault.kv.destroy(principal, mount, path, versions=body.versions)
    return Response(status_code=204)


@router.post("/{mount}/destroy/{path:path}", status_code=204, responses=common_responses())
def destroy_post(
    vault: VaultDep, principal: CurrentPrincipal, mount: str, path: str, body: KVVersions
) -> Response:
    """Same as PUT."""
    vault.kv.destroy(principal, mount, path, versions=body.versions)
    return Response(status_code=204)


@router.get("/{mount}/metadata/{path:path}", responses=common_responses())
def metadata(
    vault: VaultDep,
    principal: CurrentPrincipal,
    mount: str,
    path: str,
    list_: Annotated[bool, Query(alias="list")] = False,
    after: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
) -> dict[str, Any]:
    """Record metadata, or with ``list=true`` the readable children of a folder."""
    if list_:
        page = vault.kv.list_keys(principal, mount, path, after=after, limit=limit)
        return {"data": {"keys": page.keys, "next_after": page.next_after}}
    meta, versions = vault.kv.metadata(principal, mount, path)
    return {
        "data": {
            "current_version": meta.current_version,
            "oldest_version": meta.oldest_version,
            "max_versions": meta.max_versions,
            "cas_required": meta.cas_required,
            "delete_version_after": meta.delete_version_after,
            "custom_metadata": meta.custom_metadata,
            "created_time": meta.created_at,
            "updated_time": meta.updated_at,
            "versions": {str(v.version): v.to_dict() for v in versions},
        }
    }


def _meta_write(vault: Any, principal: Any, mount: str, path: str, body: KVMetadataWrite) -> None:
    vault.kv.update_metadata(
        principal,
        mount,
        path,
        max_versions=body.max_versions,
        cas_required=body.cas_required,
        delete_version_after=body.delete_version_after,
        custom_metadata=body.custom_metadata,
    )


@router.post("/{mount}/metadata/{path:path}", status_code=204, responses=common_responses())
def metadata_write(
    vault: VaultDep, principal: CurrentPrincipal, mount: str, path: str, body: KVMetadataWrite
) -> Response:
    """Change a record's settings and custom metadata."""
    _meta_write(vault, principal, mount, path, body)
    return Response(status_code=204)


@router.put("/{mount}/metadata/{path:path}", status_code=204, responses=common_responses())
def metadata_put(
    vault: VaultDep, principal: CurrentPrincipal, mount: str, path: str, body: KVMetadataWrite
) -> Response:
    """Same as POST."""
    _meta_write(vault, principal, mount, path, body)
    return Response(status_code=204)


@router.delete("/{mount}/metadata/{path:path}", status_code=204, responses=common_responses())
def metadata_delete(
    vault: VaultDep, principal: CurrentPrincipal, mount: str, path: str
) -> Response:
    """Delete the record path, its metadata and every version."""
    vault.kv.delete_metadata(principal, mount, path)
    return Response(status_code=204)
