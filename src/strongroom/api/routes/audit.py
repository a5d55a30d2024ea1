"""``/v1/audit``: signed checkpoints, entries, RFC 9162 proofs and auditor search.

Shapes follow what transparency-log tools already speak: the checkpoint is a
C2SP signed note served as ``text/plain``; entries carry their exact bytes as
base64 ``leaf_input`` (RFC 6962 §4.6 get-entries); inclusion proofs are
``{"leaf_index", "audit_path"}`` (§4.5) and consistency proofs
``{"consistency"}`` (§4.4), hashes in standard base64.

The log spans every tenant, so only the system tenant may read it: a root
token, or a token whose policy grants ``read`` on ``sys/audit/<endpoint>``
(``sys/audit/search`` for the auditor search, its own policy path).

Example::

    >>> router.prefix
    '/v1/audit'
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from strongroom.api.deps import CurrentPrincipal, VaultDep, common_responses
from strongroom.errors import InvalidInput, PermissionDenied
from strongroom.storage.audit import AuditRow, SearchQuery
from strongroom.types import Capability
from strongroom.vault import Principal
from strongroom.vault.audit_proofs import MAX_ITEMS, proof_document

__all__ = ["ProofsRequest", "router"]

router = APIRouter(prefix="/v1/audit", tags=["audit"])

_MAX_PAGE = 1000


def _require(principal: Principal, what: str) -> None:
    # The log names principals and resources of every tenant.
    if principal.tenant != "default" or not principal.allows(f"sys/audit/{what}", Capability.READ):
        raise PermissionDenied(f"reading the audit log needs read on sys/audit/{what}")


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _hash_param(value: str) -> bytes:
    """A leaf hash given as 64 hex digits or standard base64."""
    try:
        raw = bytes.fromhex(value) if len(value) == 64 else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput("hash must be 64 hex digits or base64") from exc
    if len(raw) != 32:
        raise InvalidInput("hash must be a 32-byte SHA-256 value")
    return raw


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={**common_responses(), 200: {"content": {"text/plain": {}}}},
)
def checkpoint(vault: VaultDep, principal: CurrentPrincipal) -> PlainTextResponse:
    """The newest signed checkpoint (C2SP tlog-checkpoint in a signed note)."""
    _require(principal, "checkpoint")
    cp = vault.audit.latest_checkpoint()
    return PlainTextResponse(cp.note.decode(), media_type="text/plain; charset=utf-8")


@router.get("/checkpoints", responses=common_responses())
def checkpoints(
    vault: VaultDep,
    principal: CurrentPrincipal,
    min_size: Annotated[int, Query(ge=0)] = 0,
    max_size: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=_MAX_PAGE)] = 100,
) -> dict[str, Any]:
    """Stored checkpoints with ``min_size <= size <= max_size``, smallest first."""
    _require(principal, "checkpoint")
    found = vault.audit.checkpoints(min_size=min_size, max_size=max_size)[:limit]
    return {
        "checkpoints": [
            {"size": c.size, "root_hash": _b64(c.root_hash), "note": c.note.decode()} for c in found
        ]
    }


@router.get("/key", responses=common_responses())
def key(vault: VaultDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The log's origin and checkpoint verifier key (signed-note ``name+id+key`` form)."""
    _require(principal, "checkpoint")
    return {
        "origin": vault.audit.origin,
        "verifier_key": vault.audit.verifier_key(),
        "public_key": _b64(vault.audit.public_key()),
        "tree_size": vault.audit.size(),
    }


@router.get("/entries", responses=common_responses())
def entries(
    vault: VaultDep,
    principal: CurrentPrincipal,
    start: Annotated[int, Query(ge=0)],
    end: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    """Entries ``start <= index < end`` (at most 1000) with their exact canonical bytes."""
    _require(principal, "entries")
    rows = vault.audit.entries(start, end)
    return {
        "entries": [
            {"leaf_index": r.seq, "leaf_input": _b64(r.entry), "leaf_hash": _b64(r.leaf_hash)}
            for r in rows
        ]
    }


@router.get("/proof/inclusion", responses=common_responses())
def inclusion(
    vault: VaultDep,
    principal: CurrentPrincipal,
    index: Annotated[int | None, Query(ge=0)] = None,
    hash: Annotated[str | None, Query(max_length=88)] = None,
    size: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """RFC 9162 §2.1.3 inclusion proof of one entry, by index or by leaf hash."""
    _require(principal, "proof")
    if hash is not None and index is None:
        leaf, n, path = vault.audit.inclusion_by_hash(_hash_param(hash), size=size)
    elif index is not None and hash is None:
        leaf, n, path = vault.audit.inclusion(index=index, size=size)
    else:
        raise InvalidInput("give exactly one of index and hash")
    return {"leaf_index": leaf, "tree_size": n, "audit_path": [_b64(h) for h in path]}


class ProofsRequest(BaseModel):
    """Entries to prove, by leaf index."""

    model_config = ConfigDict(extra="forbid")

    indices: list[Annotated[int, Field(ge=0)]] = Field(min_length=1, max_length=MAX_ITEMS)


@router.post("/proofs", responses=common_responses())
def proofs(vault: VaultDep, principal: CurrentPrincipal, body: ProofsRequest) -> dict[str, Any]:
    """A proof document (``strongroom-proofs/v1``): the entries, each with its inclusion
    proof, under one signed checkpoint; ``strongroom audit verify-proofs`` checks it offline."""
    _require(principal, "proof")
    return proof_document(vault.audit, body.indices).to_json()


@router.get("/proof/consistency", responses=common_responses())
def consistency(
    vault: VaultDep,
    principal: CurrentPrincipal,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """RFC 9162 §2.1.4 consistency proof between tree sizes ``first`` and ``second``."""
    _require(principal, "proof")
    m, n, proof = vault.audit.consistency(first=first, second=second)
    return {"first": m, "second": n, "consistency": [_b64(h) for h in proof]}


def _view(row: AuditRow) -> dict[str, Any]:
    return {
        "leaf_index": row.seq,
        "leaf_hash": _b64(row.leaf_hash),
        "entry": json.loads(row.entry),
    }


@router.get("/search", responses=common_responses())
def search(
    vault: VaultDep,
    principal: CurrentPrincipal,
    who: Annotated[str | None, Query(alias="principal", max_length=128)] = None,
    resource: Annotated[str | None, Query(max_length=1024)] = None,
    prefix: bool = False,
    event: Annotated[str | None, Query(max_length=64)] = None,
    tenant: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(pattern="^(allowed|denied|error)$")] = None,
    since: Annotated[float | None, Query(ge=0)] = None,
    until: Annotated[float | None, Query(ge=0)] = None,
    after: Annotated[int | None, Query(ge=-1)] = None,
    limit: Annotated[int, Query(ge=1, le=_MAX_PAGE)] = 100,
) -> dict[str, Any]:
    """Entries by principal (accessor), resource (or prefix), event, outcome and time range.

    ``since``/``until`` are UNIX seconds; page with ``after`` = the last
    ``leaf_index`` seen.
    """
    _require(principal, "search")
    rows = vault.audit.search(
        SearchQuery(
            principal=who,
            resource=resource,
            resource_prefix=prefix,
            event=event,
            tenant=tenant,
            outcome=outcome,
            since=since,
            until=until,
            after_seq=after,
            limit=limit,
        )
    )
    return {
        "entries": [_view(r) for r in rows],
        "next_after": rows[-1].seq if len(rows) == limit else None,
    }
