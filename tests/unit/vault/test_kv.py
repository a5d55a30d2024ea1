"""KV v2 semantics of the vault service, on a real SQLite database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

import pytest

from strongroom.errors import (
    Conflict,
    DecryptionFailed,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from strongroom.vault import Principal, Vault


def _principal(vault: Vault, root: Principal, policy: str, name: str = "p") -> Principal:
    vault.admin.put_policy(root, name, policy)
    token = vault.tokens.create(root, policies=[name]).token
    return vault.tokens.authenticate(token)


class TestPutGet:
    def test_round_trip_and_versions(self, vault: Vault, root: Principal) -> None:
        v1 = vault.kv.put(root, "secret", "app/db", {"password": "one"})
        v2 = vault.kv.put(root, "secret", "app/db", {"password": "two"})
        assert (v1.version, v2.version) == (1, 2)
        assert vault.kv.get(root, "secret", "app/db").data == {"password": "two"}
        assert vault.kv.get(root, "secret", "app/db", version=1).data == {"password": "one"}

    def test_cas_zero_is_create_only(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "a", {"k": "v"}, cas=0)
        with pytest.raises(Conflict):
            vault.kv.put(root, "secret", "a", {"k": "w"}, cas=0)

    def test_cas_mismatch_conflicts_and_match_writes(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "a", {"k": "1"})
        with pytest.raises(Conflict) as exc:
            vault.kv.put(root, "secret", "a", {"k": "2"}, cas=5)
        assert exc.value.extra["current_version"] == 1
        assert vault.kv.put(root, "secret", "a", {"k": "2"}, cas=1).version == 2

    def test_cas_required_by_metadata(self, vault: Vault, root: Principal) -> None:
        vault.kv.update_metadata(root, "secret", "c", cas_required=True)
        with pytest.raises(InvalidInput):
            vault.kv.put(root, "secret", "c", {"k": "v"})
        vault.kv.put(root, "secret", "c", {"k": "v"}, cas=0)

    def test_absent_and_unknown_mount_are_404(self, vault: Vault, root: Principal) -> None:
        with pytest.raises(NotFound):
            vault.kv.get(root, "secret", "nope")
        with pytest.raises(NotFound):
            vault.kv.get(root, "nomount", "x")

    def test_payload_limit(self, make_vault: Callable[..., Vault]) -> None:
        v = make_vault(max_payload_bytes=2048)
        r = v.tokens.authenticate("strongroom_test_root_token")
        with pytest.raises(PayloadTooLarge):
            v.kv.put(r, "secret", "big", {"k": "x" * 4096})

    @pytest.mark.parametrize("bad", ["", "/abs", "a//b", "a/../b", "a/./b", "x\x00y", "a/"])
    def test_bad_paths_are_invalid(self, vault: Vault, root: Principal, bad: str) -> None:
        with pytest.raises(InvalidInput):
            vault.kv.put(root, "secret", bad, {"k": "v"})

    def test_unicode_and_nested_values(self, vault: Vault, root: Principal) -> None:
        data = {"名前": "値", "nested": {"list": [1, 2, {"x": None}]}, "emoji": "🔐"}
        vault.kv.put(root, "secret", "ünï/cødé", data)
        assert vault.kv.get(root, "secret", "ünï/cødé").data == data


class TestVersionsLifecycle:
    def test_max_versions_keeps_newest(self, vault: Vault, root: Principal) -> None:
        vault.kv.update_metadata(root, "secret", "m", max_versions=3)
        for i in range(6):
            vault.kv.put(root, "secret", "m", {"i": i})
        meta, versions = vault.kv.metadata(root, "secret", "m")
        assert [v.version for v in versions] == [4, 5, 6]
        assert meta.oldest_version == 4
        with pytest.raises(NotFound):
            vault.kv.get(root, "secret", "m", version=2)

    def test_soft_delete_and_undelete(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "d", {"k": "1"})
        vault.kv.put(root, "secret", "d", {"k": "2"})
        vault.kv.delete(root, "secret", "d")
        with pytest.raises(NotFound) as exc:
            vault.kv.get(root, "secret", "d")
        assert exc.value.extra.get("deletion_time") is not None
        assert vault.kv.get(root, "secret", "d", version=1).data == {"k": "1"}
        vault.kv.undelete(root, "secret", "d", versions=[2])
        assert vault.kv.get(root, "secret", "d").data == {"k": "2"}

    def test_destroy_removes_ciphertext(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "x", {"k": "gone-for-good"})
        vault.kv.destroy(root, "secret", "x", versions=[1])
        with pytest.raises(NotFound) as exc:
            vault.kv.get(root, "secret", "x", version=1)
        assert exc.value.extra.get("destroyed") is True
        vault.kv.undelete(root, "secret", "x", versions=[1])  # no effect on destroyed
        with pytest.raises(NotFound):
            vault.kv.get(root, "secret", "x", version=1)
        _, versions = vault.kv.metadata(root, "secret", "x")
        assert versions[0].destroyed

    def test_delete_version_after(self, make_vault: Callable[..., Vault]) -> None:
        now = [1000.0]
        v = make_vault()
        for svc in (v.kv, v.tokens, v.admin, v.keys):
            svc._clock = lambda: now[0]  # type: ignore[attr-defined]
        r = v.tokens.authenticate("strongroom_test_root_token")
        v.kv.update_metadata(r, "secret", "t", delete_version_after=60)
        v.kv.put(r, "secret", "t", {"k": "v"})
        assert v.kv.get(r, "secret", "t").data == {"k": "v"}
        now[0] += 61
        with pytest.raises(NotFound):
            v.kv.get(r, "secret", "t")

    def test_delete_metadata_removes_everything(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "z", {"k": "v"})
        vault.kv.delete_metadata(root, "secret", "z")
        with pytest.raises(NotFound):
            vault.kv.metadata(root, "secret", "z")
        assert vault.kv.put(root, "secret", "z", {"k": "v"}).version == 1

    def test_custom_metadata(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "cm", {"k": "v"})
        vault.kv.update_metadata(root, "secret", "cm", custom_metadata={"owner": "team-a"})
        assert vault.kv.get(root, "secret", "cm").custom_metadata == {"owner": "team-a"}
        with pytest.raises(InvalidInput):
            vault.kv.update_metadata(
                root, "secret", "cm", custom_metadata={str(i): "v" for i in range(65)}
            )


class TestListing:
    def _seed(self, vault: Vault, root: Principal) -> None:
        for path in ["app/db", "app/api", "app/deep/one", "team/x", "top"]:
            vault.kv.put(root, "secret", path, {"k": path})

    def test_children_and_folders(self, vault: Vault, root: Principal) -> None:
        self._seed(vault, root)
        assert vault.kv.list_keys(root, "secret", "").keys == ["app/", "team/", "top"]
        assert vault.kv.list_keys(root, "secret", "app/").keys == ["api", "db", "deep/"]

    def test_pagination(self, vault: Vault, root: Principal) -> None:
        for i in range(25):
            vault.kv.put(root, "secret", f"p/{i:02d}", {"i": i})
        seen, after = [], None
        while True:
            page = vault.kv.list_keys(root, "secret", "p/", after=after, limit=10)
            seen += page.keys
            if page.next_after is None:
                break
            after = page.next_after
        assert seen == [f"{i:02d}" for i in range(25)]

    def test_listing_hides_what_cannot_be_read(self, vault: Vault, root: Principal) -> None:
        self._seed(vault, root)
        p = _principal(
            vault,
            root,
            """
            rules:
              - {path: "secret/*", capabilities: [list]}
              - {path: "secret/app/db", capabilities: [read]}
              - {path: "secret/app/deep/*", capabilities: [read]}
            """,
        )
        assert vault.kv.list_keys(p, "secret", "").keys == ["app/"]
        assert vault.kv.list_keys(p, "secret", "app/").keys == ["db", "deep/"]
        with pytest.raises(NotFound):
            vault.kv.list_keys(p, "secret", "team/")

    def test_listing_prefix_with_like_metacharacters(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "a%b/x", {"k": "1"})
        vault.kv.put(root, "secret", "a_b/y", {"k": "2"})
        vault.kv.put(root, "secret", "axb/z", {"k": "3"})
        assert vault.kv.list_keys(root, "secret", "a%b/").keys == ["x"]
        assert vault.kv.list_keys(root, "secret", "a_b/").keys == ["y"]


class TestAuthorization:
    def test_no_read_gives_the_same_404_as_absent(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "hidden", {"k": "v"})
        p = _principal(
            vault, root, '{"rules": [{"path": "secret/other", "capabilities": ["read"]}]}'
        )
        with pytest.raises(NotFound) as present:
            vault.kv.get(p, "secret", "hidden")
        with pytest.raises(NotFound) as absent:
            vault.kv.get(p, "secret", "absent")
        assert present.value.detail == absent.value.detail
        assert present.value.extra == absent.value.extra

    def test_create_without_update(self, vault: Vault, root: Principal) -> None:
        p = _principal(
            vault, root, '{"rules": [{"path": "secret/new/*", "capabilities": ["create", "read"]}]}'
        )
        vault.kv.put(p, "secret", "new/a", {"k": "v"})
        with pytest.raises(PermissionDenied):
            vault.kv.put(p, "secret", "new/a", {"k": "w"})

    def test_deny_beats_grant(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "app/admin", {"k": "v"})
        vault.admin.put_policy(
            root, "grant", '{"rules": [{"path": "secret/app/admin", "capabilities": ["read"]}]}'
        )
        vault.admin.put_policy(
            root, "block", '{"rules": [{"path": "secret/app/admin", "capabilities": ["deny"]}]}'
        )
        token = vault.tokens.create(root, policies=["grant", "block"]).token
        p = vault.tokens.authenticate(token)
        with pytest.raises(NotFound):
            vault.kv.get(p, "secret", "app/admin")

    def test_policy_change_applies_at_once(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "a", {"k": "v"})
        vault.admin.put_policy(
            root, "p", '{"rules": [{"path": "secret/a", "capabilities": ["read"]}]}'
        )
        token = vault.tokens.create(root, policies=["p"]).token
        assert vault.kv.get(vault.tokens.authenticate(token), "secret", "a").data == {"k": "v"}
        vault.admin.put_policy(
            root, "p", '{"rules": [{"path": "secret/a", "capabilities": ["deny"]}]}'
        )
        with pytest.raises(NotFound):
            vault.kv.get(vault.tokens.authenticate(token), "secret", "a")


class TestTenants:
    def test_tenants_cannot_see_each_other(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "shared/name", {"owner": "default"})
        t_token = vault.admin.create_tenant(root, "acme")
        acme = vault.tokens.authenticate(t_token)
        assert acme.tenant == "acme" and acme.is_root and not acme.is_operator
        with pytest.raises(NotFound):
            vault.kv.get(acme, "secret", "shared/name")
        with pytest.raises(NotFound):
            vault.kv.list_keys(acme, "secret", "")
        vault.kv.put(acme, "secret", "shared/name", {"owner": "acme"})
        assert vault.kv.get(acme, "secret", "shared/name").data == {"owner": "acme"}
        assert vault.kv.get(root, "secret", "shared/name").data == {"owner": "default"}
        with pytest.raises(PermissionDenied):
            vault.keys.rotate(acme)
        with pytest.raises(PermissionDenied):
            vault.seal_now(acme)


class TestEncryptionAtRest:
    def test_no_plaintext_in_database_file(self, vault: Vault, root: Principal) -> None:
        marker = "PLAINTEXT-CANARY-8c1f2e"
        for i in range(20):
            vault.kv.put(root, "secret", f"canary/{i}", {"value": marker})
        vault.db.close()
        blob = b"".join(
            p.read_bytes() for p in vault.settings.data_dir.glob("strongroom.db*") if p.is_file()
        )
        assert marker.encode() not in blob
        assert b"strongroom_test_root_token" not in blob

    def test_moving_ciphertext_to_another_record_fails(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "a", {"k": "from-a"})
        vault.kv.put(root, "secret", "b", {"k": "from-b"})
        vault.kv.put(root, "secret", "b", {"k": "from-b2"})
        db = str(vault.settings.data_dir / "strongroom.db")
        con = sqlite3.connect(db)
        ids = dict(con.execute("select path, id from kv_metadata").fetchall())
        src = con.execute(
            "select wrapped_dek, ciphertext from kv_versions where metadata_id=? and version=1",
            (ids["a"],),
        ).fetchone()
        # Same version number on another path, then another version on that path.
        con.execute(
            "update kv_versions set wrapped_dek=?, ciphertext=? where metadata_id=? and version=1",
            (src[0], src[1], ids["b"]),
        )
        con.execute(
            "update kv_versions set wrapped_dek=?, ciphertext=? where metadata_id=? and version=2",
            (src[0], src[1], ids["b"]),
        )
        con.commit()
        con.close()
        for version in (1, 2):
            with pytest.raises(DecryptionFailed):
                vault.kv.get(root, "secret", "b", version=version)
        assert json.dumps(vault.kv.get(root, "secret", "a").data) == '{"k": "from-a"}'


class TestSubjects:
    def test_record_sealed_under_subject_key(self, vault: Vault, root: Principal) -> None:
        sid = vault.subjects.create(root).id
        vault.kv.put(root, "secret", "patients/1", {"name": "Ada"}, subject=sid)
        assert vault.kv.get(root, "secret", "patients/1").data == {"name": "Ada"}
        with pytest.raises(NotFound):
            vault.kv.put(root, "secret", "patients/2", {"name": "x"}, subject="sub_missing")
