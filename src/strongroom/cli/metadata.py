"""``strongroom kv metadata``: a record's settings and custom metadata.

Example::

    $ strongroom kv metadata put secret/app/db --max-versions 5 --cas-required \\
        --custom owner=payments --custom tier=gold
    $ strongroom kv metadata get secret/app/db --format yaml
    $ strongroom kv metadata delete secret/app/db      # every version, for good
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from strongroom.cli.options import (
    DEFAULT_ADDR,
    AddrOpt,
    FieldOpt,
    FormatOpt,
    TokenOpt,
    connect,
    parse_pairs,
)
from strongroom.cli.output import Output, OutputFormat, note
from strongroom.cli.record_path import kv_url, split_target
from strongroom.errors import InvalidInput

__all__ = ["app"]

app = typer.Typer(help="Read and change a record's metadata.", no_args_is_help=True)

TargetArg = Annotated[
    str, typer.Argument(help="MOUNT/PATH of the record, e.g. secret/app/db.", metavar="MOUNT/PATH")
]


@app.command("get")
def get(
    target: TargetArg,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Show a record's metadata (kv history shows its versions as a table)."""
    mount, path = split_target(target)
    with connect(addr, token) as client:
        meta: dict[str, Any] = client.get(kv_url(mount, "metadata", path)).get("data", {})
    out = Output(fmt, field)
    if field is None and fmt is OutputFormat.TABLE:
        summary = {k: v for k, v in meta.items() if k != "versions"}
        summary["versions"] = len(meta.get("versions") or {})
        out.record(summary, title=f"Metadata of {target}")
        return
    out.record(meta)


@app.command("put")
def put(
    target: TargetArg,
    max_versions: Annotated[
        int | None,
        typer.Option(
            "--max-versions",
            help="Versions to keep (0: the mount's setting).",
            min=0,
            show_default=False,
        ),
    ] = None,
    cas_required: Annotated[
        bool | None,
        typer.Option(
            "--cas-required/--no-cas-required",
            help="Require --cas on every write to this record.",
            show_default=False,
        ),
    ] = None,
    delete_version_after: Annotated[
        float | None,
        typer.Option(
            "--delete-version-after",
            help="Soft-delete each version this many seconds after it is written (0: never).",
            min=0,
            metavar="SECONDS",
            show_default=False,
        ),
    ] = None,
    custom: Annotated[
        list[str] | None,
        typer.Option(
            "--custom",
            help="Custom metadata as key=value; repeat it. Replaces all custom metadata.",
            metavar="KEY=VALUE",
            show_default=False,
        ),
    ] = None,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
) -> None:
    """Change a record's settings (creates the metadata if the path is new)."""
    mount, path = split_target(target)
    body: dict[str, Any] = {}
    if max_versions is not None:
        body["max_versions"] = max_versions
    if cas_required is not None:
        body["cas_required"] = cas_required
    if delete_version_after is not None:
        body["delete_version_after"] = delete_version_after
    if custom:
        body["custom_metadata"] = parse_pairs(custom, option="--custom")
    if not body:
        raise InvalidInput("nothing to change: give at least one option")
    with connect(addr, token) as client:
        client.post(kv_url(mount, "metadata", path), body)
    note(f"Updated the metadata of {target}.")


@app.command("delete")
def delete(target: TargetArg, addr: AddrOpt = DEFAULT_ADDR, token: TokenOpt = None) -> None:
    """Delete a record entirely: its metadata and every version, for good."""
    mount, path = split_target(target)
    with connect(addr, token) as client:
        client.delete(kv_url(mount, "metadata", path))
    note(f"Deleted {target} and all its versions.")
