"""The whole vault, end to end, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from strongroom.errors import Conflict, NotFound
from strongroom.vault import Vault

ROOT = "strongroom_test_root_token"


class TestVaultOnBackend:
    def test_lifecycle(self, make_vault: Callable[..., Vault], db_url: str) -> None:
        v = make_vault(database_url=db_url)
        r = v.tokens.authenticate(ROOT)
        v.kv.put(r, "secret", "a/b", {"k": "1"})
        v.kv.put(r, "secret", "a/b", {"k": "2"}, cas=1)
        with pytest.raises(Conflict):
            v.kv.put(r, "secret", "a/b", {"k": "3"}, cas=1)
        assert v.kv.list_keys(r, "secret", "a/").keys == ["b"]
        v.kv.delete(r, "secret", "a/b")
        with pytest.raises(NotFound):
            v.kv.get(r, "secret", "a/b")
        v.kv.undelete(r, "secret", "a/b", versions=[2])
        assert v.kv.get(r, "secret", "a/b").data == {"k": "2"}
        v.keys.rotate(r)
        assert v.keys.rewrap_all(r, batch_size=1).remaining == 0
        v.keys.retire(r, 1)
        assert v.kv.get(r, "secret", "a/b", version=1).data == {"k": "1"}
        acme = v.tokens.authenticate(v.admin.create_tenant(r, "acme"))
        with pytest.raises(NotFound):
            v.kv.get(acme, "secret", "a/b")

    def test_concurrent_writers_group_commit(
        self, make_vault: Callable[..., Vault], db_url: str
    ) -> None:
        v = make_vault(database_url=db_url)
        r = v.tokens.authenticate(ROOT)
        batches: list[int] = []
        v.db.writer._on_batch = lambda n, _s: batches.append(n)

        def worker(n: int) -> None:
            for i in range(40):
                v.kv.put(r, "secret", f"g/{n}/{i}", {"i": i})

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(batches) >= 320
        assert len(v.kv.list_keys(r, "secret", "g/").keys) == 8
        for n in range(8):
            assert v.kv.get(r, "secret", f"g/{n}/39").data == {"i": 39}
