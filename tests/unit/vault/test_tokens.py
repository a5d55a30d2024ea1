"""Token lifecycle: TTLs, renewal, revocation cascade, hashing, tenants."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from strongroom.crypto import looks_like_token
from strongroom.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from strongroom.vault import Principal, Vault


@pytest.fixture
def clocked(make_vault: Callable[..., Vault]) -> tuple[Vault, list[float]]:
    now = [1_000_000.0]
    v = make_vault()
    for svc in (v.kv, v.tokens, v.admin, v.keys):
        svc._clock = lambda: now[0]  # type: ignore[attr-defined]
    return v, now


class TestTokens:
    def test_created_tokens_are_prefixed_and_checksummed(
        self, vault: Vault, root: Principal
    ) -> None:
        created = vault.tokens.create(root, ttl=60)
        assert created.token.startswith("strongroom_") and looks_like_token(created.token)
        assert created.token not in repr(created)

    def test_ttl_expiry_and_renew(self, clocked: tuple[Vault, list[float]]) -> None:
        v, now = clocked
        root = v.tokens.authenticate("strongroom_test_root_token")
        t = v.tokens.create(root, ttl=100).token
        p = v.tokens.authenticate(t)
        now[0] += 90
        v.tokens.renew(p, increment=100)
        now[0] += 90
        assert v.tokens.authenticate(t).accessor == p.accessor
        now[0] += 200
        with pytest.raises(Unauthenticated):
            v.tokens.authenticate(t)

    def test_revoke_cascades_to_children(self, vault: Vault, root: Principal) -> None:
        vault.admin.put_policy(
            root, "ops", '{"rules": [{"path": "auth/token/create", "capabilities": ["update"]}]}'
        )
        parent = vault.tokens.create(root, policies=["ops"]).token
        pp = vault.tokens.authenticate(parent)
        child = vault.tokens.create(pp).token
        grandchild = vault.tokens.create(vault.tokens.authenticate(child)).token
        assert vault.tokens.revoke(root, token=parent) == 3
        for t in (parent, child, grandchild):
            with pytest.raises(Unauthenticated):
                vault.tokens.authenticate(t)

    def test_child_cannot_gain_policies(self, vault: Vault, root: Principal) -> None:
        vault.admin.put_policy(
            root, "ops", '{"rules": [{"path": "auth/token/create", "capabilities": ["update"]}]}'
        )
        vault.admin.put_policy(
            root, "more", '{"rules": [{"path": "secret/*", "capabilities": ["read"]}]}'
        )
        pp = vault.tokens.authenticate(vault.tokens.create(root, policies=["ops"]).token)
        with pytest.raises(PermissionDenied):
            vault.tokens.create(pp, policies=["ops", "more"])
        with pytest.raises(PermissionDenied):
            vault.tokens.create(pp, policies=["root"])

    def test_lookup_by_accessor_and_other_tenant(self, vault: Vault, root: Principal) -> None:
        created = vault.tokens.create(root, ttl=60, display_name="ci")
        view = vault.tokens.lookup(root, accessor=created.view.accessor)
        assert view.display_name == "ci"
        acme = vault.tokens.authenticate(vault.admin.create_tenant(root, "acme"))
        with pytest.raises(NotFound):
            vault.tokens.lookup(acme, accessor=created.view.accessor)
        with pytest.raises(NotFound):
            vault.tokens.revoke(acme, token=created.token)

    def test_bad_ttl(self, vault: Vault, root: Principal) -> None:
        with pytest.raises(InvalidInput):
            vault.tokens.create(root, ttl=10**12)

    def test_unknown_and_empty_tokens(self, vault: Vault) -> None:
        for bad in ("", "strongroom_nope", "x" * 300):
            with pytest.raises(Unauthenticated):
                vault.tokens.authenticate(bad)

    def test_revoke_self(self, vault: Vault, root: Principal) -> None:
        t = vault.tokens.create(root, ttl=60).token
        vault.tokens.revoke_self(vault.tokens.authenticate(t))
        with pytest.raises(Unauthenticated):
            vault.tokens.authenticate(t)
