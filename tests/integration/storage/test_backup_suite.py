"""The whole backup story, the same on a local directory and on S3 (moto's server on loopback).

A vault with thousands of records, versions, deleted and destroyed versions,
a policy, a token and a KEK rotation; two snapshots logged in the audit log
with a 1% change between them. Then: keyless and read-data verify, a full
restore that gives an identical vault (same rows, same log, same checkpoint,
and the restored log verifies offline), a point-in-time restore to an index
between the snapshots, wrong shares refused, a deleted snapshot detected
against the log, and a flipped byte in a chunk or a manifest named.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.unit.backup.conftest import BUCKET, REGION, aws_env, moto_s3  # noqa: F401 - fixtures

from strongroom.backup import LocalTarget, Manifest, Repository, S3Target, Target
from strongroom.backup.log_check import check_against_log, logged_details
from strongroom.backup.restore import RestorePoint, restore_database
from strongroom.backup.vault_snapshot import backup_database, backup_key_for, root_from_shares
from strongroom.config import Settings
from strongroom.errors import NotFound, PermissionDenied
from strongroom.ledger.bundle import Bundle, BundleHeader, verify_bundle
from strongroom.ledger.entry import AuditEvent, Event, Outcome
from strongroom.storage import Database
from strongroom.storage import schema as s
from strongroom.storage.audit import AuditRepository
from strongroom.vault import Vault

_PREFIX = itertools.count()
RECORDS = 2000


def _rows(db: Database, tables: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with db.read() as conn:
        for name in tables:
            table = s.metadata.tables[name]
            cols = [c for c in table.columns if c.name != "encryptions_reserved"]
            out[name] = [
                tuple(r) for r in conn.execute(select(*cols).order_by(*table.primary_key.columns))
            ]
    return out


_STATE = ["tenants", "mounts", "kv_metadata", "kv_versions", "tokens", "policies", "kek_versions"]
_LOG = ["audit_entries", "audit_nodes", "audit_checkpoints", "audit_keys"]


def _bundle(vault: Vault) -> Bundle:
    """What `strongroom audit export` writes: every entry and the newest checkpoint."""
    vault.audit.checkpoint_now()
    with vault.db.read() as conn:
        repo = AuditRepository(conn)
        checkpoint = repo.latest_checkpoint()
        assert checkpoint is not None
        rows = repo.entries(0, checkpoint.size)
    header = BundleHeader(
        origin=str(vault.audit.origin),
        verifier_key=vault.audit.verifier_key(),
        size=len(rows),
        checkpoints=(checkpoint.note.decode(),),
        exported_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return Bundle(header, [(r.leaf_hash, r.entry) for r in rows])


def _logged_backup(vault: Vault, target: Target) -> Manifest:
    """A backup and its sys:backup:create entry, as the server writes them."""
    manifest = backup_database(vault.db, target, keyring=vault.seal.keyring())
    vault.audit.commit(
        AuditEvent(
            event=Event.SYS_BACKUP_CREATE,
            principal="system",
            tenant="default",
            resource="sys/backups",
            outcome=Outcome.ALLOWED,
            request_id=f"test-{manifest.snapshot_id[:12]}",
            details=logged_details(manifest),
        )
    )
    return manifest


@pytest.fixture(params=["local", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "local":
        yield LocalTarget(tmp_path / "repo")
        return
    s3 = request.getfixturevalue("moto_s3")
    request.getfixturevalue("aws_env")
    yield S3Target(BUCKET, prefix=f"suite-{next(_PREFIX)}", endpoint_url=s3.endpoint, region=REGION)


def test_the_backup_suite(target: Target, tmp_path: Path) -> None:
    vault = Vault(Settings(data_dir=tmp_path / "src"))
    vault.open()
    init = vault.initialize(shares=3, threshold=2)
    shares = init.shares
    for share in shares[:2]:
        vault.submit_share(share)
    root = vault.tokens.authenticate(init.root_token)
    try:
        for i in range(RECORDS):
            vault.kv.put(root, "secret", f"app/{i:05d}", {"n": i, "pad": "x" * 64})
        for i in range(0, RECORDS, 10):
            vault.kv.put(root, "secret", f"app/{i:05d}", {"n": i, "v": 2})
            vault.kv.put(root, "secret", f"app/{i:05d}", {"n": i, "v": 3})
        for i in range(1, 200, 4):
            vault.kv.delete(root, "secret", f"app/{i:05d}")
        for i in range(2, 200, 4):
            vault.kv.destroy(root, "secret", f"app/{i:05d}", versions=[1])
        for i in range(3, 60, 4):
            vault.kv.delete_metadata(root, "secret", f"app/{i:05d}")
        with vault.audit.operation(Event.SYS_POLICY_WRITE, principal=root, resource="sys"):
            vault.admin.put_policy(
                root, "reader", '{"rules": [{"path": "secret/app/*", "capabilities": ["read"]}]}'
            )
        with vault.audit.operation(Event.SYS_KEYS_ROTATE, principal=root, resource="sys"):
            vault.keys.rotate(root)
        first = _logged_backup(vault, target)
        expected_at: dict[int, Any] = {}
        for i in range(1000, 1000 + RECORDS // 100):  # 1% of the records change
            vault.kv.put(root, "secret", f"app/{i:05d}", {"changed": True})
            expected_at[vault.audit.size() - 1] = _rows(vault.db, _STATE)
        second = _logged_backup(vault, target)
        assert second.stats is not None and second.stats.chunks_new < second.stats.chunks_total
        source_state = _rows(vault.db, _STATE)
        bundle = _bundle(vault)
    finally:
        vault.close()

    repo = Repository.open(target)
    key = backup_key_for(repo, second, root=root_from_shares(shares[:2]))
    for m in (first, second):
        assert repo.verify(m).ok
        assert repo.verify(m, key=key).ok
    assert check_against_log(repo, bundle).ok

    # Wrong shares: refused before anything is written.
    other = Vault(Settings(data_dir=tmp_path / "other"))
    other.open()
    wrong = other.initialize(shares=3, threshold=2).shares
    other.close()
    url = f"sqlite:///{tmp_path / 'full' / 'strongroom.db'}"
    with pytest.raises(PermissionDenied):
        restore_database(target, RestorePoint(), root=root_from_shares(wrong[:2]), database_url=url)

    # Full restore of the newest snapshot: the same vault.
    result = restore_database(
        target,
        RestorePoint(second.snapshot_id),
        root=root_from_shares(shares[1:]),
        database_url=url,
    )
    restored_db = Database.from_url(url)
    try:
        source_log = second.meta["ledger_size"]
        assert result.ledger_size == source_log
        assert _rows(restored_db, _STATE) == source_state
        with restored_db.read() as conn:
            audit = AuditRepository(conn)
            checkpoint = audit.latest_checkpoint()
            assert checkpoint is not None
            assert audit.size() == source_log
    finally:
        restored_db.engine.dispose()
    restored = Vault(Settings(data_dir=tmp_path / "full"))
    restored.open()
    try:
        for share in shares[:2]:
            restored.submit_share(share)
        r = restored.tokens.authenticate(init.root_token)
        assert restored.kv.get(r, "secret", "app/00010").data == {"n": 10, "v": 3}
        assert restored.kv.get(r, "secret", "app/01005").data == {"changed": True}
        with pytest.raises(NotFound):
            restored.kv.get(r, "secret", "app/00001")
        report = verify_bundle(_bundle(restored))
        assert report.ok, report.findings
    finally:
        restored.close()

    # A point between the snapshots: exactly the state then.
    index = sorted(expected_at)[len(expected_at) // 2]
    pit = f"sqlite:///{tmp_path / 'pit' / 'strongroom.db'}"
    restore_database(
        target, RestorePoint(at_index=index), root=root_from_shares(shares[:2]), database_url=pit
    )
    pit_db = Database.from_url(pit)
    try:
        assert _rows(pit_db, _STATE) == expected_at[index]
    finally:
        pit_db.engine.dispose()

    # Tampering: a flipped byte in a chunk or a manifest is named.
    victim = next(iter(second.chunks()))
    original = target.get(victim.object_name)
    target.put(victim.object_name, bytes([original[0] ^ 1]) + original[1:], overwrite=True)
    assert [p.object_name for p in repo.verify(second).problems] == [victim.object_name]
    target.put(victim.object_name, original, overwrite=True)
    raw = target.get(second.object_name)
    target.put(second.object_name, raw[:-2] + bytes([raw[-2] ^ 1]) + raw[-1:], overwrite=True)
    assert second.object_name in {p.object_name for p in repo.verify(second).problems}
    target.put(second.object_name, raw, overwrite=True)

    # Deleting a snapshot at the storage location: the log notices.
    target.delete(first.object_name)
    check = check_against_log(repo, bundle)
    assert [(p.kind, p.snapshot_id) for p in check.problems] == [("deleted", first.snapshot_id)]
