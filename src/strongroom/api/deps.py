"""Request dependencies: the vault and the authenticated principal.

Example::

    >>> token_from_headers(None, "Bearer strongroom_x")
    'strongroom_x'
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from strongroom.vault import Principal, Vault
from strongroom.vault.audit import current_scope

__all__ = ["CurrentPrincipal", "VaultDep", "common_responses", "get_vault", "token_from_headers"]


def get_vault(request: Request) -> Vault:
    """The vault the app was built with."""
    vault: Vault = request.app.state.vault
    return vault


VaultDep = Annotated[Vault, Depends(get_vault)]


def token_from_headers(x_token: str | None, authorization: str | None) -> str | None:
    """Take the token from ``X-Strongroom-Token`` or ``Authorization: Bearer``."""
    if x_token:
        return x_token.strip()
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


async def current_principal(
    vault: VaultDep,
    x_strongroom_token: Annotated[str | None, Header(include_in_schema=False)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """Authenticate the caller (503 while sealed, 401 for a bad token).

    A token seen in the last seconds is answered from memory on the event
    loop; only a cache miss goes to a worker thread for the database.
    """
    vault.require_unsealed()
    token = token_from_headers(x_strongroom_token, authorization)
    hit = vault.tokens.cached(token)
    principal = (
        hit if hit is not None else await run_in_threadpool(vault.tokens.authenticate, token)
    )
    scope = current_scope()
    if scope is not None:
        scope.set_principal(principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

_PROBLEM = {
    "description": "Problem details (RFC 9457)",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def common_responses(*extra: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the errors every authenticated route can return."""
    codes = {400, 401, 403, 404, 413, 429, 500, 503, *extra}
    return {code: {**_PROBLEM} for code in sorted(codes)}
