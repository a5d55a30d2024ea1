"""Check a backup repository against the audit log: every snapshot logged, none missing.

restic cannot tell when a snapshot was deleted or rolled back at the storage
location. Strongroom can: ``backup create`` writes the snapshot id, its
manifest Merkle root and the repository id into its audit entry
(``sys:backup:create``), and the log is signed. Given an exported audit
bundle (``strongroom audit export``), this module

1. verifies the bundle offline (every hash, every checkpoint signature);
2. finds, among the entries covered by a verified checkpoint, every snapshot
   logged for this repository;
3. reports a snapshot in the repository that the log does not vouch for
   (its manifest root differs, or it was never logged: rolled back or
   forged), and a logged snapshot that is missing from the repository
   (deleted).

Example::

    >>> LogCheck(ok=True, problems=[], logged={}).ok
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from strongroom.backup.manifest import Manifest
from strongroom.backup.repository import Repository
from strongroom.ledger.bundle import Bundle, TrustedState, verify_bundle

__all__ = ["LogCheck", "LogProblem", "check_against_log", "logged_details"]

_MARK = b'"event":"sys:backup:create"'


def logged_details(manifest: Manifest) -> dict[str, Any]:
    """What a ``sys:backup:create`` entry must carry for :func:`check_against_log` to find it."""
    return {
        "snapshot": manifest.snapshot_id,
        "manifest_root": manifest.root,
        "ledger_size": manifest.meta.get("ledger_size"),
        "repository": manifest.meta.get("repository"),
    }


@dataclass(frozen=True, slots=True)
class LogProblem:
    """One disagreement between the repository and the log."""

    kind: str  # "log-invalid", "not-logged", "root-mismatch", "deleted"
    snapshot_id: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class LogCheck:
    """The outcome: problems found, and where each logged snapshot sits in the log."""

    ok: bool
    problems: list[LogProblem]
    logged: dict[str, int]  # snapshot id -> leaf index of its sys:backup:create entry


def _logged_snapshots(bundle: Bundle, verified: int, repo_id: str) -> dict[str, tuple[str, int]]:
    found: dict[str, tuple[str, int]] = {}
    for index, (_, raw) in enumerate(bundle.entries[:verified]):
        if _MARK not in raw:
            continue
        entry: dict[str, Any] = json.loads(raw)
        details = entry.get("details") or {}
        if entry.get("outcome") != "allowed" or details.get("repository") != repo_id:
            continue
        snap, root = details.get("snapshot"), details.get("manifest_root")
        if isinstance(snap, str) and isinstance(root, str):
            found[snap] = (root, index)
    return found


def check_against_log(
    repo: Repository,
    bundle: Bundle,
    *,
    manifests: list[Manifest] | None = None,
    state: TrustedState | None = None,
    verifier_key: str | None = None,
) -> LogCheck:
    """Check ``manifests`` (default: every snapshot in ``repo``) against the audit ``bundle``.

    Only entries covered by a verified checkpoint count. Deletion is checked
    for every snapshot the log holds for this repository.
    """
    report = verify_bundle(bundle, state=state, verifier_key=verifier_key)
    if not report.ok:
        first = report.findings[0].message if report.findings else "it does not verify"
        return LogCheck(False, [LogProblem("log-invalid", None, f"the audit bundle: {first}")], {})
    logged = _logged_snapshots(bundle, report.verified_size, repo.repo_id)
    present = {m.snapshot_id: m for m in repo.list_snapshots()}
    problems: list[LogProblem] = []
    for m in manifests if manifests is not None else list(present.values()):
        if m.snapshot_id not in logged:
            problems.append(
                LogProblem(
                    "not-logged",
                    m.snapshot_id,
                    f"snapshot {m.snapshot_id} is in no signed checkpoint of the log "
                    "(forged, or taken after the newest checkpoint in the bundle)",
                )
            )
        elif logged[m.snapshot_id][0] != m.root:
            problems.append(
                LogProblem(
                    "root-mismatch",
                    m.snapshot_id,
                    f"snapshot {m.snapshot_id}'s manifest root differs from the one logged "
                    f"at entry {logged[m.snapshot_id][1]}",
                )
            )
    for snap, (_, index) in sorted(logged.items(), key=lambda kv: kv[1][1]):
        if snap not in present:
            problems.append(
                LogProblem(
                    "deleted",
                    snap,
                    f"snapshot {snap}, logged at entry {index}, is missing from the repository",
                )
            )
    return LogCheck(not problems, problems, {s: i for s, (_, i) in logged.items()})
