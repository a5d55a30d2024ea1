"""Logical snapshots: export while serving, import onto either backend, get the same vault."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import LargeBinary

from strongroom.config import Settings
from strongroom.errors import IntegrityViolation, InvalidInput
from strongroom.ledger.merkle import root_at
from strongroom.storage import Database
from strongroom.storage import schema as s
from strongroom.storage.audit import AuditRepository
from strongroom.storage.snapshot import (
    FORMAT_V1,
    SNAPSHOT_FORMAT,
    _encode_row,
    decode_rows,
    export_tables,
    import_tables,
    schema_revision,
    stream_name,
)
from strongroom.vault import Vault

ROOT = "strongroom_test_root_token"


def _fill(vault: Vault) -> None:
    root = vault.tokens.authenticate(ROOT)
    for i in range(60):
        vault.kv.put(root, "secret", f"app/{i:03d}", {"password": f"pw-{i}", "n": i})
    for i in range(0, 60, 7):
        vault.kv.put(root, "secret", f"app/{i:03d}", {"password": f"pw-{i}-v2"})
    vault.kv.delete(root, "secret", "app/001")
    vault.kv.destroy(root, "secret", "app/002", versions=[1])
    vault.admin.put_policy(
        root, "reader", '{"rules": [{"path": "secret/app/*", "capabilities": ["read"]}]}'
    )
    vault.tokens.create(root, policies=["reader"])
    vault.keys.rotate(root)
    vault.kv.put(root, "secret", "after-rotation", {"k": "v"})


def _export(vault: Vault) -> dict[str, bytes]:
    with vault.db.snapshot_read() as conn:
        return {name: b"".join(rows) for name, rows in export_tables(conn)}


def _pg_or_sqlite(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'restored' / 'strongroom.db'}"
    make: Callable[[], str] = request.getfixturevalue("pg_server")
    return make()


@pytest.mark.parametrize("target", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_restore_gives_the_same_vault(
    db_url: str,
    target: str,
    tmp_path: Path,
    make_vault: Callable[..., Vault],
    request: pytest.FixtureRequest,
) -> None:
    source = make_vault(database_url=db_url)
    _fill(source)
    source.audit.checkpoint_now()
    streams = _export(source)
    with source.db.read() as conn:
        revision = schema_revision(conn)
        repo = AuditRepository(conn)
        size = repo.size()
        root_hash = root_at(repo, size)
    assert revision is not None

    url = _pg_or_sqlite(target, tmp_path, request)
    restored_db = Database.from_url(url)
    restored_db.migrate()
    with restored_db.engine.begin() as conn:
        counts = import_tables(conn, {k: [v] for k, v in streams.items()})
    restored_db.engine.dispose()
    assert counts["kv_versions"] > 60 and counts["audit_entries"] == size

    # The restored database opens as the same vault: same key file (dev
    # mode), same records, same audit tree.
    data_dir = tmp_path / "restored-vault"
    data_dir.mkdir()
    (data_dir / "dev-root.key").write_bytes(
        (source.settings.data_dir / "dev-root.key").read_bytes()
    )
    (data_dir / "dev-root.key").chmod(0o600)
    again = Vault(Settings(data_dir=data_dir, dev=True, database_url=url))  # type: ignore[arg-type]
    again.open()
    try:
        root = again.tokens.authenticate(ROOT)
        src_root = source.tokens.authenticate(ROOT)
        for path in ("app/000", "app/007", "app/059", "after-rotation"):
            assert (
                again.kv.get(root, "secret", path).data
                == source.kv.get(src_root, "secret", path).data
            )
        with again.db.read() as conn:
            assert root_at(AuditRepository(conn), size) == root_hash
        # The restored log keeps growing from where the snapshot ended.
        again.kv.put(root, "secret", "new-after-restore", {"k": "v"})
        assert again.audit.size() > size
    finally:
        again.close()


def test_export_is_consistent_while_writers_run(
    make_vault: Callable[..., Vault], tmp_path: Path
) -> None:
    vault = make_vault()
    root = vault.tokens.authenticate(ROOT)
    for i in range(10):
        vault.kv.put(root, "secret", f"before/{i}", {"i": i})
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            vault.kv.put(root, "secret", f"busy/{i % 50}", {"i": i})
            i += 1

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        streams = _export(vault)
    finally:
        stop.set()
        for t in threads:
            t.join()

    # Every version row belongs to a metadata row of the same snapshot, and
    # every audit entry's Merkle nodes are there: the snapshot is one instant.
    def rows(table: Any) -> list[dict[str, Any]]:
        # Not str.splitlines: binary values follow their row's line raw (format v2).
        return list(decode_rows(table, [streams[stream_name(table)]], SNAPSHOT_FORMAT))

    meta_ids = {r["id"] for r in rows(s.kv_metadata)}
    version_ids = {r["metadata_id"] for r in rows(s.kv_versions)}
    assert version_ids and version_ids <= meta_ids
    n_entries = len(rows(s.audit_entries))
    db = Database.from_url(f"sqlite:///{tmp_path / 'copy.db'}")
    db.migrate()
    with db.engine.begin() as conn:
        import_tables(conn, {k: [v] for k, v in streams.items()})
    with db.read() as conn:
        repo = AuditRepository(conn)
        assert repo.size() == n_entries
        root_at(repo, n_entries)  # every peak is present


def test_import_refuses_a_non_empty_database(make_vault: Callable[..., Vault]) -> None:
    vault = make_vault()
    streams = _export(vault)
    with vault.db.engine.begin() as conn, pytest.raises(InvalidInput):
        import_tables(conn, {k: [v] for k, v in streams.items()})


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)


@given(
    st.lists(
        st.one_of(
            st.tuples(_values, st.just(False)), st.tuples(st.binary() | st.none(), st.just(True))
        ),
        max_size=12,
    )
)
def test_row_lines_are_exactly_json(cells: list[tuple[Any, bool]]) -> None:
    """The JSON line is byte for byte json.dumps, with byte lengths for binary columns."""
    row = [v for v, _ in cells]
    binary = [b for _, b in cells]
    reference = [len(v) if b and v is not None else v for v, b in cells]
    blobs = b"".join(v for v, b in cells if b and v is not None)
    line = json.dumps(reference, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    assert _encode_row(row, binary) == line + blobs


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10**6),
            st.integers(min_value=0, max_value=3),
            st.booleans(),
            st.text(max_size=40),
            st.one_of(st.none(), st.binary(max_size=300)),
            st.one_of(st.none(), st.binary(max_size=300)),
        ),
        max_size=20,
    ),
    st.lists(st.integers(min_value=1, max_value=97), min_size=1, max_size=30),
)
def test_rows_round_trip_whatever_the_chunking(rows: list[Any], cuts: list[int]) -> None:
    """Rows encoded then split anywhere (chunks cut mid-line, mid-blob) decode to themselves."""
    table = s.kv_versions
    values = [
        {
            "metadata_id": mid,
            "version": ver,
            "created_at": 1.5,
            "deletion_time": None,
            "destroyed": destroyed,
            "content_type": ctype,
            "kek_version": 1,
            "subject_id": None,
            "wrapped_dek": dek,
            "ciphertext": ct,
        }
        for mid, ver, destroyed, ctype, dek, ct in rows
    ]
    binary = [isinstance(c.type, LargeBinary) for c in table.columns]
    data = b"".join(_encode_row([v[c.name] for c in table.columns], binary) for v in values)
    pieces, at = [], 0
    for i in itertools.cycle(cuts):
        if at >= len(data):
            break
        pieces.append(data[at : at + i])
        at += i
    assert list(decode_rows(table, pieces, SNAPSHOT_FORMAT)) == values


def test_a_truncated_stream_is_an_integrity_error() -> None:
    table = s.kv_versions
    binary = [isinstance(c.type, LargeBinary) for c in table.columns]
    row = [1, 1, 1.0, None, False, "json", 1, None, b"dek", b"ciphertext"]
    data = _encode_row(row, binary)
    for cut in (len(data) - 3, data.index(b"\n") - 2):
        with pytest.raises(IntegrityViolation):
            list(decode_rows(table, [data[:cut]], SNAPSHOT_FORMAT))
    bad = data.replace(b",3,", b",-3,", 1)
    with pytest.raises(IntegrityViolation):
        list(decode_rows(table, [bad], SNAPSHOT_FORMAT))


def test_v1_snapshots_still_decode() -> None:
    table = s.kv_versions
    line = b'[1,1,1.0,null,false,"json",1,null,"ZGVr","Y2lwaGVy"]\n'
    (row,) = decode_rows(table, [line[:10], line[10:]], FORMAT_V1)
    assert row["wrapped_dek"] == b"dek" and row["ciphertext"] == b"cipher"
