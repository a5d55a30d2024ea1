"""``/v1/sys``: health, init, seal and unseal, keys, metrics, mounts, policies, tenants.

Data subjects are in :mod:`strongroom.api.routes.subjects`, the security
monitor in :mod:`strongroom.api.routes.monitor`.

Example::

    >>> router.prefix
    '/v1/sys'
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from strongroom.api.deps import CurrentPrincipal, VaultDep, common_responses
from strongroom.api.schemas import (
    InitRequest,
    MountRequest,
    PolicyWrite,
    RetireRequest,
    RewrapRequest,
    TenantRequest,
    UnsealRequest,
)
from strongroom.errors import InvalidInput
from strongroom.observability.metrics import render
from strongroom.types import Capability, SealState

__all__ = ["probes", "router"]

router = APIRouter(prefix="/v1/sys", tags=["sys"])
probes = APIRouter(tags=["probes"])

_PUBLIC = common_responses(409)


@router.get(
    "/health",
    responses={
        200: {"description": "Initialized and unsealed"},
        501: {"description": "Not initialized"},
        503: {"description": "Sealed"},
        "default": {"description": "The code asked for with activecode/sealedcode/uninitcode"},
    },
)
def health(
    vault: VaultDep,
    sealedcode: Annotated[int, Query(ge=100, le=599)] = 503,
    uninitcode: Annotated[int, Query(ge=100, le=599)] = 501,
    activecode: Annotated[int, Query(ge=200, le=499)] = 200,
) -> JSONResponse:
    """Vault-compatible health: 200 active, 503 sealed, 501 not initialized."""
    state = vault.state()
    code = {
        SealState.UNSEALED: activecode,
        SealState.SEALED: sealedcode,
        SealState.UNINITIALIZED: uninitcode,
    }[state]
    status = vault.status()
    body = {
        "initialized": status["initialized"],
        "sealed": status["sealed"],
        "standby": False,
        "version": status["version"],
        "server_time_utc": int(vault.clock()),
    }
    return JSONResponse(body, status_code=code)


@probes.get("/livez", responses={200: {"description": "The process is alive"}})
def livez() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@probes.get(
    "/readyz",
    responses={200: {"description": "Ready"}, 503: {"description": "Not ready"}},
)
def readyz(vault: VaultDep) -> JSONResponse:
    """Readiness: the database answers and the vault is unsealed."""
    db_ok = vault.db.ping()
    unsealed = vault.state() is SealState.UNSEALED
    ok = db_ok and unsealed
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "database": db_ok, "unsealed": unsealed},
        status_code=200 if ok else 503,
    )


@router.get("/seal-status", responses=common_responses())
def seal_status(vault: VaultDep) -> dict[str, Any]:
    """Initialized? Sealed? How many shares so far?"""
    return vault.status()


@router.post("/init", responses=_PUBLIC)
def init(vault: VaultDep, body: InitRequest) -> dict[str, Any]:
    """Create the root key and return the shares and root token (once)."""
    if body.passphrase is None and body.secret_threshold > body.secret_shares:
        raise InvalidInput("secret_threshold cannot exceed secret_shares")
    result = vault.initialize(
        shares=body.secret_shares,
        threshold=body.secret_threshold,
        passphrase_text=body.passphrase,
    )
    return {
        "type": result.kind,
        "keys": result.shares,
        "secret_threshold": result.threshold,
        "root_token": result.root_token,
    }


@router.post("/unseal", responses=_PUBLIC)
def unseal(vault: VaultDep, body: UnsealRequest) -> dict[str, Any]:
    """Give one share (or the passphrase); unseals once the threshold is met."""
    if body.reset:
        return vault.reset_unseal()
    if body.key is not None:
        return vault.submit_share(body.key)
    if body.passphrase is not None:
        return vault.unseal_passphrase(body.passphrase)
    raise InvalidInput("give key, passphrase or reset")


@router.post("/seal", status_code=204, responses=common_responses())
def seal(vault: VaultDep, principal: CurrentPrincipal) -> Response:
    """Seal the vault (operators only)."""
    vault.seal_now(principal)
    return Response(status_code=204)


# -- keys ----------------------------------------------------------------


@router.get("/keys", responses=common_responses())
def keys_status(vault: VaultDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """KEK versions, usage counts and dependents."""
    return {"versions": [k.to_dict() for k in vault.keys.status(principal)]}


@router.post("/keys/rotate", responses=common_responses())
def keys_rotate(vault: VaultDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Add a KEK version used by every new write."""
    return {"version": vault.keys.rotate(principal)}


@router.post("/keys/rewrap", responses=common_responses())
def keys_rewrap(
    vault: VaultDep, principal: CurrentPrincipal, body: RewrapRequest | None = None
) -> dict[str, Any]:
    """Re-wrap one batch of keys still on older KEK versions (call until remaining is 0)."""
    p = vault.keys.rewrap_batch(principal, batch_size=(body or RewrapRequest()).batch_size)
    return {"rewrapped": p.rewrapped, "remaining": p.remaining}


@router.post("/keys/retire", status_code=204, responses=common_responses(409))
def keys_retire(vault: VaultDep, principal: CurrentPrincipal, body: RetireRequest) -> Response:
    """Destroy a KEK version nothing depends on any more."""
    vault.keys.retire(principal, body.version)
    return Response(status_code=204)


# -- metrics -------------------------------------------------------------


@router.get(
    "/metrics",
    responses={
        **common_responses(),
        200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition"},
    },
)
def metrics(principal: CurrentPrincipal, request: Request) -> Response:
    """Prometheus metrics: for operators, or a token whose policy grants read on sys/metrics."""
    principal.require_admin("sys/metrics", Capability.READ)
    body, content_type = render(request.app.state.metrics_registry)
    return Response(body, media_type=content_type)


# -- mounts --------------------------------------------------------------


@router.get("/mounts", responses=common_responses())
def mounts_list(vault: VaultDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Mounts of the caller's tenant."""
    return {
        "mounts": [
            {
                "name": m.name,
                "type": m.type,
                "description": m.description,
                "max_versions": m.max_versions,
                "cas_required": m.cas_required,
                "delete_version_after": m.delete_version_after,
            }
            for m in vault.admin.list_mounts(principal)
        ]
    }


@router.post("/mounts/{name}", status_code=204, responses=common_responses(409))
def mounts_create(
    vault: VaultDep, principal: CurrentPrincipal, name: str, body: MountRequest
) -> Response:
    """Mount a KV v2 engine."""
    vault.admin.create_mount(
        principal,
        name,
        description=body.description,
        max_versions=body.max_versions,
        cas_required=body.cas_required,
        delete_version_after=body.delete_version_after,
    )
    return Response(status_code=204)


@router.delete("/mounts/{name}", status_code=204, responses=common_responses())
def mounts_delete(vault: VaultDep, principal: CurrentPrincipal, name: str) -> Response:
    """Unmount and delete every record in the mount."""
    vault.admin.delete_mount(principal, name)
    return Response(status_code=204)


# -- policies ------------------------------------------------------------


@router.get("/policies/acl", responses=common_responses())
def policies_list(vault: VaultDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Policy names of the caller's tenant."""
    return {"keys": vault.admin.list_policies(principal)}


@router.get("/policies/acl/{name}", responses=common_responses())
def policies_read(vault: VaultDep, principal: CurrentPrincipal, name: str) -> dict[str, Any]:
    """One policy document."""
    doc, revision = vault.admin.get_policy(principal, name)
    return {"name": name, "revision": revision, "policy": doc.to_dict()}


@router.put("/policies/acl/{name}", responses=common_responses())
def policies_write(
    vault: VaultDep, principal: CurrentPrincipal, name: str, body: PolicyWrite
) -> dict[str, Any]:
    """Create or replace a policy (JSON or YAML text)."""
    return {"name": name, "revision": vault.admin.put_policy(principal, name, body.policy)}


@router.delete("/policies/acl/{name}", status_code=204, responses=common_responses())
def policies_delete(vault: VaultDep, principal: CurrentPrincipal, name: str) -> Response:
    """Delete a policy."""
    vault.admin.delete_policy(principal, name)
    return Response(status_code=204)


# -- tenants --------------------------------------------------------------


@router.get("/tenants", responses=common_responses())
def tenants_list(vault: VaultDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Every tenant (operators only)."""
    return {"keys": vault.admin.list_tenants(principal)}


@router.post("/tenants/{name}", responses=common_responses(409))
def tenants_create(
    vault: VaultDep, principal: CurrentPrincipal, name: str, body: TenantRequest | None = None
) -> dict[str, Any]:
    """Create a tenant; returns its first root token (shown once)."""
    token = vault.admin.create_tenant(principal, name, ttl=(body or TenantRequest()).ttl)
    return {"tenant": name, "root_token": token}
