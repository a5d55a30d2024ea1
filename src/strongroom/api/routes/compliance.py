"""``/v1/sys/compliance``: compliance reports computed from live evidence.

``GET /v1/sys/compliance/report?framework=hipaa|gdpr|sox|pci|euaiact|all``
judges every control of the framework against this server as it is now
(its settings, keys, tokens, records, the audit log verified on the spot,
and the routes of this very app) and answers the report document. The
report spans every tenant, so it needs the system tenant and ``read`` on
``sys/compliance/report`` (a root token has it). Its audit entry
(``sys:compliance:report``) records the framework, the status counts and
the checkpoint it was judged against.

Example::

    >>> router.prefix
    '/v1/sys/compliance'
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from strongroom.api.audit import EVENTS, UNAUDITED_PATHS
from strongroom.api.deps import CurrentPrincipal, VaultDep, common_responses, current_principal
from strongroom.compliance import build_report, select
from strongroom.compliance.evidence import gather
from strongroom.compliance.facts import Route
from strongroom.errors import PermissionDenied
from strongroom.types import Capability
from strongroom.vault import SYSTEM_TENANT
from strongroom.vault.audit import note

__all__ = ["route_inventory", "router"]

router = APIRouter(prefix="/v1/sys/compliance", tags=["compliance"])

_POLICY_PATH = "sys/compliance/report"


def _needs_token(dep: Dependant) -> bool:
    """True when ``dep`` (or anything it depends on) authenticates the caller."""
    return any(d.call is current_principal or _needs_token(d) for d in dep.dependencies)


def route_inventory(app: FastAPI) -> tuple[Route, ...]:
    """Every (method, path) ``app`` serves, with its audit event and whether it needs a token.

    The event is looked up exactly as the audit trail names entries (by the
    route's path template in :data:`~strongroom.api.audit.EVENTS`).
    """
    out: list[Route] = []
    # Included routers are resolved lazily by FastAPI; this walks them as the
    # OpenAPI document does, each route with its effective path and dependencies.
    for r in iter_route_contexts(app.routes):
        methods = r.methods
        path = r.path
        if not methods or not isinstance(path, str):
            continue
        dependant = getattr(r, "dependant", None)
        authenticated = isinstance(dependant, Dependant) and _needs_token(dependant)
        for method in sorted(methods):
            event = EVENTS.get((method, path))
            out.append(
                Route(
                    method,
                    path,
                    event=None if event is None else str(event),
                    authenticated=authenticated,
                    audited=path not in UNAUDITED_PATHS,
                )
            )
    return tuple(out)


@router.get("/report", responses=common_responses())
def report(
    vault: VaultDep,
    principal: CurrentPrincipal,
    request: Request,
    framework: Annotated[str, Query(max_length=32)] = "all",
) -> dict[str, Any]:
    """The compliance report of ``framework`` (or ``all``), judged from live evidence."""
    if principal.tenant != SYSTEM_TENANT or not principal.allows(_POLICY_PATH, Capability.READ):
        raise PermissionDenied(f"compliance reports need read on {_POLICY_PATH}")
    controls = select(framework)
    facts = gather(vault, routes=route_inventory(request.app), request_scheme=request.url.scheme)
    doc = build_report(facts, controls, framework=framework)
    cp = doc["checkpoint"]
    note(
        framework=framework,
        summary=doc["summary"],
        checkpoint_size=None if cp is None else cp["size"],
        ledger_verified=doc["ledger"]["verified"],
    )
    return doc
