"""``audit_verify_1m``: verify a million-entry offline audit bundle, in process.

Setup (not timed): a million realistic entries (the exact bytes
``AuditEvent.canonical`` gives, see :mod:`bench.ledger_data`), their leaf
hashes, and a real Ed25519-signed C2SP checkpoint every 1,000 entries
(``SigningKey`` + ``ledger.checkpoint.sign_checkpoint`` over the tree head
from ``Frontier``), written to a temp file with ``ledger.bundle.write_bundle``.

Timed, with nothing carried over from the setup (no trusted state, the
in-memory entries dropped): ``read_bundle(path)`` then ``verify_bundle``, as
``strongroom audit verify`` does. The report must be ``ok`` with every entry
covered by a checkpoint and every checkpoint counted.

Physical limit, measured in the same run on the same bytes: reading the file
(``Path.read_bytes``) plus bare ``hashlib.sha256`` over every entry (the leaf
hashes) and over every interior node of the tree (N - 1 node hashes, level by
level): what any verifier must at least do. Repetitions alternate limit and
verifier; medians are reported.

Example::

    >>> NAME
    'audit_verify_1m'
"""

from __future__ import annotations

import gc
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ledger_data import ledger_entries
from bench.stats import rounded
from strongroom.crypto import SigningKey
from strongroom.ledger.bundle import BundleHeader, read_bundle, verify_bundle, write_bundle
from strongroom.ledger.checkpoint import Checkpoint, sign_checkpoint, verifier_key_string
from strongroom.ledger.merkle import Frontier, leaf_hash

__all__ = ["CHECKPOINT_EVERY", "GOAL_SECONDS", "NAME", "run"]

NAME = "audit_verify_1m"
GOAL_SECONDS = 5.0
"""Goal: a million-entry bundle read and verified in under 5 s (scaled for --quick)."""
CHECKPOINT_EVERY = 1000
_ORIGIN = "strongroom.local/bench/audit/v1"


def _write(path: Path, total: int) -> tuple[list[bytes], int]:
    """Write a ``total``-entry bundle to ``path``; return the entry bytes and checkpoint count."""
    raws: list[bytes] = []
    hashes: list[bytes] = []
    key = SigningKey.generate()
    notes: list[str] = []
    frontier = Frontier()
    for start in range(0, total, CHECKPOINT_EVERY):
        count = min(CHECKPOINT_EVERY, total - start)
        chunk = [raw for raw, _t, _k in ledger_entries(start, count)]
        leaves = [leaf_hash(raw) for raw in chunk]
        frontier, _nodes = frontier.extend(leaves)
        cp = Checkpoint(_ORIGIN, frontier.size, frontier.root())
        notes.append(sign_checkpoint(cp, key=key, name=_ORIGIN).decode())
        raws.extend(chunk)
        hashes.extend(leaves)
    header = BundleHeader(
        origin=_ORIGIN,
        verifier_key=verifier_key_string(_ORIGIN, key.public_key()),
        size=total,
        checkpoints=tuple(notes),
        exported_at="2026-12-01T00:00:00Z",
    )
    write_bundle(path, header, zip(hashes, raws, strict=True))
    return raws, len(notes)


def _hash_floor(raws: list[bytes]) -> tuple[float, int]:
    """Seconds for bare SHA-256 over every entry and every interior node; the node count."""
    sha = hashlib.sha256
    start = time.perf_counter()
    row = [sha(b"\x00" + raw).digest() for raw in raws]
    nodes = 0
    while len(row) > 1:
        carry = [row[-1]] if len(row) & 1 else []
        row = [sha(b"\x01" + a + b).digest() for a, b in zip(row[0::2], row[1::2], strict=False)]
        nodes += len(row)
        row += carry
    return time.perf_counter() - start, nodes


def _read_floor(path: Path) -> float:
    """Seconds to read the whole file into memory (``Path.read_bytes``)."""
    start = time.perf_counter()
    data = path.read_bytes()
    elapsed = time.perf_counter() - start
    del data
    return elapsed


def _verify_once(path: Path, total: int, checkpoints: int) -> tuple[float, float, bool]:
    """Time ``read_bundle`` and ``verify_bundle``; return both and whether all checked out."""
    t0 = time.perf_counter()
    bundle = read_bundle(path)
    t1 = time.perf_counter()
    report = verify_bundle(bundle)
    t2 = time.perf_counter()
    ok = (
        report.ok
        and report.size == total
        and report.verified_size == total
        and report.checkpoints == checkpoints
        and report.trusted is not None
        and report.trusted.size == total
    )
    del bundle, report
    gc.collect()
    return t1 - t0, t2 - t1, ok


def run(*, quick: bool, total: int | None = None) -> dict[str, Any]:
    """Run the benchmark and return its JSON result."""
    total = total or (100_000 if quick else 1_000_000)
    repeats = 2 if quick else 3
    goal_s = GOAL_SECONDS * total / 1_000_000
    with tempfile.TemporaryDirectory(prefix="sr-bench-bundle-") as tmp:
        path = Path(tmp) / "audit.bundle"
        t0 = time.perf_counter()
        raws, checkpoints = _write(path, total)
        setup_s = time.perf_counter() - t0
        file_bytes = path.stat().st_size
        print(
            f"  wrote {total:,} entries, {checkpoints} checkpoints "
            f"({file_bytes / 2**20:.0f} MiB) in {setup_s:.1f} s",
            file=sys.stderr,
        )
        hash_runs: list[float] = []
        nodes = 0
        for _ in range(repeats):
            secs, nodes = _hash_floor(raws)
            hash_runs.append(secs)
        entry_bytes = sum(len(r) for r in raws) / total
        del raws
        gc.collect()
        read_runs: list[float] = []
        parse_runs: list[float] = []
        verify_runs: list[float] = []
        all_ok = True
        for r in range(repeats):
            read_runs.append(_read_floor(path))
            parse_s, verify_s, ok = _verify_once(path, total, checkpoints)
            parse_runs.append(parse_s)
            verify_runs.append(verify_s)
            all_ok = all_ok and ok
            print(
                f"  round {r + 1}: read_bundle {parse_s:.2f} s + verify_bundle {verify_s:.2f} s "
                f"(ok: {ok}); file read {read_runs[-1]:.2f} s",
                file=sys.stderr,
            )
    totals = [p + v for p, v in zip(parse_runs, verify_runs, strict=True)]
    seconds = statistics.median(totals)
    floor_s = statistics.median(read_runs) + statistics.median(hash_runs)
    return {
        "description": (
            f"Offline verification of a {total:,}-entry audit bundle (realistic canonical "
            f"entries, an Ed25519-signed C2SP checkpoint every {CHECKPOINT_EVERY:,} entries, "
            "written with ledger.bundle.write_bundle): read_bundle + verify_bundle with no "
            "trusted state, in process, median of "
            f"{repeats} runs. Physical limit in the same run: reading the file plus bare "
            "hashlib SHA-256 over every entry (leaf hashes) and every interior node."
        ),
        "entries": total,
        "checkpoints": checkpoints,
        "file_mib": rounded(file_bytes / 2**20),
        "entry_bytes_mean": rounded(entry_bytes),
        "setup_seconds": rounded(setup_s),
        "seconds": rounded(seconds),
        "entries_per_second": rounded(total / seconds),
        "read_bundle_seconds": rounded(statistics.median(parse_runs)),
        "verify_bundle_seconds": rounded(statistics.median(verify_runs)),
        "repetitions_seconds": [rounded(x) for x in totals],
        "all_verified_ok": all_ok,
        "limit": {
            "file_read_seconds": rounded(statistics.median(read_runs)),
            "sha256_seconds": rounded(statistics.median(hash_runs)),
            "sha256_calls": total + nodes,
            "seconds": rounded(floor_s),
            "entries_per_second": rounded(total / floor_s),
        },
        "ratio_to_limit": rounded(floor_s / seconds),
        "goal": f"under {goal_s:g} s for {total:,} entries"
        + (" (5 s per million, scaled for --quick)" if quick else ""),
        "goal_met": bool(all_ok and seconds < goal_s),
    }
