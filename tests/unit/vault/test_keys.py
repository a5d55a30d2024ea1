"""KEK rotation, rewrap, retirement and automatic rotation."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from strongroom.errors import Conflict, KeyUnavailable, PermissionDenied
from strongroom.vault import Principal, Vault


def _status(vault: Vault, root: Principal) -> dict[int, dict[str, object]]:
    return {k.version: k.to_dict() for k in vault.keys.status(root)}


class TestRotateRewrapRetire:
    def test_rotate_uses_new_version_and_old_still_decrypts(
        self, vault: Vault, root: Principal
    ) -> None:
        vault.kv.put(root, "secret", "a", {"k": "old"})
        assert vault.keys.rotate(root) == 2
        vault.kv.put(root, "secret", "b", {"k": "new"})
        st = _status(vault, root)
        assert st[1]["records"] == 1 and st[2]["records"] == 1 and st[2]["current"]
        assert vault.kv.get(root, "secret", "a").data == {"k": "old"}

    def test_retire_refused_while_referenced(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "a", {"k": "v"})
        vault.keys.rotate(root)
        with pytest.raises(Conflict) as exc:
            vault.keys.retire(root, 1)
        assert exc.value.extra["dependents"] == 1
        with pytest.raises(Conflict):
            vault.keys.retire(root, 2)  # current
        with pytest.raises(KeyUnavailable):
            vault.keys.retire(root, 9)

    def test_rewrap_then_retire_then_read(self, vault: Vault, root: Principal) -> None:
        for i in range(50):
            vault.kv.put(root, "secret", f"r/{i}", {"i": i})
        sid = vault.subjects.create(root).id
        vault.kv.put(root, "secret", "subj", {"k": "s"}, subject=sid)
        vault.keys.rotate(root)
        first = vault.keys.rewrap_batch(root, batch_size=20)
        assert first.rewrapped == 20 and first.remaining == 31
        total = vault.keys.rewrap_all(root, batch_size=20)
        assert total.remaining == 0
        assert vault.keys.rewrap_batch(root).rewrapped == 0  # idempotent
        st = _status(vault, root)
        assert st[1]["records"] == 0 and st[1]["subjects"] == 0
        vault.keys.retire(root, 1)
        assert _status(vault, root)[1]["retired"]
        assert vault.kv.get(root, "secret", "r/7").data == {"i": 7}
        assert vault.kv.get(root, "secret", "subj").data == {"k": "s"}

    def test_retired_version_unusable_after_restart(self, vault: Vault, root: Principal) -> None:
        vault.keys.rotate(root)
        vault.keys.retire(root, 1)
        settings = vault.settings
        vault.close()
        again = Vault(settings)
        again.open()
        try:
            with pytest.raises(KeyUnavailable):
                again.seal.keyring().get(1)
            assert again.seal.keyring().current == 2
        finally:
            again.close()

    def test_rotate_and_rewrap_with_eight_writers_loses_nothing(
        self, vault: Vault, root: Principal
    ) -> None:
        written: dict[str, int] = {}
        lock = threading.Lock()
        stop = threading.Event()
        errors: list[BaseException] = []

        def writer(n: int) -> None:
            i = 0
            try:
                while not stop.is_set() or i < 30:
                    path = f"w{n}/{i}"
                    vault.kv.put(root, "secret", path, {"n": n, "i": i})
                    with lock:
                        written[path] = i
                    i += 1
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for _ in range(3):
            vault.keys.rotate(root)
            vault.keys.rewrap_all(root, batch_size=25)
        stop.set()
        for t in threads:
            t.join()
        assert not errors
        # Writers that committed on an old version after the last rewrap are
        # picked up by one more pass; then nothing is left anywhere old.
        assert vault.keys.rewrap_all(root, batch_size=100).remaining == 0
        st = _status(vault, root)
        current = max(st)
        assert all(st[v]["records"] == 0 for v in st if v != current)
        for path, i in written.items():
            assert vault.kv.get(root, "secret", path).data["i"] == i
        assert len(written) >= 8 * 30

    def test_operator_only(self, vault: Vault, root: Principal) -> None:
        vault.admin.put_policy(
            root,
            "all",
            '{"rules": [{"path": "*", "capabilities": '
            '["create", "read", "update", "delete", "list", "sudo"]}]}',
        )
        p = vault.tokens.authenticate(vault.tokens.create(root, policies=["all"]).token)
        for call in (vault.keys.rotate, vault.keys.status):
            with pytest.raises(PermissionDenied):
                call(p)


class TestAutomaticRotation:
    def test_rotates_before_threshold(self, make_vault: Callable[..., Vault]) -> None:
        v = make_vault(kek_rotate_after=5)
        r = v.tokens.authenticate("strongroom_test_root_token")
        for i in range(12):
            v.kv.put(r, "secret", f"a/{i}", {"i": i})
        v.db.write(lambda tx: None)  # flush the queued rotation
        st = {k.version: k for k in v.keys.status(r)}
        assert len(st) >= 2
        assert all(k.encryptions <= 5 + 1 for k in st.values() if not k.current)
