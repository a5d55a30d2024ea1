"""Subject erasure reaches every copy: the database, every restore path, and the log stays valid.

The issue's list: after ``subject erase`` every path that could recover the
subject's data fails — API reads, the export, restoring the newest backup,
restoring a backup taken before the erasure (given the newest log), and,
after the key-backup window, restoring an old backup alone; the receipt
verifies offline and fails if altered; other subjects' data and every other
inclusion proof stay valid.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from strongroom.backup import LocalTarget, Repository, subject_keys
from strongroom.backup.restore import RestorePoint, restore_database
from strongroom.backup.vault_snapshot import backup_database, backup_key_for, root_from_shares
from strongroom.config import Settings
from strongroom.errors import Gone, LegalHold, NotFound, ProofInvalid
from strongroom.ledger.proofs import ProofItem, parse_document, verify_document
from strongroom.storage import schema as s
from strongroom.storage.snapshot import decode_rows, stream_name
from strongroom.vault import Vault
from strongroom.vault.audit_proofs import proof_document
from strongroom.vault.principal import Principal


@dataclasses.dataclass
class World:
    """A Shamir-sealed vault with two subjects, X (to erase) and Y (to keep)."""

    tmp: Path
    vault: Vault
    shares: list[str]
    token: str
    root: Principal
    x: str
    y: str
    repo: LocalTarget

    def backup(self, **kw: Any) -> Any:
        return backup_database(self.vault.db, self.repo, keyring=self.vault.seal.keyring(), **kw)

    def restore(self, name: str, target: LocalTarget | None = None, **kw: Any) -> tuple[Vault, Any]:
        url = f"sqlite:///{self.tmp / name / 'strongroom.db'}"
        (self.tmp / name).mkdir()
        result = restore_database(
            target or self.repo,
            kw.pop("point", RestorePoint()),
            root=root_from_shares(self.shares[:2]),
            database_url=url,
            **kw,
        )
        v = Vault(Settings(data_dir=self.tmp / name, database_url=url))  # type: ignore[arg-type]
        v.open()
        for share in self.shares[:2]:
            v.submit_share(share)
        return v, result


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Any:
    # The source vault on each backend (the journal triggers differ); restores go to SQLite.
    vault = Vault(Settings(data_dir=tmp_path / "src", database_url=db_url))  # type: ignore[arg-type]
    vault.open()
    init = vault.initialize(shares=3, threshold=2)
    for share in init.shares[:2]:
        vault.submit_share(share)
    root = vault.tokens.authenticate(init.root_token)
    x = vault.subjects.create(root, reference="patient-x").id
    y = vault.subjects.create(root, reference="patient-y").id
    for i in range(5):
        vault.kv.put(root, "secret", f"x/{i}", {"dx": i}, subject=x)
        vault.kv.put(root, "secret", f"y/{i}", {"dy": i}, subject=y)
    vault.kv.put(root, "secret", "plain", {"p": 1})
    w = World(
        tmp_path, vault, init.shares, init.root_token, root, x, y, LocalTarget(tmp_path / "repo")
    )
    try:
        yield w
    finally:
        vault.close()


def _readable(v: Vault, token: str, prefix: str) -> bool:
    r = v.tokens.authenticate(token)
    try:
        v.kv.get(r, "secret", f"{prefix}/0")
    except Gone:
        return False
    return True


def test_erase_shreds_reads_export_report_and_returns_a_verifiable_receipt(world: World) -> None:
    v, root = world.vault, world.root
    before = v.audit.size() - 1
    old_proof = proof_document(v.audit, [before])
    erasure = v.subjects.erase(root, world.x)
    assert erasure.record_versions == 5
    with pytest.raises(Gone):
        v.kv.get(root, "secret", "x/3")
    with pytest.raises(Gone):
        v.subjects.export(root, world.x)
    with pytest.raises(Gone):
        v.subjects.access_report(root, world.x)
    with pytest.raises(Gone):
        v.subjects.erase(root, world.x)
    with pytest.raises(NotFound):  # the reference is gone with the key
        v.subjects.lookup(root, "patient-x")
    # Everyone else is untouched.
    assert v.kv.get(root, "secret", "y/4").data == {"dy": 4}
    assert v.kv.get(root, "secret", "plain").data == {"p": 1}

    # The receipt verifies offline, from its JSON alone, and names the erasure.
    raw = json.dumps(erasure.to_dict()["receipt"]).encode()
    doc = parse_document(raw)
    verify_document(doc, trusted_key=v.audit.verifier_key())
    entry = json.loads(doc.items[0].entry)
    assert entry["event"] == "sys:subject:erase"
    assert entry["resource"] == f"sys/subjects/{world.x}/erase"
    assert "subject" not in entry  # nothing links it to the subject's pseudonymous entries
    # Altered, it fails.
    forged = dataclasses.replace(
        doc,
        items=[
            ProofItem(
                0,
                doc.items[0].entry.replace(world.x.encode(), world.y.encode()),
                doc.items[0].audit_path,
            )
        ],
    )
    with pytest.raises(ProofInvalid):
        verify_document(forged, trusted_key=v.audit.verifier_key())
    # A proof of an earlier entry still verifies, and so does a fresh one of it.
    verify_document(old_proof, trusted_key=v.audit.verifier_key())
    verify_document(proof_document(v.audit, [before]), trusted_key=v.audit.verifier_key())


def test_snapshots_and_journal_never_hold_a_subject_key(world: World) -> None:
    first = world.backup()
    world.vault.subjects.create(world.root)  # journaled, then shipped in the next snapshot
    second = world.backup()
    repo = Repository.open(world.repo)
    key = backup_key_for(repo, second, root=root_from_shares(world.shares[:2]))
    for m in (first, second):
        rows = list(
            decode_rows(
                s.subjects, repo.read_stream(m, stream_name(s.subjects), key=key), m.meta["format"]
            )
        )
        assert rows and all(r["wrapped_key"] is None for r in rows)
    journal = list(
        decode_rows(
            s.change_journal,
            repo.read_stream(second, stream_name(s.change_journal), key=key),
            second.meta["format"],
        )
    )
    subjects_rows = [j for j in journal if j["tbl"] == "subjects"]
    assert subjects_rows and all("wrapped_key" not in json.loads(j["row"]) for j in subjects_rows)
    # The keys are in the key backups instead, one per backup.
    assert len(subject_keys.list_backups(repo)) == 2


def test_restoring_the_newest_backup_after_erasure(world: World) -> None:
    world.vault.subjects.erase(world.root, world.x)
    world.backup()
    restored, result = world.restore("newest")
    try:
        assert not _readable(restored, world.token, "x")
        assert _readable(restored, world.token, "y")
        assert result.subjects.keys_missing == []
    finally:
        restored.close()


def test_restoring_a_backup_from_before_the_erasure_given_the_newest_log(world: World) -> None:
    old = world.backup()
    world.vault.subjects.erase(world.root, world.x)
    world.backup()  # the newest snapshot carries the log with the erasure
    restored, result = world.restore("old", point=RestorePoint(old.snapshot_id))
    try:
        assert result.subjects.erasures_applied == 1
        assert not _readable(restored, world.token, "x")
        assert _readable(restored, world.token, "y")
        r = restored.tokens.authenticate(world.token)
        assert restored.subjects.get(r, world.x).erased_at is not None
    finally:
        restored.close()


def test_point_in_time_before_the_erasure_is_still_erased(world: World) -> None:
    base = world.backup()
    point = world.vault.audit.size() - 1 + 1
    world.vault.kv.put(world.root, "secret", "x/new", {"late": True}, subject=world.x)
    world.vault.subjects.erase(world.root, world.x)
    world.backup()
    restored, result = world.restore("pitr", point=RestorePoint(at_index=point))
    try:
        assert result.at_index == point and base.snapshot_id == result.snapshot_id
        assert not _readable(restored, world.token, "x")
        assert _readable(restored, world.token, "y")
    finally:
        restored.close()


def test_an_old_backup_alone_with_an_erasure_from_an_exported_log(world: World) -> None:
    world.backup()
    alone = LocalTarget(world.tmp / "old-copy")
    shutil.copytree(world.tmp / "repo", world.tmp / "old-copy")
    world.vault.subjects.erase(world.root, world.x)
    # Nothing newer in that copy; the operator hands the newest log's erasures.
    restored, result = world.restore("given", target=alone, erased=[world.x])
    try:
        assert result.subjects.erasures_applied == 1
        assert not _readable(restored, world.token, "x")
        assert _readable(restored, world.token, "y")
    finally:
        restored.close()


def test_after_the_window_an_old_backup_alone_cannot_bring_the_subject_back(world: World) -> None:
    old = world.backup()
    world.vault.subjects.erase(world.root, world.x)
    # Within the window the old key backup (with X's key) is still there ...
    new = world.backup(key_window_s=3600)
    repo = Repository.open(world.repo)
    assert len(subject_keys.list_backups(repo)) == 2
    # ... and once it has passed, only the newest, without X's key, is left.
    world.backup(key_window_s=0)
    key = backup_key_for(repo, new, root=root_from_shares(world.shares[:2]))
    left = [subject_keys.read_backup(repo, i, key) for i in subject_keys.list_backups(repo)]
    assert len(left) == 1 and world.x not in left[0].subjects and world.y in left[0].subjects
    # The worst case: nothing at hand says X was erased. The live database
    # forgets it, a last backup carries no tombstone, and every snapshot but
    # the old one is gone, so the restored log predates the erasure.
    with world.vault.db.engine.begin() as conn:
        conn.execute(s.subjects.update().values(erased_at=None))
    world.backup(key_window_s=0)
    (bare,) = [subject_keys.read_backup(repo, i, key) for i in subject_keys.list_backups(repo)]
    assert world.x not in bare.erased and world.x not in bare.subjects
    for m in repo.list_snapshots():
        if m.snapshot_id != old.snapshot_id:
            world.repo.delete(f"snapshots/{m.snapshot_id}")
    restored, result = world.restore("alone", point=RestorePoint(old.snapshot_id))
    try:
        assert result.subjects.erasures_applied == 0  # nothing at hand says X was erased
        assert result.subjects.keys_missing == [world.x]  # yet its key exists nowhere
        assert not _readable(restored, world.token, "x")
        assert _readable(restored, world.token, "y")
    finally:
        restored.close()


def test_a_damaged_key_backup_is_reported_and_an_older_one_used(world: World) -> None:
    world.backup()
    late = world.vault.subjects.create(world.root).id
    world.vault.kv.put(world.root, "secret", "late/0", {"late": 1}, subject=late)
    world.backup()
    repo = Repository.open(world.repo)
    newest, _older = subject_keys.list_backups(repo)
    raw = bytearray(world.repo.get(newest.name))
    raw[-5] ^= 1  # a flipped bit in the sealed body
    world.repo.put(newest.name, bytes(raw), overwrite=True)
    restored, result = world.restore("damaged")
    try:
        assert result.subjects.key_backups_unreadable == [newest.name]
        # X and Y come from the older key backup; the late subject was only in the damaged one.
        assert result.subjects.keys_missing == [late]
        assert _readable(restored, world.token, "x") and _readable(restored, world.token, "y")
        assert not _readable(restored, world.token, "late")
        # A keyless subject does not break a later KEK rotation and rewrap.
        r = restored.tokens.authenticate(world.token)
        restored.keys.rotate(r)
        restored.keys.rewrap_all(r)
        assert restored.kv.get(r, "secret", "x/1").data == {"dx": 1}
    finally:
        restored.close()


def test_a_moved_key_backup_does_not_open(world: World) -> None:
    world.backup()
    repo = Repository.open(world.repo)
    (info,) = subject_keys.list_backups(repo)
    moved = info.name[:-8] + "00000000"
    world.repo.put(moved, world.repo.get(info.name))
    world.repo.delete(info.name)
    restored, result = world.restore("moved")
    try:
        assert result.subjects.key_backups_unreadable == [moved]
        assert sorted(result.subjects.keys_missing) == sorted([world.x, world.y])
    finally:
        restored.close()


def test_a_legal_hold_blocks_erasure_until_released(world: World) -> None:
    v, root = world.vault, world.root
    hold = v.retention.place_hold(
        root, reason="litigation 2026-17", mount="secret", path_prefix="x/"
    )
    with pytest.raises(LegalHold):
        v.subjects.erase(root, world.x)
    with pytest.raises(LegalHold):
        v.kv.destroy(root, "secret", "x/1", versions=[1])
    assert _readable(v, world.token, "x")
    v.retention.release_hold(root, hold.id)
    v.subjects.erase(root, world.x)
    assert not _readable(v, world.token, "x")
    events = [json.loads(r.entry)["event"] for r in v.audit.entries(0, v.audit.size())]
    assert "sys:hold:write" in events and "sys:hold:release" in events
