"""``/v1/sys/monitor``: the security monitor's alerts, and acknowledging them.

Alerts name principals and clients of every tenant, so like the audit log
they are for the system tenant only: listing needs read on
``sys/monitor/alerts``, acknowledging needs update on it.

Example::

    >>> router.prefix
    '/v1/sys/monitor'
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from strongroom.api.deps import CurrentPrincipal, common_responses
from strongroom.api.monitoring import AlertBook
from strongroom.errors import PermissionDenied
from strongroom.types import Capability
from strongroom.vault import SYSTEM_TENANT, Principal

__all__ = ["AckRequest", "router"]

router = APIRouter(prefix="/v1/sys/monitor", tags=["monitor"])

_PATH = "sys/monitor/alerts"


class AckRequest(BaseModel):
    """How the alert was dealt with."""

    model_config = ConfigDict(extra="forbid")

    disposition: str = Field(
        default="resolved",
        pattern="^(resolved|false_positive|accepted_risk|investigating)$",
        description="resolved, false_positive, accepted_risk or investigating",
    )


def _require(principal: Principal, cap: Capability) -> None:
    if principal.tenant != SYSTEM_TENANT or not principal.allows(_PATH, cap):
        raise PermissionDenied(f"{cap.value} on {_PATH} is not granted")


def _book(request: Request) -> AlertBook:
    book: AlertBook = request.app.state.alert_book
    return book


@router.get("/alerts", responses=common_responses())
def alerts(
    request: Request,
    principal: CurrentPrincipal,
    status: Annotated[str, Query(pattern="^(open|acknowledged|all)$")] = "open",
    kind: Annotated[str | None, Query(max_length=32)] = None,
    after: Annotated[int | None, Query(ge=-1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Alerts, oldest first; page with ``after`` = the last ``id`` seen."""
    _require(principal, Capability.READ)
    found = _book(request).list(status=status, kind=kind, after=after, limit=limit)
    return {"alerts": found, "next_after": found[-1]["id"] if len(found) == limit else None}


@router.get("/alerts/{alert_id}", responses=common_responses())
def alert(request: Request, principal: CurrentPrincipal, alert_id: int) -> dict[str, Any]:
    """One alert, with its acknowledgement if it has one."""
    _require(principal, Capability.READ)
    return _book(request).get(alert_id)


@router.post("/alerts/{alert_id}/ack", responses=common_responses(409))
def acknowledge(
    request: Request, principal: CurrentPrincipal, alert_id: int, body: AckRequest | None = None
) -> dict[str, Any]:
    """Acknowledge an alert (recorded in the audit log); 409 if it already is."""
    _require(principal, Capability.UPDATE)
    disposition = body.disposition if body is not None else "resolved"
    return _book(request).acknowledge(alert_id, disposition=disposition)
