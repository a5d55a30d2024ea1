"""``/v1/auth/token``: create, look up, renew and revoke tokens.

Example::

    >>> router.prefix
    '/v1/auth/token'
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from strongroom.api.deps import CurrentPrincipal, VaultDep, common_responses
from strongroom.api.schemas import TokenCreate, TokenRef, TokenRenew
from strongroom.errors import InvalidInput

__all__ = ["router"]

router = APIRouter(prefix="/v1/auth/token", tags=["tokens"])


@router.post("/create", responses=common_responses())
def create(vault: VaultDep, principal: CurrentPrincipal, body: TokenCreate) -> dict[str, Any]:
    """Create a child token; the token value is in ``auth.client_token``, shown once."""
    created = vault.tokens.create(
        principal,
        policies=body.policies,
        ttl=body.ttl,
        display_name=body.display_name,
        renewable=body.renewable,
        meta=body.meta,
    )
    view = created.view.to_dict(vault.clock())
    return {"auth": {"client_token": created.token, **view}}


@router.get("/lookup-self", responses=common_responses())
def lookup_self(vault: VaultDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Describe the caller's token."""
    return {"data": vault.tokens.lookup_self(principal).to_dict(vault.clock())}


@router.post("/lookup", responses=common_responses())
def lookup(vault: VaultDep, principal: CurrentPrincipal, body: TokenRef) -> dict[str, Any]:
    """Describe a token of the caller's tenant by value or accessor."""
    view = vault.tokens.lookup(principal, token=body.token, accessor=body.accessor)
    return {"data": view.to_dict(vault.clock())}


@router.post("/renew-self", responses=common_responses())
def renew_self(
    vault: VaultDep, principal: CurrentPrincipal, body: TokenRenew | None = None
) -> dict[str, Any]:
    """Extend the caller's token."""
    inc = body.increment if body else None
    return {"auth": vault.tokens.renew(principal, increment=inc).to_dict(vault.clock())}


@router.post("/renew", responses=common_responses())
def renew(vault: VaultDep, principal: CurrentPrincipal, body: TokenRenew) -> dict[str, Any]:
    """Extend another token of the tenant."""
    if body.token is None and body.accessor is None:
        raise InvalidInput("give a token or an accessor")
    view = vault.tokens.renew(
        principal, increment=body.increment, token=body.token, accessor=body.accessor
    )
    return {"auth": view.to_dict(vault.clock())}


@router.post("/revoke-self", status_code=204, responses=common_responses())
def revoke_self(vault: VaultDep, principal: CurrentPrincipal) -> Response:
    """Revoke the caller's token and its children."""
    vault.tokens.revoke_self(principal)
    return Response(status_code=204)


@router.post("/revoke", status_code=204, responses=common_responses())
def revoke(vault: VaultDep, principal: CurrentPrincipal, body: TokenRef) -> Response:
    """Revoke a token of the tenant and its children."""
    vault.tokens.revoke(principal, token=body.token, accessor=body.accessor)
    return Response(status_code=204)
