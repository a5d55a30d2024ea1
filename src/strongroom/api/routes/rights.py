"""``/v1/sys/retention`` and ``/v1/sys/holds``: retention rules, their job, and legal holds.

Example::

    >>> retention.prefix, holds.prefix
    ('/v1/sys/retention', '/v1/sys/holds')
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from strongroom.api.deps import CurrentPrincipal, VaultDep, common_responses

__all__ = ["HoldRequest", "RuleRequest", "holds", "processing", "retention"]

retention = APIRouter(prefix="/v1/sys/retention", tags=["retention"])
holds = APIRouter(prefix="/v1/sys/holds", tags=["retention"])
processing = APIRouter(prefix="/v1/sys/processing-records", tags=["retention"])


class RuleRequest(BaseModel):
    """A retention rule (see docs/subjects.md)."""

    model_config = ConfigDict(extra="forbid")

    mount: str = Field(min_length=1, max_length=64)
    path_prefix: str = Field(default="", max_length=1024)
    action: str = Field(description="destroy-versions or erase-subjects")
    after_s: float = Field(
        gt=0, allow_inf_nan=False, description="Age in seconds after which the action applies."
    )
    purpose: str = Field(default="", max_length=64)


@retention.get("/rules", responses=common_responses())
def rules(vault: VaultDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The tenant's retention rules."""
    return {"rules": [r.to_dict() for r in vault.retention.rules(principal)]}


@retention.put("/rules/{name}", responses=common_responses())
def put_rule(
    vault: VaultDep, principal: CurrentPrincipal, name: str, body: RuleRequest
) -> dict[str, Any]:
    """Create or replace a retention rule."""
    return vault.retention.put_rule(
        principal,
        name,
        mount=body.mount,
        path_prefix=body.path_prefix,
        action=body.action,
        after_s=body.after_s,
        purpose=body.purpose,
    ).to_dict()


@retention.delete("/rules/{name}", status_code=204, responses=common_responses())
def delete_rule(vault: VaultDep, principal: CurrentPrincipal, name: str) -> None:
    """Remove a retention rule."""
    vault.retention.delete_rule(principal, name)


@retention.post("/apply", responses=common_responses())
def apply(vault: VaultDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Apply every retention rule now (operator only); the scheduled job does the same."""
    return vault.retention.apply(principal).to_dict()


class HoldRequest(BaseModel):
    """A legal hold on one subject, or on a mount's records under a path prefix."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=512)
    subject: str | None = Field(default=None, max_length=64)
    mount: str | None = Field(default=None, max_length=64)
    path_prefix: str = Field(default="", max_length=1024)


@holds.get("", responses=common_responses())
def list_holds(
    vault: VaultDep,
    principal: CurrentPrincipal,
    active: Annotated[bool, Query(description="Only holds not yet released.")] = False,
) -> dict[str, Any]:
    """The tenant's legal holds."""
    return {"holds": [h.to_dict() for h in vault.retention.holds(principal, active_only=active)]}


@holds.post("", responses=common_responses())
def place_hold(vault: VaultDep, principal: CurrentPrincipal, body: HoldRequest) -> dict[str, Any]:
    """Place a legal hold: what it covers cannot be destroyed or erased until released."""
    return vault.retention.place_hold(
        principal,
        reason=body.reason,
        subject_id=body.subject,
        mount=body.mount,
        path_prefix=body.path_prefix,
    ).to_dict()


@holds.post("/{hold_id}/release", responses=common_responses())
def release_hold(vault: VaultDep, principal: CurrentPrincipal, hold_id: str) -> dict[str, Any]:
    """Release a legal hold."""
    return vault.retention.release_hold(principal, hold_id).to_dict()


@processing.get("", responses=common_responses())
def records_of_processing(vault: VaultDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The records of processing activities (GDPR art. 30), generated from live state."""
    return vault.retention.processing_records(principal)
