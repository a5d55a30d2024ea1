"""Who is calling: a token resolved into its tenant, policies and ACL.

Example::

    >>> from strongroom.vault.policy import RootAcl
    >>> p = Principal(tenant="default", accessor="a1", policies=("root",), acl=RootAcl(),
    ...               display_name="root", expires_at=None)
    >>> p.is_root
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strongroom.errors import NotFound, PermissionDenied
from strongroom.types import Capability
from strongroom.vault.policy import AclLike

__all__ = ["SYSTEM_TENANT", "Principal"]

SYSTEM_TENANT = "default"
"""The tenant whose root tokens may operate the whole vault (seal, keys, tenants)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller; built by the token service, never from raw input."""

    tenant: str
    accessor: str
    policies: tuple[str, ...]
    acl: AclLike = field(repr=False)
    display_name: str
    expires_at: float | None
    policy_version: str = ""
    """Names and revisions of the policies that decide (``name@rev,…``), for the audit log."""

    @property
    def is_root(self) -> bool:
        """True when the token carries the ``root`` policy (within its tenant)."""
        return "root" in self.policies

    @property
    def is_operator(self) -> bool:
        """True for root tokens of the system tenant: may seal, rotate keys, manage tenants."""
        return self.is_root and self.tenant == SYSTEM_TENANT

    def allows(self, path: str, cap: Capability) -> bool:
        """True when policy grants ``cap`` on the logical ``path``."""
        return self.acl.allows(path, cap)

    def require(self, path: str, cap: Capability) -> None:
        """Raise unless ``cap`` is granted on ``path``.

        A caller that may not even read ``path`` gets :class:`NotFound`, the
        same answer as for an absent record, so policy never reveals whether
        something exists. A caller that may read it gets :class:`PermissionDenied`.
        """
        if self.acl.allows(path, cap):
            return
        if cap is not Capability.READ and self.acl.allows(path, Capability.READ):
            raise PermissionDenied(f"{cap.value} is not granted on this path")
        exc = NotFound("nothing at this path")
        # The caller sees "absent"; the audit log records the truth.
        exc.denied_by_policy = True
        raise exc

    def require_admin(self, path: str, cap: Capability) -> None:
        """Raise :class:`PermissionDenied` unless ``cap`` is granted on an admin ``path``."""
        if not self.acl.allows(path, cap):
            raise PermissionDenied(f"{cap.value} on {path} is not granted")

    def require_operator(self) -> None:
        """Raise unless this is a system-tenant root token."""
        if not self.is_operator:
            raise PermissionDenied("this operation needs an operator (system root) token")
