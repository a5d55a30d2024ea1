"""``strongroom backup``: snapshot the vault, list and verify snapshots, restore on a new machine.

``create`` asks the server (it snapshots while serving); ``list``, ``verify``
and ``restore`` read the repository directly and need no server: ``verify``
needs no key either, and ``restore`` needs only the unseal shares (or the
passphrase).

Example::

    $ strongroom backup create
    $ strongroom backup list --target /var/lib/strongroom/backups
    $ strongroom backup verify 45cf… --target /var/lib/strongroom/backups
    $ strongroom backup restore 45cf… --target /mnt/backups --data-dir /var/lib/strongroom
"""

from __future__ import annotations

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
    """Snapshot the whole vault while it keeps serving (operators only)."""
    with connect(addr, token) as client:
        result = client.post("/v1/sys/backups", {"target": target} if target else None)
    stats = result.pop("stats", {})
    Output(fmt, field).record(
        {**result, **stats}, title="Snapshot", full={**result, "stats": stats}
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


@app.command("verify")
def verify(
    snapshot: Annotated[str, typer.Argument(help="Snapshot id (from backup list).")],
    target: TargetOpt,
    fmt: FormatOpt = OutputFormat.TABLE,
    s3_endpoint: S3EndpointOpt = None,
    s3_region: S3RegionOpt = "us-east-1",
) -> None:
    """Check a snapshot without any key: every chunk present and matching its manifest.

    Exits 7 and names each missing or corrupt object otherwise.
    """
    from strongroom.backup import Repository, open_target

    repo = Repository.open(open_target(target, s3_endpoint=s3_endpoint, s3_region=s3_region))
    manifest = repo.get_snapshot(snapshot)
    result = repo.verify(manifest)
    summary = {
        "ok": result.ok,
        "snapshot_id": manifest.snapshot_id,
        "chunks": sum(1 for _ in manifest.chunks()),
        "root": manifest.root,
    }
    problems = [
        {"object": p.object_name, "kind": str(p.kind), "detail": p.detail} for p in result.problems
    ]
    Output(fmt).record(summary, title="Snapshot", full={**summary, "problems": problems})
    if fmt is OutputFormat.TABLE:
        for p in problems:
            err_console().print(f"[red]{p['kind']}[/red]: {p['object']}: {p['detail']}")
    if not result.ok:
        first = problems[0]
        raise IntegrityViolation(f"{first['object']} is {first['kind']}: {first['detail']}")


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
    snapshot: Annotated[str, typer.Argument(help="Snapshot id (from backup list).")],
    target: TargetOpt,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Empty data directory of the restored vault.")
    ],
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
    s3_endpoint: S3EndpointOpt = None,
    s3_region: S3RegionOpt = "us-east-1",
) -> None:
    """Restore a snapshot onto an empty data dir with only the unseal shares (or passphrase).

    Shares are read from standard input (one per line) or asked for at a
    hidden prompt. Start the server on the data dir afterwards and unseal it
    with the same shares.
    """
    from strongroom.backup import Repository, open_target
    from strongroom.backup.vault_snapshot import (
        restore_database,
        root_from_passphrase,
        root_from_shares,
    )

    repo_target = open_target(target, s3_endpoint=s3_endpoint, s3_region=s3_region)
    repo = Repository.open(repo_target)
    manifest = repo.get_snapshot(snapshot)
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
        entry = next(e for e in repo.keys() if e.key_id == manifest.key_id)  # noqa: SIM118
        root = root_from_shares(_read_shares(int(entry.key_material.get("threshold", "3"))))
    result = restore_database(repo_target, manifest.snapshot_id, root=root, database_url=url)
    summary: dict[str, Any] = {
        "snapshot_id": result.snapshot_id,
        "ledger_size": result.ledger_size,
        "records": result.rows.get("kv_versions", 0),
        "data_dir": str(data_dir),
    }
    Output(OutputFormat.TABLE).record(summary, title="Restored")
    note("start `strongroom server --data-dir …` on it and unseal with the same shares")
