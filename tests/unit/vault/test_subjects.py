"""Data subjects: references as blind indexes, lookups, tenant isolation, listing."""

from __future__ import annotations

import sqlite3

import pytest

from strongroom.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from strongroom.vault import Principal, Vault


class TestSubjects:
    def test_reference_is_looked_up_not_stored(self, vault: Vault, root: Principal) -> None:
        made = vault.subjects.create(root, reference="MRN-0042 Ada Lovelace")
        assert made.has_reference and made.record_versions == 0
        # Unicode case folding and whitespace runs do not matter.
        found = vault.subjects.lookup(root, "  mrn-0042   ADA lovelace ")
        assert found.id == made.id
        # The database file holds no trace of the reference.
        db = vault.settings.data_dir / "strongroom.db"
        vault.close()
        raw = db.read_bytes() + b"".join(
            p.read_bytes() for p in db.parent.glob("strongroom.db-*") if p.is_file()
        )
        assert b"MRN-0042" not in raw and b"Lovelace" not in raw and b"lovelace" not in raw

    def test_one_subject_per_reference(self, vault: Vault, root: Principal) -> None:
        vault.subjects.create(root, reference="ref-1")
        with pytest.raises(Conflict):
            vault.subjects.create(root, reference="REF-1")
        # Subjects without a reference do not collide.
        vault.subjects.create(root)
        vault.subjects.create(root)

    def test_unknown_reference_and_bad_ids_are_not_found(
        self, vault: Vault, root: Principal
    ) -> None:
        with pytest.raises(NotFound):
            vault.subjects.lookup(root, "nobody")
        with pytest.raises(NotFound):
            vault.subjects.get(root, "sub_" + "0" * 24)
        with pytest.raises(NotFound):
            vault.subjects.get(root, "../etc")
        with pytest.raises(InvalidInput):
            vault.subjects.create(root, reference="x" * 257)
        with pytest.raises(InvalidInput):
            vault.subjects.create(root, reference="   ")

    def test_other_tenants_see_nothing(self, vault: Vault, root: Principal) -> None:
        made = vault.subjects.create(root, reference="shared-ref")
        token = vault.admin.create_tenant(root, "acme")
        acme = vault.tokens.authenticate(token)
        # The same reference in another tenant is another index: no match, no conflict.
        with pytest.raises(NotFound):
            vault.subjects.lookup(acme, "shared-ref")
        with pytest.raises(NotFound):
            vault.subjects.get(acme, made.id)
        theirs = vault.subjects.create(acme, reference="shared-ref")
        assert theirs.id != made.id
        assert [v.id for v in vault.subjects.list(acme)] == [theirs.id]

    def test_list_pages_in_id_order(self, vault: Vault, root: Principal) -> None:
        ids = sorted(vault.subjects.create(root).id for _ in range(5))
        first = vault.subjects.list(root, limit=3)
        rest = vault.subjects.list(root, after=first[-1].id, limit=3)
        assert [v.id for v in first + rest] == ids
        with pytest.raises(InvalidInput):
            vault.subjects.list(root, limit=0)

    def test_record_versions_are_counted(self, vault: Vault, root: Principal) -> None:
        sid = vault.subjects.create(root).id
        for n in range(3):
            vault.kv.put(root, "secret", "p/1", {"n": n}, subject=sid)
        assert vault.subjects.get(root, sid).record_versions == 3

    def test_policy_decides(self, vault: Vault, root: Principal) -> None:
        token = vault.tokens.create(root, policies=[]).token
        nobody = vault.tokens.authenticate(token)
        with pytest.raises(PermissionDenied):
            vault.subjects.create(nobody)
        with pytest.raises(PermissionDenied):
            vault.subjects.list(nobody)


def test_sqlite_unique_index_exists(vault: Vault) -> None:
    db = vault.settings.data_dir / "strongroom.db"
    con = sqlite3.connect(db)
    try:
        names = {r[1] for r in con.execute("PRAGMA index_list('subjects')")}
    finally:
        con.close()
    assert "ux_subjects_tenant_ref" in names


class TestAuditPseudonyms:
    def _entries(self, vault: Vault) -> list[dict[str, object]]:
        import json

        size = vault.audit.size()
        return [json.loads(r.entry) for r in vault.audit.entries(0, size)]

    def test_entries_name_the_subject_by_pseudonym_only(
        self, vault: Vault, root: Principal
    ) -> None:
        a = vault.subjects.create(root).id
        b = vault.subjects.create(root).id
        vault.kv.put(root, "secret", "p/a", {"n": 1}, subject=a)
        vault.kv.get(root, "secret", "p/a")
        vault.kv.put(root, "secret", "p/b", {"n": 2}, subject=b)
        vault.kv.put(root, "secret", "plain", {"n": 3})
        vault.kv.get(root, "secret", "plain")
        entries = self._entries(vault)
        by_resource: dict[str, set[object]] = {}
        for e in entries:
            by_resource.setdefault(str(e["resource"]), set()).add(e.get("subject"))
        (pa,) = by_resource["secret/p/a"]  # the write and the read: one pseudonym
        (pb,) = by_resource["secret/p/b"]
        assert isinstance(pa, str) and pa.startswith("sp1_") and pa != pb
        assert by_resource["secret/plain"] == {None}
        # Record entries never hold the subject id; the one entry that does (the
        # creation, sys/subjects/<id>) holds no pseudonym: nothing links the two.
        for e in entries:
            text = str(e)
            if a in text or b in text:
                assert e["event"] == "sys:subject:write" and "subject" not in e, e
        created = [e["resource"] for e in entries if e["event"] == "sys:subject:write"]
        assert created == [f"sys/subjects/{a}", f"sys/subjects/{b}"]

    def test_pseudonym_is_keyed_by_the_subject_key(self) -> None:
        from strongroom.crypto import SubjectKey

        k1 = SubjectKey(b"\x01" * 32, subject_id="sub_x")
        assert (
            k1.audit_pseudonym() == SubjectKey(b"\x01" * 32, subject_id="sub_x").audit_pseudonym()
        )
        assert (
            k1.audit_pseudonym() != SubjectKey(b"\x02" * 32, subject_id="sub_x").audit_pseudonym()
        )
        assert (
            k1.audit_pseudonym() != SubjectKey(b"\x01" * 32, subject_id="sub_y").audit_pseudonym()
        )
        assert len(k1.audit_pseudonym()) == len("sp1_") + 32
