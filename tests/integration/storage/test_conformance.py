"""Storage conformance: the same behaviour on SQLite and on PostgreSQL.

Every test takes ``db_url`` and so runs once per backend. The PostgreSQL runs
use the real server of this machine (see tests/conftest.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from strongroom.errors import Conflict, StorageUnavailable
from strongroom.storage import Database, WriteTx
from strongroom.storage.models import Mount, PolicyRecord, RecordVersion, TokenRecord
from strongroom.storage.repositories import (
    KeyRepository,
    KVRepository,
    MountRepository,
    PolicyRepository,
    TenantRepository,
    TokenRepository,
)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    d = Database.from_url(db_url, pool_size=4)
    d.migrate()
    d.start()
    d.write(lambda tx: TenantRepository(tx.conn).ensure("t1", now=0.0))
    d.write(
        lambda tx: MountRepository(tx.conn).create(
            Mount("t1", "secret", "kv", "", 0, False, 0.0, 0.0)
        )
    )
    yield d
    d.close()


def _version(n: int, kek: int | None = 1, payload: bytes = b"c") -> RecordVersion:
    return RecordVersion(n, float(n), None, False, "application/json", kek, None, b"w" * 8, payload)


def _put(tx: WriteTx, path: str, n: int = 1) -> int:
    repo = KVRepository(tx.conn)
    meta = repo.get_metadata("t1", "secret", path, for_update=True)
    if meta is None:
        meta = repo.create_metadata(tenant="t1", mount="secret", path=path, now=0.0)
    repo.insert_version(meta.id, _version(n))
    repo.update_metadata(meta.id, current_version=n)
    return meta.id


class TestMigrations:
    def test_migrate_is_idempotent(self, db: Database) -> None:
        db.migrate()
        with db.read() as conn:
            assert conn.execute(text("select count(*) from tenants")).scalar_one() == 1


class TestRecords:
    def test_metadata_and_versions_round_trip(self, db: Database) -> None:
        mid = db.write(lambda tx: _put(tx, "a/b"))
        db.write(lambda tx: _put(tx, "a/b", 2))
        with db.read() as conn:
            repo = KVRepository(conn)
            meta = repo.get_metadata("t1", "secret", "a/b")
            assert meta is not None and meta.id == mid and meta.current_version == 2
            assert [v.version for v in repo.list_versions(mid)] == [1, 2]
            v1 = repo.get_version(mid, 1)
            assert v1 is not None and v1.ciphertext == b"c" and v1.kek_version == 1

    def test_duplicate_path_is_rejected(self, db: Database) -> None:
        db.write(lambda tx: _put(tx, "dup"))

        def again(tx: WriteTx) -> None:
            KVRepository(tx.conn).create_metadata(tenant="t1", mount="secret", path="dup", now=0.0)

        with pytest.raises(StorageUnavailable):
            db.write(again)

    def test_soft_delete_undelete_destroy(self, db: Database) -> None:
        mid = db.write(lambda tx: _put(tx, "x"))
        db.write(lambda tx: KVRepository(tx.conn).set_deletion_time(mid, [1], 5.0))
        with db.read() as conn:
            assert KVRepository(conn).get_version(mid, 1).deletion_time == 5.0  # type: ignore[union-attr]
        db.write(lambda tx: KVRepository(tx.conn).set_deletion_time(mid, [1], None))
        db.write(lambda tx: KVRepository(tx.conn).destroy(mid, [1]))
        with db.read() as conn:
            v = KVRepository(conn).get_version(mid, 1)
        assert v is not None and v.destroyed and v.ciphertext is None and v.kek_version is None

    @pytest.mark.parametrize(
        ("prefix", "expected"),
        [
            ("", ["a%b/1", "a_b/2", "axb/3", "z/ü", "z/Ω"]),
            ("a%b/", ["a%b/1"]),
            ("a_b/", ["a_b/2"]),
            ("z/", ["z/ü", "z/Ω"]),
        ],
    )
    def test_prefix_listing_is_byte_ordered_and_literal(
        self, db: Database, prefix: str, expected: list[str]
    ) -> None:
        for p in ["a%b/1", "a_b/2", "axb/3", "z/ü", "z/Ω"]:
            db.write(lambda tx, p=p: _put(tx, p))
        with db.read() as conn:
            assert KVRepository(conn).list_paths("t1", "secret", prefix) == expected

    def test_tenant_scoping(self, db: Database) -> None:
        db.write(lambda tx: _put(tx, "same"))
        with db.read() as conn:
            assert KVRepository(conn).get_metadata("t2", "secret", "same") is None
            assert KVRepository(conn).list_paths("t2", "secret", "") == []


class TestGroupCommit:
    def test_failing_operation_does_not_spoil_its_batch(self, db: Database) -> None:
        def bad(tx: WriteTx) -> None:
            _put(tx, "bad")
            raise Conflict("nope")

        futures = [db.writer.submit(lambda tx, i=i: _put(tx, f"ok/{i}")) for i in range(20)]
        futures.insert(10, db.writer.submit(bad))
        for i, fut in enumerate(futures):
            if i == 10:
                with pytest.raises(Conflict):
                    fut.result()
            else:
                fut.result()
        with db.read() as conn:
            paths = KVRepository(conn).list_paths("t1", "secret", "")
        assert "bad" not in paths and len(paths) == 20

    def test_after_commit_hooks_run_only_for_committed_ops(self, db: Database) -> None:
        ran: list[str] = []

        def good(tx: WriteTx) -> None:
            tx.after_commit(lambda: ran.append("good"))

        def bad(tx: WriteTx) -> None:
            tx.after_commit(lambda: ran.append("bad"))
            raise Conflict("nope")

        db.write(good)
        with pytest.raises(Conflict):
            db.write(bad)
        assert ran == ["good"]

    def test_concurrent_writers_all_durable(self, db: Database, db_url: str) -> None:
        def worker(n: int) -> None:
            for i in range(50):
                db.write(lambda tx, n=n, i=i: _put(tx, f"w{n}/{i}"))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        db.close()
        reopened = Database.from_url(db_url)
        try:
            with reopened.read() as conn:
                assert len(KVRepository(conn).list_paths("t1", "secret", "w")) == 400
        finally:
            reopened.close()


class TestKeysAndTokens:
    def test_dependents_and_rewrap_guard(self, db: Database) -> None:
        db.write(lambda tx: KeyRepository(tx.conn).add(1, b"k1", now=0.0))
        db.write(lambda tx: KeyRepository(tx.conn).add(2, b"k2", now=0.0))
        for i in range(5):
            db.write(lambda tx, i=i: _put(tx, f"k/{i}"))
        with db.read() as conn:
            repo = KeyRepository(conn)
            assert repo.dependents()[1]["records"] == 5
            assert repo.count_stale(current=2) == 5
        seen: list[bytes] = []

        def rewrap(blobs: list[bytes]) -> list[bytes]:
            seen.extend(blobs)
            # A row that moves meanwhile (here: destroyed by the same unit of
            # work, as a concurrent writer could) is skipped by the guard.
            return [b"new"] * len(blobs)

        done, fetched = db.write(
            lambda tx: KeyRepository(tx.conn).rewrap_stale(current=2, limit=3, rewrap=rewrap)
        )
        assert (done, fetched) == (3, 3) and len(seen) == 3
        with db.read() as conn:
            assert KeyRepository(conn).count_dependents(1) == 2
            assert KeyRepository(conn).count_stale(current=2) == 2
        # Idempotent and resumable: the next batch takes only what is left.
        done, fetched = db.write(
            lambda tx: KeyRepository(tx.conn).rewrap_stale(current=2, limit=10, rewrap=rewrap)
        )
        assert (done, fetched) == (2, 2)
        with db.read() as conn:
            assert KeyRepository(conn).count_stale(current=2) == 0
        db.write(lambda tx: KeyRepository(tx.conn).add_encryptions({2: 7}))
        db.write(lambda tx: KeyRepository(tx.conn).retire(1, now=1.0))
        with db.read() as conn:
            rows = {r.version: r for r in KeyRepository(conn).list_versions()}
        assert rows[2].encryptions == 7 and rows[1].retired_at == 1.0 and rows[1].wrapped == b""

    def test_tokens_and_policies(self, db: Database) -> None:
        rec = TokenRecord(
            "acc1", b"h" * 32, "t1", ("a", "b"), "n", 0.0, 10.0, 20.0, 10, True, None, None, {}
        )
        child = TokenRecord(
            "acc2", b"i" * 32, "t1", ("a",), "", 0.0, 10.0, 20.0, 10, True, "acc1", None, {}
        )
        db.write(lambda tx: TokenRepository(tx.conn).insert(rec))
        db.write(lambda tx: TokenRepository(tx.conn).insert(child))
        with db.read() as conn:
            repo = TokenRepository(conn)
            got = repo.by_hash(b"h" * 32)
            assert got is not None and got.policies == ("a", "b")
            assert repo.children("acc1") == ["acc2"]
        db.write(lambda tx: TokenRepository(tx.conn).revoke(["acc1", "acc2"], now=5.0))
        with db.read() as conn:
            assert TokenRepository(conn).by_accessor("acc2").revoked_at == 5.0  # type: ignore[union-attr]
        assert db.write(lambda tx: PolicyRepository(tx.conn).put("t1", "p", "{}", now=1.0)) == 1
        assert db.write(lambda tx: PolicyRepository(tx.conn).put("t1", "p", "{}", now=2.0)) == 2
        with db.read() as conn:
            assert PolicyRepository(conn).get("t1", "p") == PolicyRecord("t1", "p", "{}", 2, 2.0)
            assert PolicyRepository(conn).list("t1") == ["p"]


class TestAuditLedger:
    """The ledger tables behave the same on both backends, proofs included."""

    @staticmethod
    def _fill(db: Database, n: int) -> list[bytes]:
        from strongroom.ledger.entry import AuditEvent, Event, Outcome
        from strongroom.ledger.merkle import Frontier, leaf_hash
        from strongroom.storage.audit import AuditRepository, AuditRow

        frontier = Frontier()
        raws: list[bytes] = []
        for i in range(n):
            resource = f"secret/app/{i % 3}" if i % 2 else f"secret/other/{i}"
            ev = AuditEvent(
                event=Event.KV_RECORD_READ if i % 2 else Event.KV_RECORD_WRITE,
                principal=f"acc_{i % 4}",
                tenant="t1",
                resource=resource,
                outcome=Outcome.DENIED if i % 5 == 0 else Outcome.ALLOWED,
                request_id=f"r{i}",
            )
            raw = ev.canonical(seq=i, time_ns=(1_700_000_000 + i) * 10**9)
            lh = leaf_hash(raw)
            frontier, nodes = frontier.append(lh)
            row = AuditRow(
                i,
                lh,
                raw,
                1_700_000_000.0 + i,
                str(ev.event),
                "t1",
                ev.principal,
                resource,
                str(ev.outcome),
            )
            db.write(lambda tx, row=row, nodes=nodes: AuditRepository(tx.conn).append(row, nodes))
            raws.append(raw)
        return raws

    def test_proofs_from_stored_nodes(self, db: Database) -> None:
        from strongroom.ledger.merkle import (
            MemoryNodeStore,
            consistency_proof,
            inclusion_proof,
            leaf_hash,
            root_at,
            verify_consistency,
            verify_inclusion,
        )
        from strongroom.storage.audit import AuditRepository

        raws = self._fill(db, 37)
        mem = MemoryNodeStore()
        from strongroom.ledger.merkle import Frontier

        _, nodes = Frontier().extend(leaf_hash(r) for r in raws)
        mem.put_nodes(nodes)
        with db.read() as conn:
            repo = AuditRepository(conn)
            assert repo.size() == 37
            for size in (1, 2, 7, 16, 37):
                root = root_at(repo, size)
                assert root == root_at(mem, size)
                for index in range(0, size, 5):
                    proof = inclusion_proof(repo, index=index, size=size)
                    assert proof == inclusion_proof(mem, index=index, size=size)
                    verify_inclusion(
                        leaf_hash=leaf_hash(raws[index]),
                        index=index,
                        size=size,
                        proof=proof,
                        root=root,
                    )
            for first, second in ((1, 37), (5, 16), (16, 37), (36, 37)):
                proof = consistency_proof(repo, first=first, second=second)
                verify_consistency(
                    first=first,
                    second=second,
                    first_root=root_at(repo, first),
                    second_root=root_at(repo, second),
                    proof=proof,
                )
            assert [r.entry for r in repo.entries(3, 6)] == raws[3:6]
            assert repo.find_by_leaf_hash(leaf_hash(raws[9])) == 9

    def test_search_filters(self, db: Database) -> None:
        from strongroom.storage.audit import AuditRepository, SearchQuery

        self._fill(db, 20)
        with db.read() as conn:
            repo = AuditRepository(conn)
            by_prefix = repo.search(SearchQuery(resource="secret/app/", resource_prefix=True))
            assert [r.seq for r in by_prefix] == list(range(1, 20, 2))
            denied = repo.search(SearchQuery(outcome="denied"))
            assert [r.seq for r in denied] == [0, 5, 10, 15]
            who = repo.search(SearchQuery(principal="acc_1", event="kv:record:read", limit=2))
            assert [r.seq for r in who] == [1, 5]
            page = repo.search(SearchQuery(principal="acc_1", after_seq=5))
            assert [r.seq for r in page] == [9, 13, 17]
            timed = repo.search(SearchQuery(since=1_700_000_003.0, until=1_700_000_005.0))
            assert [r.seq for r in timed] == [3, 4]

    def test_checkpoints_and_key(self, db: Database) -> None:
        from strongroom.storage.audit import AuditKeyRecord, AuditRepository, CheckpointRecord

        for size in (3, 1, 2):
            rec = CheckpointRecord(size, bytes([size]) * 32, b"note %d" % size, float(size))
            db.write(lambda tx, rec=rec: AuditRepository(tx.conn).add_checkpoint(rec))
        key = AuditKeyRecord(1, "origin/v1", b"p" * 32, b"w" * 65, 0.0)
        db.write(lambda tx: AuditRepository(tx.conn).add_signing_key(key))
        with db.read() as conn:
            repo = AuditRepository(conn)
            latest = repo.latest_checkpoint()
            assert latest is not None and latest.size == 3
            assert [c.size for c in repo.checkpoints(min_size=2)] == [2, 3]
            assert repo.signing_key() == key
