"""Tokens: create, authenticate, look up, renew and revoke.

Tokens carry the ``strongroom_`` prefix so secret scanners find leaked ones,
and are stored only as keyed HMACs (the key is derived from the root key, so a
stolen database alone cannot even confirm a guessed token). Revoking a token
revokes every token it created.

Example::

    >>> TokenService.normalise_ttl(None, default=60, maximum=3600)
    60
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from strongroom.crypto import generate_accessor, generate_token, token_hash
from strongroom.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from strongroom.storage.models import TokenRecord
from strongroom.storage.repositories import PolicyRepository, TokenRepository
from strongroom.storage.writer import WriteTx
from strongroom.types import Capability
from strongroom.vault.policy import Acl, AclLike, PolicyDocument, RootAcl, validate_policy_name
from strongroom.vault.principal import Principal

if TYPE_CHECKING:
    from strongroom.vault.service import Vault

__all__ = ["CreatedToken", "TokenService", "TokenView"]

# Cached authentications are re-checked at least this often, which bounds how
# long a revocation made by *another* replica can take to be seen. Revocations
# and policy changes made by this process invalidate the cache at once.
_CACHE_TTL_S = 2.0
_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class TokenView:
    """What lookup shows about a token (never the token itself)."""

    accessor: str
    tenant: str
    policies: tuple[str, ...]
    display_name: str
    created_at: float
    expires_at: float | None
    ttl: int
    renewable: bool
    meta: dict[str, Any]

    def to_dict(self, now: float) -> dict[str, Any]:
        """JSON form, with the remaining TTL in seconds."""
        return {
            "accessor": self.accessor,
            "tenant": self.tenant,
            "policies": list(self.policies),
            "display_name": self.display_name,
            "creation_time": self.created_at,
            "expire_time": self.expires_at,
            "ttl": max(0, int(self.expires_at - now)) if self.expires_at else 0,
            "creation_ttl": self.ttl,
            "renewable": self.renewable,
            "meta": self.meta,
        }


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """A new token: the secret is shown once, here, and never stored."""

    token: str
    view: TokenView

    def __repr__(self) -> str:
        return f"CreatedToken(token='strongroom_…', view={self.view!r})"


def _view(t: TokenRecord) -> TokenView:
    return TokenView(
        accessor=t.accessor,
        tenant=t.tenant,
        policies=t.policies,
        display_name=t.display_name,
        created_at=t.created_at,
        expires_at=t.expires_at,
        ttl=t.ttl,
        renewable=t.renewable,
        meta=t.meta,
    )


class TokenService:
    """Token lifecycle and authentication for one :class:`Vault`."""

    def __init__(self, vault: Vault, clock: Callable[[], float] = time.time) -> None:
        self._v = vault
        self._clock = clock
        self._cache: dict[bytes, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def normalise_ttl(ttl: int | None, *, default: int, maximum: int) -> int:
        """Validate a requested TTL in seconds."""
        if ttl is None:
            return default
        if ttl <= 0 or ttl > maximum:
            raise InvalidInput(f"ttl must be between 1 and {maximum} seconds")
        return ttl

    def _hash(self, token: str) -> bytes:
        return token_hash(self._v.token_key(), token)

    def invalidate(self) -> None:
        """Drop every cached authentication (after revocation or policy change)."""
        with self._lock:
            self._cache.clear()

    # -- authentication -------------------------------------------------

    def cached(self, token: str | None) -> Principal | None:
        """The principal of a recently authenticated token, without touching storage."""
        if not token:
            return None
        digest = self._hash(token)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            principal = hit[1]
            if principal.expires_at is None or principal.expires_at > now:
                return principal
        return None

    def authenticate(self, token: str | None) -> Principal:
        """Resolve a presented token into a :class:`Principal` or raise."""
        if not token:
            raise Unauthenticated("no token was presented")
        hit = self.cached(token)
        if hit is not None:
            return hit
        digest = self._hash(token)
        now = self._clock()
        with self._v.db.read() as conn:
            rec = TokenRepository(conn).by_hash(digest)
            if rec is None or rec.revoked_at is not None:
                raise Unauthenticated("the token is unknown, expired or revoked")
            if rec.expires_at is not None and rec.expires_at <= now:
                raise Unauthenticated("the token is unknown, expired or revoked")
            acl, policy_version = self._acl_for(conn, rec.tenant, rec.policies)
        principal = Principal(
            tenant=rec.tenant,
            accessor=rec.accessor,
            policies=rec.policies,
            acl=acl,
            display_name=rec.display_name,
            expires_at=rec.expires_at,
            policy_version=policy_version,
        )
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[digest] = (now + _CACHE_TTL_S, principal)
        return principal

    @staticmethod
    def _acl_for(conn: Any, tenant: str, names: tuple[str, ...]) -> tuple[AclLike, str]:
        """The ACL of ``names`` and its version (``name@revision,…``) for the audit log."""
        if "root" in names:
            return RootAcl(), "root"
        recs = sorted(PolicyRepository(conn).get_many(tenant, names), key=lambda p: p.name)
        version = ",".join(f"{p.name}@{p.revision}" for p in recs)
        return Acl([PolicyDocument.parse(p.document) for p in recs]), version

    # -- lifecycle ------------------------------------------------------

    def create(
        self,
        parent: Principal,
        *,
        policies: list[str] | None = None,
        ttl: int | None = None,
        display_name: str = "",
        renewable: bool = True,
        meta: dict[str, str] | None = None,
        tenant: str | None = None,
    ) -> CreatedToken:
        """Create a child token of ``parent`` (same tenant; policies a subset unless root)."""
        parent.require_admin("auth/token/create", Capability.UPDATE)
        target_tenant = tenant or parent.tenant
        if target_tenant != parent.tenant:
            parent.require_operator()
        wanted = tuple(sorted(set(policies if policies is not None else parent.policies)))
        for name in wanted:
            if name != "root":
                validate_policy_name(name)
        if not parent.is_root and not set(wanted) <= set(parent.policies):
            raise PermissionDenied("a child token may only carry policies of its parent")
        settings = self._v.settings
        ttl_s = self.normalise_ttl(
            ttl, default=settings.default_token_ttl, maximum=settings.max_token_ttl
        )
        now = self._clock()
        expires = now + ttl_s
        if parent.expires_at is not None:
            expires = min(expires, parent.expires_at)
        return self._v.db.write(
            lambda tx: self.insert_token(
                tx,
                tenant=target_tenant,
                policies=wanted,
                ttl=ttl_s,
                expires_at=expires,
                display_name=display_name[:256],
                renewable=renewable,
                meta=meta or {},
                parent=parent.accessor if target_tenant == parent.tenant else None,
            )
        )

    def insert_token(
        self,
        tx: WriteTx,
        *,
        tenant: str,
        policies: tuple[str, ...],
        ttl: int,
        expires_at: float | None,
        display_name: str,
        renewable: bool,
        meta: dict[str, str],
        parent: str | None,
        token: str | None = None,
    ) -> CreatedToken:
        """Store a new token inside a write transaction (also used at init)."""
        secret = token or generate_token()
        now = self._clock()
        rec = TokenRecord(
            accessor=generate_accessor(),
            token_hash=self._hash(secret),
            tenant=tenant,
            policies=policies,
            display_name=display_name,
            created_at=now,
            expires_at=expires_at,
            max_expires_at=None if expires_at is None else now + self._v.settings.max_token_ttl,
            ttl=ttl,
            renewable=renewable,
            parent_accessor=parent,
            revoked_at=None,
            meta=dict(meta),
        )
        TokenRepository(tx.conn).insert(rec)
        return CreatedToken(token=secret, view=_view(rec))

    def lookup_self(self, principal: Principal) -> TokenView:
        """Describe the caller's own token."""
        with self._v.db.read() as conn:
            rec = TokenRepository(conn).by_accessor(principal.accessor)
        if rec is None:  # pragma: no cover - authenticated a moment ago
            raise Unauthenticated("the token is unknown, expired or revoked")
        return _view(rec)

    def lookup(
        self, principal: Principal, *, token: str | None = None, accessor: str | None = None
    ) -> TokenView:
        """Describe another token of the caller's tenant, by token or accessor."""
        principal.require_admin("auth/token/lookup", Capability.READ)
        rec = self._find(principal, token=token, accessor=accessor)
        return _view(rec)

    def _find(
        self, principal: Principal, *, token: str | None, accessor: str | None
    ) -> TokenRecord:
        with self._v.db.read() as conn:
            repo = TokenRepository(conn)
            if token is not None:
                rec = repo.by_hash(self._hash(token))
            elif accessor is not None:
                rec = repo.by_accessor(accessor)
            else:
                raise InvalidInput("give a token or an accessor")
        now = self._clock()
        if (
            rec is None
            or rec.tenant != principal.tenant
            or rec.revoked_at is not None
            or (rec.expires_at is not None and rec.expires_at <= now)
        ):
            raise NotFound("no such token")
        return rec

    def revoke(
        self, principal: Principal, *, token: str | None = None, accessor: str | None = None
    ) -> int:
        """Revoke a token of the caller's tenant and its descendants; returns how many."""
        principal.require_admin("auth/token/revoke", Capability.UPDATE)
        rec = self._find(principal, token=token, accessor=accessor)
        return self._revoke_tree(rec.accessor)

    def revoke_self(self, principal: Principal) -> int:
        """Revoke the caller's own token and its descendants."""
        return self._revoke_tree(principal.accessor)

    def _revoke_tree(self, accessor: str) -> int:
        def op(tx: WriteTx) -> int:
            repo = TokenRepository(tx.conn)
            todo, seen = [accessor], []
            while todo:
                a = todo.pop()
                seen.append(a)
                todo.extend(repo.children(a))
            repo.revoke(seen, now=self._clock())
            tx.after_commit(self.invalidate)
            return len(seen)

        return self._v.db.write(op)

    def renew(
        self,
        principal: Principal,
        *,
        increment: int | None = None,
        token: str | None = None,
        accessor: str | None = None,
    ) -> TokenView:
        """Extend a token's expiry by ``increment`` (default: its creation TTL), within its max."""
        if token is None and accessor is None:
            rec = self._find(principal, token=None, accessor=principal.accessor)
        else:
            principal.require_admin("auth/token/renew", Capability.UPDATE)
            rec = self._find(principal, token=token, accessor=accessor)
        if not rec.renewable:
            raise InvalidInput("this token is not renewable")
        if rec.expires_at is None:
            return _view(rec)
        inc = self.normalise_ttl(increment, default=rec.ttl, maximum=self._v.settings.max_token_ttl)
        new_expiry = self._clock() + inc
        if rec.max_expires_at is not None:
            new_expiry = min(new_expiry, rec.max_expires_at)

        def op(tx: WriteTx) -> None:
            TokenRepository(tx.conn).set_expiry(rec.accessor, new_expiry)
            tx.after_commit(self.invalidate)

        self._v.db.write(op)
        return replace(_view(rec), expires_at=new_expiry)
