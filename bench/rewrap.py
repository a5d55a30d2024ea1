"""``rewrap_1m``: re-wrap a million DEKs after a KEK rotation, in process.

Setup (not timed): a dev :class:`~strongroom.vault.service.Vault` on a fresh
SQLite data dir; a few canary records written through ``vault.kv.put``; then
record versions bulk-inserted straight into ``kv_metadata``/``kv_versions``
(SQLAlchemy Core ``executemany`` through ``vault.db.write``), 10 versions per
path, each with a real DEK wrapped by KEK v1 (``kek.wrap(DataKey.generate())``).
Their ciphertext is one real sealed payload reused: rewrap never touches
payloads, so only the canaries are read back.

Timed: ``vault.keys.rotate`` then ``vault.keys.rewrap_all(batch_size=10_000)``;
then a second rotation and ``rewrap_all(batch_size=50_000)`` over the same
rows. The physical limit ("crypto only") is the same number of
``KEK.rewrap`` calls on the same blobs in memory, without storage; the
batched ``envelope.rewrap_many`` is timed too. The storage floor is the same
rewrap done once more with bare ``sqlite3`` on the same file and schema (no
SQLAlchemy, no service layer). Afterwards
``vault.keys.status`` must show no record left on an older KEK version, and
the canaries must still decrypt.

Example::

    >>> NAME
    'rewrap_1m'
"""

from __future__ import annotations

import functools
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bench.server import ROOT_TOKEN
from bench.stats import rounded
from strongroom.config import Settings
from strongroom.crypto.envelope import RecordContext, rewrap_many, seal
from strongroom.crypto.keys import KEK, DataKey
from strongroom.storage import schema
from strongroom.storage.repositories import KeyRepository
from strongroom.storage.writer import WriteTx
from strongroom.vault.principal import SYSTEM_TENANT, Principal
from strongroom.vault.service import Vault

__all__ = ["BATCH_SIZES", "GOAL_SECONDS", "NAME", "run"]

NAME = "rewrap_1m"
GOAL_SECONDS = 10.0
"""Goal: one million DEKs re-wrapped in under 10 s (scaled linearly in quick mode)."""
BATCH_SIZES = (10_000, 50_000)

_VERSIONS_PER_PATH = 10
_CHUNK_PATHS = 5_000
_CANARIES = 100
_CONTENT_TYPE = "application/json"


def _bulk_insert(vault: Vault, *, paths: int, first_path: int) -> list[bytes]:
    """Insert ``paths`` x 10 record versions wrapped by the current KEK; return the blobs."""
    kek = vault.seal.keyring().current_kek
    now = time.time()
    ctx = RecordContext(SYSTEM_TENANT, "secret", "bulk/template", 1, "kek", _CONTENT_TYPE)
    ciphertext = seal(b'{"password":"bulk"}', ctx, kek).ciphertext
    blobs: list[bytes] = []
    md = schema.kv_metadata

    def op(tx: WriteTx, metas: list[dict[str, Any]], versions: list[dict[str, Any]]) -> int:
        base = int(tx.conn.execute(select(func.coalesce(func.max(md.c.id), 0))).scalar_one()) + 1
        for n, row in enumerate(metas):
            row["id"] = base + n
        for row in versions:
            row["metadata_id"] += base
        tx.conn.execute(insert(md), metas)
        tx.conn.execute(insert(schema.kv_versions), versions)
        # Count the wraps against the KEK, in the same transaction, as a real write does.
        KeyRepository(tx.conn).add_encryptions({kek.version: len(versions)})
        return len(versions)

    # Pipelined: the writer thread inserts one chunk while this thread wraps
    # the DEKs of the next (SQLite releases the GIL while it works).
    pending: Future[int] | None = None
    for chunk_start in range(first_path, first_path + paths, _CHUNK_PATHS):
        chunk_end = min(chunk_start + _CHUNK_PATHS, first_path + paths)
        metas = [
            {
                "tenant_id": SYSTEM_TENANT,
                "mount": "secret",
                "path": f"bulk/{i:07d}",
                "current_version": _VERSIONS_PER_PATH,
                "oldest_version": 1,
                "max_versions": 0,
                "cas_required": False,
                "delete_version_after": 0.0,
                "custom_metadata": "{}",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(chunk_start, chunk_end)
        ]
        versions: list[dict[str, Any]] = []
        for offset in range(chunk_end - chunk_start):
            for version in range(1, _VERSIONS_PER_PATH + 1):
                wrapped = kek.wrap(DataKey.generate())
                blobs.append(wrapped)
                versions.append(
                    {
                        "metadata_id": offset,  # made absolute once the ids are known
                        "version": version,
                        "created_at": now,
                        "deletion_time": None,
                        "destroyed": False,
                        "content_type": _CONTENT_TYPE,
                        "kek_version": kek.version,
                        "subject_id": None,
                        "wrapped_dek": wrapped,
                        "ciphertext": ciphertext,
                    }
                )
        if pending is not None:
            vault.keys.note_encryptions(kek.version, pending.result())
        pending = vault.db.writer.submit(functools.partial(op, metas=metas, versions=versions))
    if pending is not None:
        vault.keys.note_encryptions(kek.version, pending.result())
    return blobs


def _stale(vault: Vault, root: Principal) -> dict[str, Any]:
    """Records and subject keys per KEK version, from ``vault.keys.status``."""
    status = vault.keys.status(root)
    current = max(s.version for s in status if s.current)
    return {
        "records_by_kek_version": {str(s.version): s.records for s in status},
        "records_on_older_versions": sum(
            s.records + s.subjects for s in status if s.version < current
        ),
        "records_on_version_1": sum(s.records + s.subjects for s in status if s.version == 1),
    }


def _timed_rewrap(vault: Vault, root: Principal, batch_size: int) -> dict[str, Any]:
    """Rotate, then time ``rewrap_all`` at ``batch_size``; return the measurements."""
    new_version = vault.keys.rotate(root)
    batch_times: list[float] = []
    last = time.perf_counter()

    def progress(_p: Any) -> None:
        nonlocal last
        now = time.perf_counter()
        batch_times.append(now - last)
        last = now

    start = time.perf_counter()
    result = vault.keys.rewrap_all(root, batch_size=batch_size, progress=progress)
    seconds = time.perf_counter() - start
    after = _stale(vault, root)
    print(
        f"  batch_size={batch_size}: {result.rewrapped} DEKs in {seconds:.2f} s "
        f"({result.rewrapped / seconds:.0f}/s), remaining {result.remaining}",
        file=sys.stderr,
    )
    return {
        "batch_size": batch_size,
        "to_kek_version": new_version,
        "rewrapped": result.rewrapped,
        "remaining": result.remaining,
        "seconds": rounded(seconds),
        "dek_per_second": rounded(result.rewrapped / seconds),
        "batches": len(batch_times),
        "first_batch_s": rounded(batch_times[0]) if batch_times else None,
        "median_batch_s": rounded(statistics.median(batch_times)) if batch_times else None,
        "last_batch_s": rounded(batch_times[-1]) if batch_times else None,
        **after,
    }


def _crypto_only(blobs: list[bytes], old: KEK, new: KEK, repeats: int) -> tuple[float, float]:
    """Median seconds of ``KEK.rewrap`` over ``blobs`` and of ``rewrap_many`` (in memory)."""
    from strongroom.crypto.keyring import Keyring

    ring = Keyring()
    ring.add(old, current=True)
    ring.add(new, current=True)

    def loop() -> None:
        for blob in blobs:
            old.rewrap(blob, to=new)

    def many() -> None:
        rewrap_many(blobs, ring)

    def median_time(fn: Callable[[], None]) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    return median_time(loop), median_time(many)


def _bare_sqlite3(db_path: Path, *, old: KEK, new: KEK, batch_size: int) -> dict[str, Any]:
    """Re-wrap every DEK on ``old`` to ``new`` with bare ``sqlite3``: the storage floor.

    Same database file, schema, PRAGMAs (WAL, ``synchronous=FULL``), batch size
    and one transaction per batch as the vault, and the same ``KEK.rewrap``
    calls; only the SQLAlchemy and service layers are left out. Rows are
    addressed by ``rowid`` and guarded by their old version, as the vault does.
    """
    table = schema.kv_versions.name
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        select_sql = f"SELECT rowid, wrapped_dek FROM {table} WHERE kek_version = ? LIMIT ?"
        update_sql = (
            f"UPDATE {table} SET kek_version = ?, wrapped_dek = ? "
            "WHERE rowid = ? AND kek_version = ?"
        )
        done = 0
        start = time.perf_counter()
        while True:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(select_sql, (old.version, batch_size)).fetchall()
            if not rows:
                db.execute("COMMIT")
                break
            params = [
                (new.version, old.rewrap(wrapped, to=new), rowid, old.version)
                for rowid, wrapped in rows
            ]
            done += db.executemany(update_sql, params).rowcount
            db.execute("COMMIT")
        seconds = time.perf_counter() - start
        (moved,) = db.execute(
            f"SELECT count(*) FROM {table} WHERE kek_version = ?", (new.version,)
        ).fetchone()
    finally:
        db.close()
    print(f"  bare sqlite3: {done} DEKs in {seconds:.2f} s", file=sys.stderr)
    return {
        "batch_size": batch_size,
        "rewrapped": done,
        "verified_on_new_version": int(moved),
        "seconds": rounded(seconds),
        "dek_per_second": rounded(done / seconds),
    }


def run(*, quick: bool) -> dict[str, Any]:
    """Run the benchmark and return its JSON result."""
    total = 100_000 if quick else 1_000_000
    goal_s = GOAL_SECONDS * total / 1_000_000
    bulk_paths = (total - _CANARIES) // _VERSIONS_PER_PATH
    canaries = total - bulk_paths * _VERSIONS_PER_PATH
    with tempfile.TemporaryDirectory(prefix="sr-bench-rewrap-") as tmp:
        vault = Vault(Settings(data_dir=Path(tmp), dev=True, dev_root_token=ROOT_TOKEN))
        vault.open()
        try:
            root = vault.tokens.authenticate(ROOT_TOKEN)
            expected: dict[str, dict[str, Any]] = {}
            for i in range(canaries):
                data = {"password": f"canary-{i}"}
                vault.kv.put(root, "secret", f"canary/{i:04d}", data)
                expected[f"canary/{i:04d}"] = data
            t0 = time.perf_counter()
            blobs = _bulk_insert(vault, paths=bulk_paths, first_path=0)
            insert_s = time.perf_counter() - t0
            before = _stale(vault, root)
            print(
                f"  inserted {len(blobs) + canaries} record versions in {insert_s:.1f} s",
                file=sys.stderr,
            )
            runs = [_timed_rewrap(vault, root, b) for b in BATCH_SIZES]
            readback_ok = all(
                vault.kv.get(root, "secret", path).data == data for path, data in expected.items()
            )
            final = _stale(vault, root)
            keyring = vault.seal.keyring()
            old, new = keyring.get(1), keyring.current_kek
        finally:
            vault.close()
        best = min(runs, key=lambda r: r["seconds"] or float("inf"))
        # The storage floor runs last, on the closed vault's file: it moves the
        # rows to a KEK the vault never learns of, and the directory is dropped.
        floor = _bare_sqlite3(
            Path(tmp) / "strongroom.db",
            old=new,
            new=KEK.generate(version=new.version + 1),
            batch_size=best["batch_size"],
        )
    crypto_s, many_s = _crypto_only(blobs, old, new, repeats=1 if quick else 3)
    crypto_s *= total / len(blobs)
    many_s *= total / len(blobs)
    print(f"  crypto only: {crypto_s:.2f} s for {total} KEK.rewrap calls", file=sys.stderr)
    by_batch: dict[str, Any] = {}
    for r in runs:
        r["ratio_to_crypto_only"] = rounded(crypto_s / r["seconds"]) if r["seconds"] else None
        r["goal_met"] = r["seconds"] is not None and r["seconds"] < goal_s and r["remaining"] == 0
        r["ratio_to_bare_sqlite3"] = (
            rounded(floor["seconds"] / r["seconds"]) if r["seconds"] and floor["seconds"] else None
        )
        by_batch[str(r["batch_size"])] = r
    return {
        "description": (
            f"Time to re-wrap {total:,} DEKs under a new KEK version with "
            "vault.keys.rewrap_all (SQLite, in process), for two batch sizes, versus the "
            "same number of KEK.rewrap calls in memory (crypto only) and versus the same "
            "rewrap done with bare sqlite3 on the same database (storage floor)."
        ),
        "deks": total,
        "canary_records": canaries,
        "setup_insert_seconds": rounded(insert_s),
        "before": before,
        "by_batch_size": by_batch,
        "seconds": best["seconds"],
        "dek_per_second": best["dek_per_second"],
        "best_batch_size": best["batch_size"],
        "crypto_only_seconds": rounded(crypto_s),
        "crypto_only_dek_per_second": rounded(total / crypto_s),
        "crypto_only_rewrap_many_seconds": rounded(many_s),
        "ratio_to_crypto_only": best["ratio_to_crypto_only"],
        "bare_sqlite3": floor,
        "ratio_to_bare_sqlite3": best["ratio_to_bare_sqlite3"],
        "records_remaining_on_version_1": final["records_on_version_1"],
        "records_remaining_on_older_versions": final["records_on_older_versions"],
        "canaries_read_back": readback_ok,
        "goal": f"under {goal_s:g} s for {total:,} DEKs"
        + (" (10 s per million, scaled for --quick)" if quick else ""),
        "goal_met": bool(best["goal_met"] and final["records_on_version_1"] == 0 and readback_ok),
    }
