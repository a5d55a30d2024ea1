"""``strongroom mount``: list, create and delete KV v2 mounts of your tenant.

Example::

    $ strongroom mount create payments --description "payment service" --max-versions 20
    $ strongroom mount list
    $ strongroom mount delete payments          # deletes every record in it
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from strongroom.cli.client import segment
from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, FieldOpt, FormatOpt, TokenOpt, connect
from strongroom.cli.output import Output, OutputFormat, note

__all__ = ["app"]

app = typer.Typer(help="Manage KV v2 mounts.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Mount name, e.g. secret.", metavar="NAME")]
_COLUMNS = ["name", "type", "description", "max_versions", "cas_required", "delete_version_after"]


@app.command("list")
def list_(
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """List the mounts of your tenant."""
    with connect(addr, token) as client:
        mounts: list[dict[str, Any]] = client.get("/v1/sys/mounts").get("mounts") or []
    Output(fmt, field).rows(mounts, _COLUMNS, title="Mounts")


@app.command("create")
def create(
    name: NameArg,
    description: Annotated[str, typer.Option("--description", help="What the mount is for.")] = "",
    max_versions: Annotated[
        int, typer.Option("--max-versions", help="Versions kept per record (0: default).", min=0)
    ] = 0,
    cas_required: Annotated[
        bool, typer.Option("--cas-required", help="Require --cas on every write.")
    ] = False,
    delete_version_after: Annotated[
        float,
        typer.Option(
            "--delete-version-after",
            help="Soft-delete versions this many seconds after writing (0: never).",
            min=0,
            metavar="SECONDS",
        ),
    ] = 0.0,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
) -> None:
    """Create a KV v2 mount."""
    body = {
        "type": "kv",
        "description": description,
        "max_versions": max_versions,
        "cas_required": cas_required,
        "delete_version_after": delete_version_after,
    }
    with connect(addr, token) as client:
        client.post(f"/v1/sys/mounts/{segment(name)}", body)
    note(f"Created mount {name}.")


@app.command("delete")
def delete(name: NameArg, addr: AddrOpt = DEFAULT_ADDR, token: TokenOpt = None) -> None:
    """Delete a mount and EVERY record in it."""
    with connect(addr, token) as client:
        client.delete(f"/v1/sys/mounts/{segment(name)}")
    note(f"Deleted mount {name} and its records.")
