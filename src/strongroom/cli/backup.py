"""``strongroom backup``: snapshot the vault, list and verify snapshots, restore on a new machine.

``create`` asks the server (it snapshots while serving); ``list``, ``verify``,
``prune`` and ``restore`` read the repository directly and need no server:
``verify`` and ``prune`` need no key either, and ``restore`` needs only the
unseal shares (or the passphrase).

Example::

    $ strongroom backup create
    $ strongroom backup list --target /var/lib/strongroom/backups
    $ strongroom backup verify 45cf… --target /var/lib/strongroom/backups
    $ strongroom backup prune --target /var/lib/strongroom/backups --keep-daily 7 --dry-run
    $ strongroom backup restore 45cf… --target /mnt/backups --data-dir /var/lib/strongroom
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, FieldOpt, FormatOpt, TokenOpt, connect
from strongroom.cli.output import Output, OutputFormat, err_console, note
from strongroom.errors import IntegrityViolation, InvalidInput

__all__ = ["app"]

app = typer.Typer(help="Encrypted, deduplicated backups and restores.", no_args_is_help=True)

TargetOpt = Annotated[
    str,
    typer.Option("--target", help="Backup repository: a directory, file:// or s3://bucket/prefix."),
]
S3EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--s3-endpoint",
        envvar="STRONGROOM_BACKUP_S3_ENDPOINT",
        help="Endpoint URL of an S3-compatible store (default: AWS).",
    ),
]
S3RegionOpt = Annotated[
    str,
    typer.Option("--s3-region", envvar="STRONGROOM_BACKUP_S3_REGION", help="S3 region."),
]


@app.command("create")
def create(
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="One of the server's allowed backup targets."),
    ] = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Snapshot the whole vault while it keeps serving (operators only).

    The server runs the backup as a job; this follows it with a progress bar
    on a terminal (bytes, rate, ETA against the server's estimate), or with
    ``--format json`` prints JSON lines: ``{"status": "running", …}`` updates,
    then ``{"status": "done", …}`` with the snapshot.
    """
    with connect(addr, token) as client:
        job = client.post("/v1/sys/backups/jobs", {"target": target} if target else None)
        job = _follow(client, job, fmt)
    if job["state"] != "done":
        error = job.get("error") or {}
        raise _job_error(str(error.get("type", "internal")), str(error.get("detail", "")))
    result = dict(job["snapshot"])
    stats = result.pop("stats", {})
    if fmt is OutputFormat.JSON:
        sys.stdout.write(json.dumps({"status": "done", **result, "stats": stats}) + "\n")
        return
    Output(fmt, field).record(
        {**result, **stats}, title="Snapshot", full={**result, "stats": stats}
    )


_POLL_S = 0.5


def _bytes_bar(label: str) -> Any:
    """A Rich progress bar of bytes, rate and ETA on stderr (drawn only on a terminal)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console(),
        disable=not sys.stderr.isatty(),
    )


def _follow(client: Any, job: dict[str, Any], fmt: OutputFormat) -> dict[str, Any]:
    """Poll the job until it ends, drawing progress; return its last state."""
    import time

    path = f"/v1/sys/backups/jobs/{job['job_id']}"
    if fmt is OutputFormat.JSON:
        while True:
            sys.stdout.write(
                json.dumps(
                    {
                        "status": job["state"],
                        "job_id": job["job_id"],
                        "bytes": job["bytes_done"],
                        "estimate": job["bytes_estimate"],
                    }
                )
                + "\n"
            )
            sys.stdout.flush()
            if job["state"] != "running":
                return job
            time.sleep(_POLL_S)
            job = client.get(path)
    with _bytes_bar("backup") as bar:
        task = bar.add_task("backup", total=job["bytes_estimate"] or None)
        while job["state"] == "running":
            done, estimate = job["bytes_done"], job["bytes_estimate"]
            # The total is the server's estimate; never let the bar run past it.
            bar.update(task, completed=done, total=max(done, estimate) or None)
            time.sleep(_POLL_S)
            job = client.get(path)
        bar.update(task, completed=job["bytes_done"], total=job["bytes_done"] or None)
    return job


def _job_error(slug: str, detail: str) -> Exception:
    """The CLI error (and exit code) for a job that failed on the server."""
    from strongroom.cli.client import PROBLEM_TYPE_BASE, error_from_problem

    return error_from_problem(
        500, {"type": PROBLEM_TYPE_BASE + slug, "detail": detail or "the backup failed"}
    )


@app.command("list")
def list_(
    target: TargetOpt,
    fmt: FormatOpt = OutputFormat.TABLE,
    s3_endpoint: S3EndpointOpt = None,
    s3_region: S3RegionOpt = "us-east-1",
) -> None:
    """List the snapshots in a repository (no server, no key)."""
    from strongroom.backup import Repository, open_target

    repo_target = open_target(target, s3_endpoint=s3_endpoint, s3_region=s3_region)
    snaps = Repository.open(repo_target).list_snapshots()
    rows = [
        {
            "snapshot_id": m.snapshot_id,
            "created": m.created,
            "size": m.size,
            "ledger_size": m.meta.get("ledger_size"),
        }
        for m in snaps
    ]
    Output(fmt).rows(rows, ["snapshot_id", "created", "size", "ledger_size"], title="Snapshots")


AuditBundleOpt = Annotated[
    Path | None,
    typer.Option(
        "--audit-bundle",
        help="An audit export (strongroom audit export): check snapshots against the log.",
    ),
]


def _log_problems(repo: Any, bundle_path: Path, manifests: list[Any]) -> list[dict[str, Any]]:
    from strongroom.backup.log_check import check_against_log
    from strongroom.ledger.bundle import read_bundle

    check = check_against_log(repo, read_bundle(bundle_path), manifests=manifests)
    return [
        {
            "object": f"snapshots/{p.snapshot_id}" if p.snapshot_id else str(bundle_path),
            "kind": p.kind,
            "detail": p.detail,
        }
        for p in check.problems
    ]


@app.command("verify")
def verify(
    target: TargetOpt,
    snapshot: Annotated[
        str | None, typer.Argument(help="Snapshot id (from backup list); default: all.")
    ] = None,
    audit_bundle: AuditBundleOpt = None,
    read_data: Annotated[
        bool,
        typer.Option(
            "--read-data",
            help="Also decrypt and decompress every chunk (needs the unseal shares on stdin).",
        ),
    ] = False,
    fmt: FormatOpt = OutputFormat.TABLE,
    s3_endpoint: S3EndpointOpt = None,
    s3_region: S3RegionOpt = "us-east-1",
) -> None:
    """Check snapshots without any key: every chunk present and matching its manifest.

    With ``--audit-bundle``, also that each snapshot is in a signed checkpoint
    of the log with the same manifest root, and that no logged snapshot is
    missing (deleted or rolled back). Exits 7 and names each bad object.
    """
    from strongroom.backup import Repository, open_target

    repo = Repository.open(open_target(target, s3_endpoint=s3_endpoint, s3_region=s3_region))
    manifests = [repo.get_snapshot(snapshot)] if snapshot else repo.list_snapshots()
    root = None
    if read_data and manifests:
        from strongroom.backup.vault_snapshot import root_from_shares

        root = root_from_shares(_read_shares(_threshold(repo, manifests[0])))
    problems: list[dict[str, Any]] = []
    chunks = 0
    # A chunk shared by several snapshots is checked (and read) once; with
    # --read-data per key, since a chunk opens only under its own key.
    seen: dict[str, set[str]] = {}
    for manifest in manifests:
        key = None
        if root is not None:
            from strongroom.backup.vault_snapshot import backup_key_for

            key = backup_key_for(repo, manifest, root=root)
        result = repo.verify(manifest, key=key, seen=seen.setdefault(manifest.key_id, set()))
        chunks += sum(1 for _ in manifest.chunks())
        problems += [
            {"object": p.object_name, "kind": str(p.kind), "detail": p.detail}
            for p in result.problems
        ]
    if audit_bundle is not None:
        problems += _log_problems(repo, audit_bundle, manifests)
    summary = {
        "ok": not problems,
        "snapshots": len(manifests),
        "chunks": chunks,
        "checked_against_log": audit_bundle is not None,
        "read_data": read_data,
    }
    Output(fmt).record(summary, title="Backup", full={**summary, "problems": problems})
    if fmt is OutputFormat.TABLE:
        for p in problems:
            err_console().print(f"[red]{p['kind']}[/red]: {p['object']}: {p['detail']}")
    if problems:
        first = problems[0]
        raise IntegrityViolation(f"{first['object']} is {first['kind']}: {first['detail']}")


def _restore_with_progress(restore: Any, fmt: OutputFormat, **kwargs: Any) -> Any:
    """Run ``restore`` with a Rich bar on a terminal, or JSON-line updates with ``-f json``."""
    if fmt is OutputFormat.JSON:
        last = -1

        def emit(done: int, total: int) -> None:
            nonlocal last
            # One line per whole percent, so a script sees steady progress.
            pct = done * 100 // max(total, 1)
            if pct != last:
                last = pct
                sys.stdout.write(
                    json.dumps({"status": "restoring", "bytes": done, "total": total}) + "\n"
                )
                sys.stdout.flush()

        return restore(progress=emit, **kwargs)
    with _bytes_bar("restore") as bar:
        task = bar.add_task("restore", total=None)
        return restore(
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            **kwargs,
        )


def _parse_time(value: str) -> float:
    """A UNIX time in seconds, or an RFC 3339 / ISO 8601 time (UTC when no offset is given)."""
    from datetime import UTC, datetime

    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"--at-time {value!r} is neither UNIX seconds nor an ISO 8601 time"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _threshold(repo: Any, manifest: Any) -> int:
    from strongroom.backup.vault_snapshot import key_entry_for

    return int(key_entry_for(repo, manifest).key_material.get("threshold", "3"))


def _read_shares(threshold: int) -> list[str]:
    if not sys.stdin.isatty():
        shares = [line.strip() for line in sys.stdin if line.strip()]
        if not shares:
            raise InvalidInput("give the unseal shares on standard input, one per line")
        return shares
    return [
        typer.prompt(f"Unseal share {i + 1} of {threshold}", hide_input=True)
        for i in range(threshold)
    ]


@app.command("restore")
def restore(
    target: TargetOpt,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Empty data directory of the restored vault.")
    ],
    snapshot: Annotated[
        str | None,
        typer.Argument(help="Snapshot id (from backup list); default: the newest."),
    ] = None,
    at_index: Annotated[
        int | None,
        typer.Option(
            "--at-index",
            min=0,
            help="Restore the state right after this audit log entry (point in time).",
        ),
    ] = None,
    at_time: Annotated[
        str | None,
        typer.Option(
            "--at-time",
            help="Restore the state at this time (ISO 8601 or UNIX seconds; point in time).",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Restore into this empty database instead of SQLite."),
    ] = None,
    passphrase: Annotated[
        bool,
        typer.Option(
            "--passphrase", help="The vault is sealed with a passphrase (read from stdin)."
        ),
    ] = False,
    audit_bundle: AuditBundleOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    s3_endpoint: S3EndpointOpt = None,
    s3_region: S3RegionOpt = "us-east-1",
) -> None:
    """Restore onto an empty data dir with only the unseal shares (or passphrase).

    Give a snapshot id, or a point in time with --at-index / --at-time
    (together with a snapshot id, that snapshot only names the vault when the
    repository holds several). The audit log always comes whole from the
    newest snapshot: old data is restored, the log is never rolled back.
    Shares are read from standard input (one per line) or asked for at a
    hidden prompt. Start the server on the data dir afterwards and unseal it
    with the same shares.
    """
    from strongroom.backup import Repository, open_target
    from strongroom.backup.restore import RestorePoint, restore_database
    from strongroom.backup.vault_snapshot import root_from_passphrase, root_from_shares

    if at_index is not None and at_time is not None:
        raise InvalidInput("give --at-index or --at-time, not both")
    when = _parse_time(at_time) if at_time is not None else None
    pitr = at_index is not None or when is not None
    point = RestorePoint(snapshot_id=None if pitr else snapshot, at_index=at_index, at_time=when)
    repo_target = open_target(target, s3_endpoint=s3_endpoint, s3_region=s3_region)
    repo = Repository.open(repo_target)
    if snapshot is not None:
        manifest = repo.get_snapshot(snapshot)
    else:
        snapshots = repo.list_snapshots()
        if not snapshots:
            raise InvalidInput("the repository has no snapshot to restore")
        manifest = snapshots[-1]
    vouch = None
    erased: list[str] = []
    if audit_bundle is not None:
        bundle_path = audit_bundle
        erased = _erased_in_bundle(bundle_path)

        def vouch(used: list[Any]) -> None:
            # Refuse a snapshot the log does not vouch for (rolled back, forged).
            bad = [p for p in _log_problems(repo, bundle_path, used) if p["kind"] != "deleted"]
            if bad:
                raise IntegrityViolation(f"refusing to restore: {bad[0]['detail']}")

    data_dir.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{data_dir / 'strongroom.db'}"
    if passphrase:
        text = (
            sys.stdin.readline().rstrip("\n")
            if not sys.stdin.isatty()
            else typer.prompt("Passphrase", hide_input=True)
        )
        root = root_from_passphrase(repo_target, manifest.snapshot_id, text)
    else:
        root = root_from_shares(_read_shares(_threshold(repo, manifest)))
    result = _restore_with_progress(
        restore_database,
        fmt,
        target=repo_target,
        point=point,
        root=root,
        database_url=url,
        anchor=snapshot if pitr else None,
        vouch=vouch,
        erased=erased,
    )
    summary: dict[str, Any] = {
        "snapshot_id": result.snapshot_id,
        "at_index": result.at_index,
        "replayed_changes": result.replayed,
        "ledger_size": result.ledger_size,
        "log_snapshot": result.log_snapshot,
        "records": result.rows.get("kv_versions", 0),
        "data_dir": str(data_dir),
    }
    if result.subjects is not None:
        summary.update(
            subjects_rekeyed=result.subjects.rekeyed,
            erasures_applied=result.subjects.erasures_applied,
            subject_keys_missing=len(result.subjects.keys_missing),
        )
    if fmt is OutputFormat.JSON:
        # JSON lines: the progress updates above, then this summary.
        sys.stdout.write(json.dumps({"status": "done", **summary}) + "\n")
        return
    Output(fmt).record(summary, title="Restored")
    note("start `strongroom server --data-dir …` on it and unseal with the same shares")


def _erased_in_bundle(path: Path) -> list[str]:
    """Subjects erased according to a verified audit export (the newest log at hand)."""
    from strongroom.backup.subject_keys import erased_in_entries
    from strongroom.ledger.bundle import read_bundle, verify_bundle

    bundle = read_bundle(path)
    report = verify_bundle(bundle)
    if not report.ok:
        first = report.findings[0].message if report.findings else "it does not verify"
        raise IntegrityViolation(f"the audit bundle does not verify: {first}")
    verified = [raw for _, raw in bundle.entries[: report.verified_size]]
    return sorted(erased_in_entries(verified))


def _keep_opt(flag: str, what: str) -> Any:
    return typer.Option(flag, min=0, help=f"Keep {what}.")


@app.command("prune")
def prune(
    target: TargetOpt,
    keep_last: Annotated[int, _keep_opt("--keep-last", "the N newest snapshots")] = 0,
    keep_daily: Annotated[
        int, _keep_opt("--keep-daily", "the newest snapshot of each of the last N days")
    ] = 0,
    keep_weekly: Annotated[
        int, _keep_opt("--keep-weekly", "the newest snapshot of each of the last N ISO weeks")
    ] = 0,
    keep_monthly: Annotated[
        int, _keep_opt("--keep-monthly", "the newest snapshot of each of the last N months")
    ] = 0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would go; delete nothing.")
    ] = False,
    force_unlock: Annotated[
        bool,
        typer.Option(
            "--force-unlock",
            help="First remove stale locks (only if no prune or backup is running).",
        ),
    ] = False,
    fmt: FormatOpt = OutputFormat.TABLE,
    s3_endpoint: S3EndpointOpt = None,
    s3_region: S3RegionOpt = "us-east-1",
) -> None:
    """Forget snapshots the retention policy does not keep; delete unreferenced chunks.

    No server and no key. A snapshot kept by any --keep-* rule is kept; a
    policy that keeps nothing is refused. Exits 6 while a backup or another
    prune holds the repository lock.
    """
    from strongroom.backup import Repository, open_target
    from strongroom.backup.prune import Retention
    from strongroom.backup.prune import prune as run_prune

    policy = Retention(
        keep_last=keep_last,
        keep_daily=keep_daily,
        keep_weekly=keep_weekly,
        keep_monthly=keep_monthly,
    )
    repo = Repository.open(open_target(target, s3_endpoint=s3_endpoint, s3_region=s3_region))
    result = run_prune(repo, policy, dry_run=dry_run, force_unlock=force_unlock)
    summary = {
        "dry_run": result.dry_run,
        "kept": len(result.kept),
        "forgotten": len(result.forgotten),
        "chunks_deleted": result.chunks_deleted,
        "bytes_freed": result.bytes_freed,
    }
    full = {**summary, "kept": list(result.kept), "forgotten": list(result.forgotten)}
    if fmt is OutputFormat.TABLE:
        rows = [{"snapshot_id": s, "action": "keep"} for s in result.kept]
        rows += [{"snapshot_id": s, "action": "forget"} for s in result.forgotten]
        Output(fmt).rows(rows, ["snapshot_id", "action"], title="Snapshots")
    Output(fmt).record(summary, title="Prune (dry run)" if dry_run else "Prune", full=full)
