"""``/v1/sys/subjects``: data subjects of the caller's tenant.

A reference for the person is personal data: it travels only in request
bodies (never in a URL, where proxies and logs keep it), is stored only as
a blind index, and is never returned.

Example::

    >>> router.prefix
    '/v1/sys/subjects'
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from strongroom.api.deps import CurrentPrincipal, VaultDep, common_responses

__all__ = ["SubjectCreate", "SubjectLookup", "router"]

router = APIRouter(prefix="/v1/sys/subjects", tags=["subjects"])


class SubjectCreate(BaseModel):
    """A new subject, optionally with the caller's reference for the person."""

    model_config = ConfigDict(extra="forbid")

    external_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Your reference for the person (stored only as a blind index).",
    )


class SubjectLookup(BaseModel):
    """A reference to look a subject up by."""

    model_config = ConfigDict(extra="forbid")

    external_ref: str = Field(min_length=1, max_length=256)


@router.post("", responses=common_responses(409))
def create(
    vault: VaultDep, principal: CurrentPrincipal, body: SubjectCreate | None = None
) -> dict[str, Any]:
    """Create a data subject with its own key (records can be sealed under it)."""
    ref = body.external_ref if body is not None else None
    return vault.subjects.create(principal, reference=ref).to_dict()


@router.post("/lookup", responses=common_responses())
def lookup(vault: VaultDep, principal: CurrentPrincipal, body: SubjectLookup) -> dict[str, Any]:
    """The subject with this reference (404 when none, or not the caller's tenant's)."""
    return vault.subjects.lookup(principal, body.external_ref).to_dict()


@router.get("", responses=common_responses())
def list_(
    vault: VaultDep,
    principal: CurrentPrincipal,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The tenant's subjects in id order; page with ``after`` = the last id seen."""
    found = vault.subjects.list(principal, after=after, limit=limit)
    return {
        "subjects": [v.to_dict() for v in found],
        "next_after": found[-1].id if len(found) == limit else None,
    }


@router.get("/{subject_id}", responses=common_responses())
def show(vault: VaultDep, principal: CurrentPrincipal, subject_id: str) -> dict[str, Any]:
    """One subject: created, erased, whether it has a reference, record versions keyed."""
    return vault.subjects.get(principal, subject_id).to_dict()


@router.post("/{subject_id}/erase", responses=common_responses(409, 410))
def erase(vault: VaultDep, principal: CurrentPrincipal, subject_id: str) -> dict[str, Any]:
    """Crypto-shred the subject (GDPR art. 17); the answer carries the signed erasure receipt.

    Verify the receipt offline with ``strongroom audit verify-proofs``.
    """
    return vault.subjects.erase(principal, subject_id).to_dict()


@router.post("/{subject_id}/export", responses=common_responses(410))
def export(vault: VaultDep, principal: CurrentPrincipal, subject_id: str) -> dict[str, Any]:
    """Everything held about the subject, decrypted (GDPR art. 20), with its logged manifest."""
    return vault.subjects.export(principal, subject_id)


@router.get("/{subject_id}/access-report", responses=common_responses(410))
def access_report(vault: VaultDep, principal: CurrentPrincipal, subject_id: str) -> dict[str, Any]:
    """Every logged access touching the subject (GDPR art. 15), each line with its proof."""
    return vault.subjects.access_report(principal, subject_id)


class ConsentGrant(BaseModel):
    """A consent of the subject to one purpose of use."""

    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    scope: str = Field(default="*", min_length=1, max_length=1024)
    expires_at: float | None = Field(
        default=None, allow_inf_nan=False, description="UNIX seconds; none: no expiry."
    )
    evidence_ref: str = Field(default="", max_length=512)


@router.get("/{subject_id}/consents", responses=common_responses())
def consents(vault: VaultDep, principal: CurrentPrincipal, subject_id: str) -> dict[str, Any]:
    """Every version of every consent of the subject."""
    return {"consents": [c.to_dict() for c in vault.consents.history(principal, subject_id)]}


@router.post("/{subject_id}/consents", responses=common_responses())
def grant_consent(
    vault: VaultDep, principal: CurrentPrincipal, subject_id: str, body: ConsentGrant
) -> dict[str, Any]:
    """Record (or renew) a consent: a new version of it."""
    return vault.consents.grant(
        principal,
        subject_id,
        purpose=body.purpose,
        scope=body.scope,
        expires_at=body.expires_at,
        evidence_ref=body.evidence_ref,
    ).to_dict()


@router.post("/{subject_id}/consents/{purpose}/withdraw", responses=common_responses())
def withdraw_consent(
    vault: VaultDep, principal: CurrentPrincipal, subject_id: str, purpose: str
) -> dict[str, Any]:
    """Withdraw a consent: applies to the very next request."""
    return vault.consents.withdraw(principal, subject_id, purpose=purpose).to_dict()
