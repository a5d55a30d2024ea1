"""``strongroom keys``: KEK versions, rotation, rewrap and retirement (operators only).

Rotation adds a key-encryption-key version that every new write uses; rewrap
moves what older versions still wrap onto the current one, in batches that
can be interrupted and resumed; retire destroys a version nothing depends on.

Example::

    $ strongroom keys rotate
    $ strongroom keys rewrap --batch-size 5000     # Ctrl-C is safe: run it again
    $ strongroom keys status
    $ strongroom keys retire --version 1
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from strongroom.cli.client import Client
from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, FieldOpt, FormatOpt, TokenOpt, connect
from strongroom.cli.output import Output, OutputFormat, err_console, note
from strongroom.errors import Conflict

__all__ = ["app", "rewrap_all"]

app = typer.Typer(help="Rotate, rewrap and retire key-encryption keys.", no_args_is_help=True)

_STATUS_COLUMNS = ["version", "current", "retired", "encryptions", "records", "subjects"]


@app.command("status")
def status(
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Show every KEK version with its use count and the keys it still wraps."""
    with connect(addr, token) as client:
        versions: list[dict[str, Any]] = client.get("/v1/sys/keys").get("versions") or []
    Output(fmt, field).rows(versions, [*_STATUS_COLUMNS, "created_time"], title="KEK versions")


@app.command("rotate")
def rotate(
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Add a KEK version; every new write uses it (run keys rewrap next)."""
    with connect(addr, token) as client:
        result = client.post("/v1/sys/keys/rotate")
    Output(fmt, field).record(result, title="Rotated")
    if field is None:
        note("Older versions still decrypt; run `strongroom keys rewrap` to move data off them.")


def rewrap_all(client: Client, *, batch_size: int, show_progress: bool) -> dict[str, int]:
    """Call ``POST /v1/sys/keys/rewrap`` until nothing remains; return the totals.

    Each batch is committed on its own, so an interrupted run loses nothing and
    the next run carries on. The bar's total is the first batch's rewrapped
    plus remaining count.
    """
    # Imported here: only this command draws a progress bar.
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    body = {"batch_size": batch_size}
    first = client.post("/v1/sys/keys/rewrap", body)
    rewrapped, remaining, batches = int(first["rewrapped"]), int(first["remaining"]), 1
    progress = Progress(
        TextColumn("Rewrapping"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console(),
        transient=True,
        disable=not show_progress or remaining == 0,
    )
    with progress:
        task = progress.add_task("rewrap", total=rewrapped + remaining, completed=rewrapped)
        while remaining > 0:
            step = client.post("/v1/sys/keys/rewrap", body)
            done, remaining, batches = int(step["rewrapped"]), int(step["remaining"]), batches + 1
            if done == 0 and remaining > 0:
                # Guard against looping forever if the server cannot make progress.
                raise Conflict(
                    f"rewrap made no progress; {remaining} keys are still on older versions"
                )
            rewrapped += done
            progress.update(task, completed=rewrapped, total=max(rewrapped + remaining, 1))
    return {"rewrapped": rewrapped, "remaining": remaining, "batches": batches}


@app.command("rewrap")
def rewrap(
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", help="Keys re-wrapped per request.", min=1, max=100_000),
    ] = 10_000,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Re-wrap every key still on an older KEK version (resumable; a bar shows on a terminal)."""
    with connect(addr, token) as client:
        totals = rewrap_all(client, batch_size=batch_size, show_progress=sys.stderr.isatty())
    Output(fmt, field).record(totals, title="Rewrap finished")


@app.command("retire")
def retire(
    version: Annotated[
        int, typer.Option("--version", help="KEK version to destroy.", min=1, show_default=False)
    ],
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
) -> None:
    """Destroy a KEK version; refused (exit 6) while it is current or still wraps keys."""
    with connect(addr, token) as client:
        client.post("/v1/sys/keys/retire", {"version": version})
    note(f"KEK version {version} is retired.")
