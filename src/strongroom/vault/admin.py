"""Mounts, policies, tenants and data subjects: the vault's configuration.

Example::

    >>> validate_mount_name("secret")
    'secret'
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from strongroom.errors import Conflict, InvalidInput, NotFound
from strongroom.storage.models import Mount
from strongroom.storage.repositories import (
    MountRepository,
    PolicyRepository,
    TenantRepository,
)
from strongroom.storage.rights import HoldRepository
from strongroom.storage.writer import WriteTx
from strongroom.types import Capability
from strongroom.vault.policy import PolicyDocument, validate_policy_name
from strongroom.vault.principal import Principal

if TYPE_CHECKING:
    from strongroom.vault.service import Vault

__all__ = ["RESERVED_MOUNTS", "AdminService", "validate_mount_name", "validate_tenant_name"]

RESERVED_MOUNTS = frozenset({"sys", "auth", "audit", "v1", "metrics", "health", "identity"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def validate_mount_name(name: str) -> str:
    """Check a mount name (lowercase, digits, ``-``/``_``, not reserved)."""
    if not _NAME.match(name) or name in RESERVED_MOUNTS:
        raise InvalidInput(
            "a mount name is 1-64 lowercase letters, digits, '-' or '_', and not reserved"
        )
    return name


def validate_tenant_name(name: str) -> str:
    """Check a tenant name (same alphabet as mounts)."""
    if not _NAME.match(name):
        raise InvalidInput("a tenant name is 1-64 lowercase letters, digits, '-' or '_'")
    return name


class AdminService:
    """Configuration operations for one :class:`Vault`."""

    def __init__(self, vault: Vault, clock: Callable[[], float] = time.time) -> None:
        self._v = vault
        self._clock = clock

    # -- mounts -----------------------------------------------------------

    def create_mount(
        self,
        principal: Principal,
        name: str,
        *,
        description: str = "",
        max_versions: int = 0,
        cas_required: bool = False,
        delete_version_after: float = 0.0,
    ) -> Mount:
        """Mount a KV v2 engine at ``name`` in the caller's tenant."""
        validate_mount_name(name)
        principal.require_admin(f"sys/mounts/{name}", Capability.CREATE)
        if max_versions < 0 or delete_version_after < 0:
            raise InvalidInput("max_versions and delete_version_after must be 0 or more")
        mount = Mount(
            tenant=principal.tenant,
            name=name,
            type="kv",
            description=description[:512],
            max_versions=max_versions,
            cas_required=cas_required,
            delete_version_after=delete_version_after,
            created_at=self._clock(),
        )
        self._v.db.write(lambda tx: MountRepository(tx.conn).create(mount))
        return mount

    def list_mounts(self, principal: Principal) -> list[Mount]:
        """Mounts of the caller's tenant."""
        principal.require_admin("sys/mounts", Capability.LIST)
        with self._v.db.read() as conn:
            return MountRepository(conn).list(principal.tenant)

    def delete_mount(self, principal: Principal, name: str) -> None:
        """Unmount ``name`` and delete every record in it."""
        validate_mount_name(name)
        principal.require_admin(f"sys/mounts/{name}", Capability.DELETE)

        def op(tx: WriteTx) -> None:
            repo = MountRepository(tx.conn)
            if repo.get(principal.tenant, name) is None:
                raise NotFound("no such mount")
            # Unmounting deletes every record: not while a legal hold covers one.
            HoldRepository(tx.conn).check_mount(principal.tenant, name)
            repo.delete(principal.tenant, name)

        self._v.db.write(op)

    # -- policies ---------------------------------------------------------

    def put_policy(self, principal: Principal, name: str, text: str) -> int:
        """Create or replace a policy; returns its revision."""
        validate_policy_name(name)
        principal.require_admin(f"sys/policies/acl/{name}", Capability.UPDATE)
        doc = PolicyDocument.parse(text)
        canonical = json.dumps(doc.to_dict(), sort_keys=True)

        def op(tx: WriteTx) -> int:
            rev = PolicyRepository(tx.conn).put(
                principal.tenant, name, canonical, now=self._clock()
            )
            tx.after_commit(self._v.tokens.invalidate)
            return rev

        return self._v.db.write(op)

    def get_policy(self, principal: Principal, name: str) -> tuple[PolicyDocument, int]:
        """Return a policy and its revision."""
        principal.require_admin(f"sys/policies/acl/{name}", Capability.READ)
        with self._v.db.read() as conn:
            rec = PolicyRepository(conn).get(principal.tenant, name)
        if rec is None:
            raise NotFound("no such policy")
        return PolicyDocument.parse(rec.document), rec.revision

    def delete_policy(self, principal: Principal, name: str) -> None:
        """Delete a policy (tokens that name it lose its grants at once)."""
        principal.require_admin(f"sys/policies/acl/{name}", Capability.DELETE)

        def op(tx: WriteTx) -> None:
            if not PolicyRepository(tx.conn).delete(principal.tenant, name):
                raise NotFound("no such policy")
            tx.after_commit(self._v.tokens.invalidate)

        self._v.db.write(op)

    def list_policies(self, principal: Principal) -> list[str]:
        """Policy names of the caller's tenant (``root`` is implicit)."""
        principal.require_admin("sys/policies/acl", Capability.LIST)
        with self._v.db.read() as conn:
            return ["root", *PolicyRepository(conn).list(principal.tenant)]

    # -- tenants ------------------------------------------------------------

    def create_tenant(self, principal: Principal, name: str, *, ttl: int | None = None) -> str:
        """Create a tenant with a ``secret`` mount; returns the tenant's first root token."""
        principal.require_operator()
        validate_tenant_name(name)
        now = self._clock()
        settings = self._v.settings

        def op(tx: WriteTx) -> str:
            tenants = TenantRepository(tx.conn)
            if tenants.exists(name):
                raise Conflict("a tenant with that name exists")
            tenants.ensure(name, now=now)
            MountRepository(tx.conn).create(
                Mount(name, "secret", "kv", "default KV v2 mount", 0, False, 0.0, now)
            )
            ttl_s = ttl or settings.default_token_ttl
            created = self._v.tokens.insert_token(
                tx,
                tenant=name,
                policies=("root",),
                ttl=ttl_s,
                expires_at=now + ttl_s,
                display_name=f"root of {name}",
                renewable=True,
                meta={},
                parent=None,
            )
            return created.token

        return self._v.db.write(op)

    def list_tenants(self, principal: Principal) -> list[str]:
        """Every tenant (operators only)."""
        principal.require_operator()
        with self._v.db.read() as conn:
            return TenantRepository(conn).list()
