"""``backup_vs_restic_borg``: Strongroom backups side by side with restic and borg, same data.

Setup (not timed): a dev :class:`~strongroom.vault.service.Vault` on a fresh
SQLite data dir in a temporary directory. A few records go through
``vault.kv.put`` (so the audit log has entries); the bulk is inserted straight
into ``kv_metadata``/``kv_versions`` (SQLAlchemy Core ``executemany`` through
``vault.db.writer``), one version per path, each a real record: a JSON
plaintext of 4-64 KiB (a base64 string of random bytes) sealed with
``envelope.seal`` under the current KEK with its own DEK, exactly what
``vault.kv.put`` stores. Records are added until the database holds 1 GiB
(32 MiB with ``--quick``), as SQLite counts it, whatever else the schema
stores beside each record (the JSON records what, per table, from
``dbstat``); then ``PRAGMA wal_checkpoint(TRUNCATE)``.
"MB of vault data" is the size of the SQLite database file after that
checkpoint (the WAL file is then empty), and every throughput here is that
size / 10^6 / seconds, for every tool.

Strongroom backs up a byte-identical copy of that checkpointed data dir,
opened as a second vault: its backup writes housekeeping into the vault it
backs up (it trims the change journal), and the peers must read exactly the
file an operator's vault would hold without that. The 1 % change below goes
to both vaults, with the same data. Timed, for each tool on the same data,
one tool after the other (Strongroom, restic, borg, borg with zstd):

1. the first full backup into a new repository (seconds, MB/s, CPU seconds);
2. after 1 % of the records got a new version through ``vault.kv.put`` (and
   another checkpoint), a second backup: seconds and bytes added to the
   repository (the growth of the repository directory, the same measure for
   every tool; each tool's own count is recorded too);
3. the repository size after both;
4. a full verify that reads all the data: Strongroom's equivalent of
   ``strongroom backup verify --target REPO --read-data`` (every snapshot in
   turn: ``Repository.verify(manifest, key=backup_key_for(...))``, as the CLI
   does), ``restic check --read-data`` and ``borg check --verify-data``.

Strongroom backs up with
:func:`~strongroom.backup.vault_snapshot.backup_database` (the vault's
``Database``, a ``LocalTarget`` and the unsealed keyring: a consistent logical
export of every table, FastCDC, zstd level 3, AES-256-GCM, 4 worker threads).
restic and borg back up the vault's data directory, the SQLite file after the
checkpoint, which is how an operator would use them with a vault today; the
vault stays open, idle (its audit checkpointer is made to sign first), and
the benchmark records any file of the data dir that changed while they ran.
restic: a default repository (format version 2 with restic 0.14, so
``--compression auto``, zstd; AES-256-CTR with Poly1305-AES). borg:
``borg init --encryption=repokey-blake2`` (AES-256-CTR with a keyed BLAKE2b
MAC: borg's fastest secure mode, short of SHA-256 on CPUs with SHA
extensions) and its default compression, lz4; a second borg repository with
``--compression zstd,3`` is timed too, for information (no goal uses it).
Passwords come from ``RESTIC_PASSWORD``/``BORG_PASSPHRASE``; caches, borg's
config and all repositories live in the temporary directory.

Missing ``restic``/``borg`` are installed with ``apt-get install -y restic
borgbackup`` (as root); if that fails, the peer is reported unavailable with
the error and the rest still runs.

Caveats: the page cache cannot be dropped reliably here, so every tool reads
the same warm data (the database was just written; it fits in memory), and
repositories are on the same disk. Tools run one after the other on a shared
machine; CPU seconds (user + system, all threads or child processes) are
recorded beside wall time. The ratios are the numbers to compare: goals are
throughput of the first backup >= 1.5x restic's and >= 2x borg's, bytes added
by the second backup <= restic's, and the read-data verify no slower than
``restic check --read-data``. A missed goal never fails the run.

Example::

    >>> NAME
    'backup_vs_restic_borg'
    >>> _shown(["borg", "create", "/tmp/x/repo::first", "/tmp/x/vault"],
    ...        {"/tmp/x/repo": "$REPO", "/tmp/x/vault": "$DATA_DIR"})
    'borg create $REPO::first $DATA_DIR'
"""

from __future__ import annotations

import base64
import filecmp
import functools
import json
import os
import random
import resource
import shlex
import shutil
import sqlite3
import subprocess
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
from strongroom.crypto.envelope import RecordContext, seal
from strongroom.storage import schema
from strongroom.storage.repositories import KeyRepository
from strongroom.storage.writer import WriteTx
from strongroom.vault.principal import SYSTEM_TENANT, Principal
from strongroom.vault.service import Vault

__all__ = ["GOALS", "NAME", "run"]

NAME = "backup_vs_restic_borg"

GOALS: dict[str, tuple[str, float]] = {
    "first_backup_throughput_vs_restic": (">=", 1.5),
    "first_backup_throughput_vs_borg": (">=", 2.0),
    "incremental_bytes_added_vs_restic": ("<=", 1.0),
    "verify_seconds_vs_restic_check_read_data": ("<=", 1.0),
}
"""Each ratio is Strongroom / peer; the goal is the comparison with the number."""

_FULL_BYTES = 1 << 30
_QUICK_BYTES = 32 << 20
_MIN_PLAINTEXT = 4 << 10
_MAX_PLAINTEXT = 64 << 10
_CHANGED_FRACTION = 0.01
_CHUNK_RECORDS = 256
_CANARIES = 20
_MOUNT = "secret"
_CONTENT_TYPE = "application/json"
_SEED = 20240601
_PEER_TIMEOUT_S = 3600
_RESTIC_PASSWORD = "strongroom-bench-restic"
_BORG_PASSPHRASE = "strongroom-bench-borg"


class PeerFailed(RuntimeError):
    """A peer command exited non-zero (the message holds the end of its output)."""


# -- the vault's data --------------------------------------------------------


def _plaintext(size: int) -> tuple[dict[str, Any], bytes]:
    """A record of about ``size`` bytes of JSON, and its encoding as ``vault.kv`` stores it.

    Sizes come from a seeded generator; the content is fresh randomness (the
    vault stores ciphertext, so the content does not matter to any backup).
    """
    raw = os.urandom(max(0, (size - 12) * 3 // 4))
    data = {"blob": base64.b64encode(raw).decode()}
    encoded = json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return data, encoded.encode()


def _bulk_insert(vault: Vault, *, target_bytes: int, rng: random.Random) -> dict[str, Any]:
    """Insert one-version records until the database holds ``target_bytes``.

    The size is SQLite's (``page_count * page_size``, WAL included), so the
    file reaches it once checkpointed, whatever else a write stores beside
    the record. Every record is sealed for its own path and version with a
    fresh DEK under the current KEK (what ``vault.kv.put`` writes), and
    counted against that KEK. Returns the counts.
    """
    kek = vault.seal.keyring().current_kek
    md = schema.kv_metadata
    now = time.time()

    def op(tx: WriteTx, metas: list[dict[str, Any]], versions: list[dict[str, Any]]) -> int:
        base = int(tx.conn.execute(select(func.coalesce(func.max(md.c.id), 0))).scalar_one()) + 1
        for n, row in enumerate(metas):
            row["id"] = base + n
        for row in versions:
            row["metadata_id"] += base
        tx.conn.execute(insert(md), metas)
        tx.conn.execute(insert(schema.kv_versions), versions)
        KeyRepository(tx.conn).add_encryptions({kek.version: len(versions)})
        return len(versions)

    records = plaintext_bytes = ciphertext_bytes = db_bytes = 0
    next_report = target_bytes // 10
    pending: Future[int] | None = None
    while db_bytes < target_bytes:
        metas: list[dict[str, Any]] = []
        versions: list[dict[str, Any]] = []
        for offset in range(_CHUNK_RECORDS):
            path = f"bench/{records:07d}"
            _, plain = _plaintext(rng.randint(_MIN_PLAINTEXT, _MAX_PLAINTEXT))
            ctx = RecordContext(SYSTEM_TENANT, _MOUNT, path, 1, kek.key_class, _CONTENT_TYPE)
            sealed = seal(plain, ctx, kek)
            metas.append(
                {
                    "tenant_id": SYSTEM_TENANT,
                    "mount": _MOUNT,
                    "path": path,
                    "current_version": 1,
                    "oldest_version": 1,
                    "max_versions": 0,
                    "cas_required": False,
                    "delete_version_after": 0.0,
                    "custom_metadata": "{}",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            versions.append(
                {
                    "metadata_id": offset,  # made absolute once the ids are known
                    "version": 1,
                    "created_at": now,
                    "deletion_time": None,
                    "destroyed": False,
                    "content_type": _CONTENT_TYPE,
                    "kek_version": kek.version,
                    "subject_id": None,
                    "wrapped_dek": sealed.wrapped_dek,
                    "ciphertext": sealed.ciphertext,
                }
            )
            records += 1
            plaintext_bytes += len(plain)
            ciphertext_bytes += len(sealed.ciphertext)
        # Pipelined: the writer thread inserts one chunk while this one seals the next.
        if pending is not None:
            vault.keys.note_encryptions(kek.version, pending.result())
        pending = vault.db.writer.submit(functools.partial(op, metas=metas, versions=versions))
        db_bytes = _db_size(vault)  # lags the pending chunk: the file ends a little larger
        if db_bytes >= next_report:
            print(
                f"  setup: {records:,} records, {ciphertext_bytes / 2**20:,.0f} MiB of "
                f"ciphertext, database {db_bytes / 2**20:,.0f} MiB",
                file=sys.stderr,
            )
            next_report = db_bytes + target_bytes // 10
    if pending is not None:
        vault.keys.note_encryptions(kek.version, pending.result())
    return {
        "records": records,
        "plaintext_bytes": plaintext_bytes,
        "ciphertext_bytes": ciphertext_bytes,
    }


def _db_size(vault: Vault) -> int:
    """The database's size as SQLite sees it now (committed pages, WAL included)."""
    with vault.db.read() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
        size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
    return int(pages) * int(size)


def _composition(db_path: Path) -> dict[str, Any]:
    """Bytes of the database file per table and index (``dbstat``), and free pages."""
    conn = sqlite3.connect(db_path, timeout=60)
    try:
        try:
            rows = conn.execute(
                "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
            ).fetchall()
        except sqlite3.OperationalError as exc:  # SQLite built without dbstat
            return {"error": str(exc)}
        (free,) = conn.execute("PRAGMA freelist_count").fetchone()
        (page,) = conn.execute("PRAGMA page_size").fetchone()
    finally:
        conn.close()
    largest = {str(name): int(size) for name, size in rows[:6]}
    return {
        "bytes_by_table_or_index": largest,
        "other_bytes": sum(int(size) for _, size in rows[6:]),
        "free_page_bytes": int(free) * int(page),
    }


def _change_records(
    vaults: list[tuple[Vault, Principal]], *, records: int, rng: random.Random
) -> dict[str, Any]:
    """Write a new version of 1 % of the bulk records through ``vault.kv.put``, in each vault.

    Every vault gets the same records with the same new data.
    """
    count = max(1, round(records * _CHANGED_FRACTION))
    chosen = sorted(rng.sample(range(records), count))
    written = 0
    for i in chosen:
        data, plain = _plaintext(rng.randint(_MIN_PLAINTEXT, _MAX_PLAINTEXT))
        for vault, root in vaults:
            vault.kv.put(root, _MOUNT, f"bench/{i:07d}", data)
        written += len(plain)
    return {"changed_records": count, "changed_plaintext_bytes": written}


def _copy_vault(src: Path, dst: Path) -> bool:
    """Copy a checkpointed data dir (not its empty WAL and shared memory); True if identical."""
    dst.mkdir()
    same = True
    for path in sorted(src.iterdir()):
        if path.is_file() and not path.name.endswith(("-wal", "-shm")):
            shutil.copy2(path, dst / path.name)
            same = same and filecmp.cmp(path, dst / path.name, shallow=False)
    return same


def _quiesce(vault: Vault) -> None:
    """Let the audit checkpointer sign what the last writes logged, so it then stays idle.

    Its thread polls every 0.2 s and signs a checkpoint (a database write)
    when the log grew; done here, it cannot write while the peers read.
    """
    vault.audit.checkpoint_now()
    time.sleep(0.5)
    vault.audit.checkpoint_now()


def _checkpoint(db_path: Path) -> list[int]:
    """``PRAGMA wal_checkpoint(TRUNCATE)`` with a bare connection; return its row."""
    conn = sqlite3.connect(db_path, timeout=60)
    try:
        for _ in range(50):
            row = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if row[0] == 0:
                return [int(x) for x in row]
            time.sleep(0.1)
        raise RuntimeError(f"wal_checkpoint(TRUNCATE) stayed busy: {row}")
    finally:
        conn.close()


def _stamp(data_dir: Path) -> list[tuple[str, int, int]]:
    """Name, size and mtime of every file in the data dir (to prove it did not change)."""
    return sorted(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in data_dir.iterdir() if p.is_file()
    )


def _tree_bytes(folder: Path) -> int:
    """Apparent size of every regular file under ``folder``."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


# -- timing -----------------------------------------------------------------


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn``; return its result, wall seconds and CPU seconds (this process + children)."""
    cpu0 = time.process_time()
    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (time.process_time() - cpu0) + (
        child1.ru_utime + child1.ru_stime - child0.ru_utime - child0.ru_stime
    )
    return result, seconds, cpu


def _shown(argv: list[str], names: dict[str, str]) -> str:
    """``argv`` as a shell command with temporary paths replaced by placeholders."""
    text = shlex.join(argv)
    for path, placeholder in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(path, placeholder)
    return text


def _sh(argv: list[str], env: dict[str, str]) -> str:
    """Run a peer command, no stdin; return its stdout or raise PeerFailed."""
    proc = subprocess.run(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_PEER_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-800:]
        raise PeerFailed(f"{shlex.join(argv[:2])} exited {proc.returncode}: {tail}")
    return proc.stdout


# -- peers: installation ------------------------------------------------------

_PACKAGES = {"restic": "restic", "borg": "borgbackup"}


def _apt_install(packages: list[str]) -> dict[str, Any]:
    """``apt-get install -y PACKAGES`` (after ``apt-get update`` if the first try fails)."""
    argv = ["apt-get", "install", "-y", "-q", *packages]
    out: dict[str, Any] = {"command": shlex.join(argv), "ok": False}
    if shutil.which("apt-get") is None:
        out["error"] = "apt-get is not available on this machine"
        return out
    if os.geteuid() != 0:
        out["error"] = "not root: cannot apt-get install"
        return out
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"  installing {' '.join(packages)} with apt-get", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        _sh(argv, env)
    except (PeerFailed, OSError, subprocess.TimeoutExpired) as first:
        try:
            _sh(["apt-get", "update", "-q"], env)
            _sh(argv, env)
        except (PeerFailed, OSError, subprocess.TimeoutExpired) as exc:
            out["error"] = f"{first}; after apt-get update: {exc}"
            return out
        out["command"] = "apt-get update -q && " + out["command"]
    out["ok"] = True
    out["seconds"] = rounded(time.perf_counter() - t0)
    return out


def _ensure_peers() -> dict[str, Any]:
    """Find (installing if needed) restic and borg; return their path, version or error."""
    missing = [_PACKAGES[tool] for tool in _PACKAGES if shutil.which(tool) is None]
    install = _apt_install(missing) if missing else None
    version_argv = {"restic": ["restic", "version"], "borg": ["borg", "--version"]}
    peers: dict[str, Any] = {"install": install}
    for tool in _PACKAGES:
        path = shutil.which(tool)
        if path is None:
            error = (install or {}).get("error") or f"{tool} is not on PATH after installing"
            peers[tool] = {"available": False, "error": error}
            continue
        try:
            version = _sh(version_argv[tool], dict(os.environ)).strip().splitlines()[0]
        except (PeerFailed, OSError, subprocess.TimeoutExpired) as exc:
            peers[tool] = {"available": False, "path": path, "error": str(exc)}
            continue
        peers[tool] = {"available": True, "path": path, "version": version}
    return peers


# -- contenders ---------------------------------------------------------------


class _Contender:
    """One tool with its own repository: init, back up twice, verify."""

    name = ""
    config: dict[str, str] = {}  # noqa: RUF012 - overridden per class, never mutated

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.commands: dict[str, str] = {}
        self.reported: dict[str, Any] = {}

    def init(self) -> None:
        """Create the repository (not timed)."""

    def backup(self, label: str) -> dict[str, Any]:
        """Take one backup; return what the tool itself reported."""
        raise NotImplementedError

    def verify(self) -> dict[str, Any]:
        """Check every snapshot, reading all the data."""
        raise NotImplementedError


class _Strongroom(_Contender):
    """``backup_database`` into a ``LocalTarget``; verify as the CLI's ``--read-data``."""

    name = "strongroom"
    config = {  # noqa: RUF012
        "input": "logical export of every table (JSON lines, bytes as base64), one read tx",
        "chunking": "FastCDC, 1 MiB average (256 KiB - 4 MiB)",
        "compression": "zstd level 3",
        "encryption": "AES-256-GCM per chunk, chunk ids keyed HMAC-SHA-256",
        "parallelism": "4 worker threads (compress, seal, write)",
    }

    def __init__(self, repo: Path, vault: Vault) -> None:
        super().__init__(repo)
        self.vault = vault
        self.commands = {
            "backup": "backup_database(vault.db, LocalTarget($REPO), keyring=vault.seal.keyring())",
            "verify": "for m in Repository.open(LocalTarget($REPO)).list_snapshots(): "
            "repo.verify(m, key=backup_key_for(repo, m, root=vault.seal.root()), seen=...)  "
            "# = strongroom backup verify --target $REPO --read-data",
            "verify_latest": "repo.verify(latest, key=backup_key_for(repo, latest, root=...))  "
            "# = strongroom backup verify LATEST --target $REPO --read-data",
        }

    def backup(self, label: str) -> dict[str, Any]:
        from strongroom.backup import LocalTarget
        from strongroom.backup.vault_snapshot import backup_database

        last_cut = start = time.perf_counter()

        def progress(_done: int, _total: int) -> None:
            nonlocal last_cut
            last_cut = time.perf_counter()

        manifest = backup_database(
            self.vault.db,
            LocalTarget(self.repo),
            keyring=self.vault.seal.keyring(),
            progress=progress,
        )
        end = time.perf_counter()
        stats = manifest.stats
        if stats is None:
            return {}
        return {
            "stream_bytes_read": stats.bytes_read,
            "chunks_total": stats.chunks_total,
            "chunks_new": stats.chunks_new,
            "bytes_stored_new": stats.bytes_stored_new,
            # progress() runs as each chunk is cut; after the last one come the
            # last uploads, the manifest and whatever backup_database does then.
            "seconds_to_last_chunk_cut": rounded(last_cut - start),
            "seconds_after_last_chunk_cut": rounded(end - last_cut),
        }

    def verify(self, *, latest_only: bool = False) -> dict[str, Any]:
        from strongroom.backup import LocalTarget, Repository
        from strongroom.backup.vault_snapshot import backup_key_for

        repo = Repository.open(LocalTarget(self.repo))
        root = self.vault.seal.root()
        manifests = repo.list_snapshots()
        if latest_only:
            manifests = manifests[-1:]
        chunks = stored = 0
        problems = []
        seen: dict[str, set[str]] = {}  # as the CLI: a shared chunk is read once per key
        for manifest in manifests:
            result = repo.verify(
                manifest,
                key=backup_key_for(repo, manifest, root=root),
                seen=seen.setdefault(manifest.key_id, set()),
            )
            chunks += result.chunks_checked
            stored += result.bytes_checked
            problems += [f"{p.object_name}: {p.kind}" for p in result.problems]
        if problems:
            raise PeerFailed(f"verify found {len(problems)} problem(s), first {problems[0]}")
        return {"snapshots": len(manifests), "chunks_checked": chunks, "bytes_checked": stored}


class _Restic(_Contender):
    """restic with a default (v2, zstd auto) repository."""

    name = "restic"
    config = {  # noqa: RUF012
        "input": "the data directory (SQLite file after wal_checkpoint(TRUNCATE))",
        "chunking": "Rabin CDC, 1 MiB average (512 KiB - 8 MiB)",
        "compression": "repository v2 default: --compression auto (zstd)",
        "encryption": "AES-256-CTR + Poly1305-AES (restic's only mode)",
        "parallelism": "Go runtime, all CPUs",
    }

    def __init__(self, repo: Path, data_dir: Path, scratch: Path) -> None:
        super().__init__(repo)
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "RESTIC_PASSWORD": _RESTIC_PASSWORD,
            "RESTIC_CACHE_DIR": str(scratch / "restic-cache"),
        }
        self.names = {str(repo): "$REPO", str(data_dir): "$DATA_DIR"}
        self.argv = {
            "init": ["restic", "init", "--repo", str(repo)],
            "backup": ["restic", "backup", "--json", "--repo", str(repo), str(data_dir)],
            "verify": ["restic", "check", "--read-data", "--repo", str(repo)],
        }
        self.commands = {k: _shown(v, self.names) for k, v in self.argv.items()}
        self.commands["env"] = "RESTIC_PASSWORD=... RESTIC_CACHE_DIR=<temp dir>"

    def init(self) -> None:
        _sh(self.argv["init"], self.env)
        config = json.loads(_sh(["restic", "cat", "config", "--repo", str(self.repo)], self.env))
        self.reported["repository_version"] = config.get("version")

    def backup(self, label: str) -> dict[str, Any]:
        out = _sh(self.argv["backup"], self.env)
        for line in reversed(out.splitlines()):
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict) and msg.get("message_type") == "summary":
                keys = ("data_added", "total_bytes_processed", "data_blobs", "files_changed")
                return {k: msg.get(k) for k in keys}
        return {}

    def verify(self) -> dict[str, Any]:
        out = _sh(self.argv["verify"], self.env)
        return {"no_errors_found": "no errors were found" in out}


class _Borg(_Contender):
    """borg with ``repokey-blake2`` and lz4 (or the compression given)."""

    name = "borg"

    def __init__(
        self, repo: Path, data_dir: Path, scratch: Path, *, compression: str | None = None
    ) -> None:
        super().__init__(repo)
        self.data_dir = data_dir
        self.compression = compression
        self.name = "borg" if compression is None else f"borg_{compression.replace(',', '')}"
        self.config = {
            "input": "the data directory (SQLite file after wal_checkpoint(TRUNCATE))",
            "chunking": "buzhash CDC, 2 MiB average (default chunker params 19,23,21,4095)",
            "compression": compression or "default: lz4",
            "encryption": "repokey-blake2: AES-256-CTR + keyed BLAKE2b-256",
            "parallelism": "single-threaded",
        }
        self.env = {
            **os.environ,
            "BORG_PASSPHRASE": _BORG_PASSPHRASE,
            "BORG_BASE_DIR": str(scratch / f"{self.name}-base"),
            "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
            "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "no",
        }
        self.names = {str(repo): "$REPO", str(data_dir): "$DATA_DIR"}
        extra = [] if compression is None else ["--compression", compression]
        self.argv = {
            "init": ["borg", "init", "--encryption=repokey-blake2", str(repo)],
            "backup": ["borg", "create", "--json", *extra, f"{repo}::LABEL", str(data_dir)],
            "verify": ["borg", "check", "--verify-data", str(repo)],
        }
        self.commands = {k: _shown(v, self.names) for k, v in self.argv.items()}
        self.commands["backup"] = self.commands["backup"].replace("::LABEL", "::first")
        self.commands["backup (second)"] = self.commands["backup"].replace("::first", "::second")
        self.commands["env"] = "BORG_PASSPHRASE=... BORG_BASE_DIR=<temp dir>"

    def init(self) -> None:
        _sh(self.argv["init"], self.env)

    def backup(self, label: str) -> dict[str, Any]:
        argv = [a.replace("::LABEL", f"::{label}") for a in self.argv["backup"]]
        out = _sh(argv, self.env)
        try:
            stats = json.loads(out)["archive"]["stats"]
        except (ValueError, KeyError, TypeError):
            return {}
        return {k: stats.get(k) for k in ("original_size", "compressed_size", "deduplicated_size")}

    def verify(self) -> dict[str, Any]:
        _sh(self.argv["verify"], self.env)
        return {"exit_status": 0}


# -- the run ------------------------------------------------------------------


def _step(result: dict[str, Any], key: str, fn: Callable[[], Any]) -> Any:
    """Time ``fn`` into ``result[key]``; on failure record the error and return ``None``."""
    if "error" in result:
        return None
    try:
        value, seconds, cpu = _timed(fn)
    except Exception as exc:
        result["error"] = f"{key}: {type(exc).__name__}: {exc}"
        print(f"  {result['tool']}: {result['error']}", file=sys.stderr)
        return None
    result[key] = {"seconds": rounded(seconds), "cpu_seconds": rounded(cpu)}
    if isinstance(value, dict) and value:
        result[key]["reported"] = value
    return value


def _ratio(ours: float | None, peer: float | None) -> float | None:
    if ours is None or peer is None or peer == 0:
        return None
    return rounded(ours / peer)


def _goal(name: str, value: float | None, peer: str) -> dict[str, Any]:
    op, bound = GOALS[name]
    met = None if value is None else (value >= bound if op == ">=" else value <= bound)
    return {"ratio": value, "goal": f"{op} {bound:g}", "goal_met": bool(met), "peer": peer}


def run(*, quick: bool) -> dict[str, Any]:
    """Run the benchmark and return its JSON result."""
    target_bytes = _QUICK_BYTES if quick else _FULL_BYTES
    peers = _ensure_peers()
    rng = random.Random(_SEED)
    with tempfile.TemporaryDirectory(prefix="sr-bench-backup-") as tmp:
        scratch = Path(tmp)
        data_dir, own_dir, repos = (
            scratch / "vault",
            scratch / "vault-strongroom",
            scratch / "repos",
        )
        repos.mkdir()
        db_path = data_dir / "strongroom.db"
        vault = Vault(Settings(data_dir=data_dir, dev=True, dev_root_token=ROOT_TOKEN))
        own: Vault | None = None
        vault.open()
        try:
            root = vault.tokens.authenticate(ROOT_TOKEN)
            t0 = time.perf_counter()
            for i in range(_CANARIES):
                vault.kv.put(root, _MOUNT, f"canary/{i:03d}", {"password": f"canary-{i}"})
            data = _bulk_insert(vault, target_bytes=target_bytes, rng=rng)
            _quiesce(vault)
            data["checkpoint"] = _checkpoint(db_path)
            # Strongroom backs up an identical copy: its backup writes to the
            # vault it backs up (housekeeping), which the peers must not see.
            data["strongroom_copy_identical"] = _copy_vault(data_dir, own_dir)
            own = Vault(Settings(data_dir=own_dir, dev=True, dev_root_token=ROOT_TOKEN))
            own.open()
            own_root = own.tokens.authenticate(ROOT_TOKEN)
            data["setup_seconds"] = rounded(time.perf_counter() - t0)
            data["db_bytes"] = db_path.stat().st_size
            data["db_composition"] = _composition(db_path)
            data["data_dir_bytes"] = _tree_bytes(data_dir)
            data["target_bytes"] = target_bytes
            data["db_at_least_target"] = data["db_bytes"] >= target_bytes
            print(
                f"  vault: {data['records']:,} records, database {data['db_bytes'] / 1e6:,.1f} MB "
                f"after checkpoint, setup {data['setup_seconds']} s",
                file=sys.stderr,
            )
            strongroom = _Strongroom(repos / "strongroom", own)
            peer_list: list[_Contender] = []
            if peers["restic"]["available"]:
                peer_list.append(_Restic(repos / "restic", data_dir, scratch))
            if peers["borg"]["available"]:
                peer_list.append(_Borg(repos / "borg", data_dir, scratch))
                peer_list.append(
                    _Borg(repos / "borg-zstd3", data_dir, scratch, compression="zstd,3")
                )
            contenders = [strongroom, *peer_list]
            results: dict[str, dict[str, Any]] = {
                c.name: {"tool": c.name, "config": c.config} for c in contenders
            }
            for tool in ("restic", "borg"):
                if not peers[tool]["available"]:
                    results[tool] = {"tool": tool, "error": f"unavailable: {peers[tool]['error']}"}
            for c in contenders:
                _step(results[c.name], "init", c.init)

            def phase(key: str, label: str) -> None:
                before = _stamp(data_dir)
                for c in contenders:
                    r = results[c.name]
                    _step(r, key, functools.partial(c.backup, label))
                    if "error" not in r:
                        r[f"repo_bytes_after_{label}"] = _tree_bytes(c.repo)
                        print(
                            f"  {c.name} {label} backup: {r[key]['seconds']} s, repository "
                            f"{r[f'repo_bytes_after_{label}'] / 1e6:,.1f} MB",
                            file=sys.stderr,
                        )
                changed = sorted({f[0] for f in set(_stamp(data_dir)) ^ set(before)})
                data[f"data_dir_files_changed_during_{label}_backups"] = changed

            phase("first_backup", "first")
            both = [(vault, root), (own, own_root)]
            _, change_s, _ = _timed(
                lambda: data.update(_change_records(both, records=data["records"], rng=rng))
            )
            data["change_seconds_both_vaults"] = rounded(change_s)
            _quiesce(vault)
            _quiesce(own)
            data["checkpoint_after_change"] = _checkpoint(db_path)
            data["db_bytes_after_change"] = db_path.stat().st_size
            data["db_composition_after_change"] = _composition(db_path)
            data["strongroom_copy_db_bytes_after_change"] = (own_dir / db_path.name).stat().st_size
            print(
                f"  changed {data['changed_records']:,} records in {change_s:.1f} s; database "
                f"{data['db_bytes_after_change'] / 1e6:,.1f} MB",
                file=sys.stderr,
            )
            phase("second_backup", "second")
            for c in contenders:
                _step(results[c.name], "verify", c.verify)
                r = results[c.name]
                if "error" not in r:
                    print(f"  {c.name} verify: {r['verify']['seconds']} s", file=sys.stderr)
            _step(
                results["strongroom"],
                "verify_latest",
                functools.partial(strongroom.verify, latest_only=True),
            )
        finally:
            if own is not None:
                own.close()
            vault.close()
        for c in contenders:
            r = results[c.name]
            r["commands"] = c.commands
            if c.reported:
                r["repository"] = c.reported
    return _summarize(data, results, peers, quick=quick)


def _summarize(
    data: dict[str, Any],
    results: dict[str, dict[str, Any]],
    peers: dict[str, Any],
    *,
    quick: bool,
) -> dict[str, Any]:
    """Derived numbers (MB/s, bytes added), the ratios and the goals."""
    mb = data["db_bytes"] / 1e6
    for r in results.values():
        first = r.get("first_backup")
        if first and first.get("seconds"):
            first["mb_per_second"] = rounded(mb / first["seconds"])
        if "repo_bytes_after_second" in r:
            r["repo_bytes"] = r["repo_bytes_after_second"]
            r["bytes_added_by_second_backup"] = (
                r["repo_bytes_after_second"] - r["repo_bytes_after_first"]
            )
    sr, restic, borg = (results.get(k, {}) for k in ("strongroom", "restic", "borg"))

    def get(r: dict[str, Any], *keys: str) -> Any:
        node: Any = r
        for k in keys:
            node = node.get(k) if isinstance(node, dict) else None
        return node

    ratios = {
        "first_backup_throughput_vs_restic": _goal(
            "first_backup_throughput_vs_restic",
            _ratio(
                get(sr, "first_backup", "mb_per_second"),
                get(restic, "first_backup", "mb_per_second"),
            ),
            "restic backup",
        ),
        "first_backup_throughput_vs_borg": _goal(
            "first_backup_throughput_vs_borg",
            _ratio(
                get(sr, "first_backup", "mb_per_second"), get(borg, "first_backup", "mb_per_second")
            ),
            "borg create (repokey-blake2, lz4)",
        ),
        "incremental_bytes_added_vs_restic": _goal(
            "incremental_bytes_added_vs_restic",
            _ratio(
                sr.get("bytes_added_by_second_backup"), restic.get("bytes_added_by_second_backup")
            ),
            "restic backup (second)",
        ),
        "verify_seconds_vs_restic_check_read_data": _goal(
            "verify_seconds_vs_restic_check_read_data",
            _ratio(get(sr, "verify", "seconds"), get(restic, "verify", "seconds")),
            "restic check --read-data",
        ),
    }
    versions = {"strongroom": f"strongroom {_strongroom_version()}"}
    for tool in ("restic", "borg"):
        versions[tool] = peers[tool].get("version") or f"unavailable: {peers[tool].get('error')}"
    return {
        "description": (
            "Strongroom backups (backup_database into a local repository) against restic and "
            "borg backing up the vault's data directory, same vault (Strongroom on a "
            "byte-identical copy, as its backup writes to the vault), same run, one tool after "
            f"the other: a {data['db_bytes'] / 1e6:,.0f} MB SQLite vault of "
            f"{data['records']:,} records (4-64 KiB JSON plaintexts, sealed as the vault seals "
            "them), a first full backup, a second backup after 1% of the records got a new "
            "version through vault.kv.put, the repository size after both, and a verify that "
            "reads all the data. MB/s = SQLite database file size after PRAGMA "
            "wal_checkpoint(TRUNCATE), in 10^6 bytes, / seconds. Page cache warm for every tool "
            "(not dropped); repositories on the same local disk."
        ),
        "throughput_basis": (
            "bytes of the SQLite database file after PRAGMA wal_checkpoint(TRUNCATE) "
            f"({data['db_bytes']:,} bytes before the first backups), / 1e6 / seconds"
        ),
        "data": data,
        "versions": versions,
        "peers_install": peers.get("install"),
        "tools": results,
        "ratios": ratios,
        "goal": "Strongroom / peer: first-backup MB/s >= 1.5x restic and >= 2x borg; "
        "bytes added by the second backup <= restic's; read-data verify time <= "
        "restic check --read-data"
        + (" (quick run: a small vault, not representative)" if quick else ""),
        "goal_met": all(g["goal_met"] for g in ratios.values()),
    }


def _strongroom_version() -> str:
    from strongroom import __version__

    return __version__
