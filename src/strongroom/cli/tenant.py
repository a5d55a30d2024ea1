"""``strongroom tenant``: create and list tenants (operators only).

Example::

    $ strongroom tenant create acme --field root_token > acme.token
    $ strongroom tenant list
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from strongroom.cli.client import segment
from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, FieldOpt, FormatOpt, TokenOpt, connect
from strongroom.cli.output import Output, OutputFormat, note

__all__ = ["app"]

app = typer.Typer(help="Manage tenants.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Tenant name (a-z, 0-9, - and _).", metavar="NAME")],
    ttl: Annotated[
        int | None,
        typer.Option(
            "--ttl",
            help="TTL in seconds of the tenant's first root token.",
            min=1,
            show_default="the server's",
        ),
    ] = None,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Create a tenant; prints its first root token once."""
    body: dict[str, Any] | None = None if ttl is None else {"ttl": ttl}
    with connect(addr, token) as client:
        result = client.post(f"/v1/sys/tenants/{segment(name)}", body)
    Output(fmt, field).record(result, title="New tenant")
    if field is None:
        note("The tenant's root token is shown once: hand it over now.")


@app.command("list")
def list_(
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """List every tenant."""
    with connect(addr, token) as client:
        names: list[str] = client.get("/v1/sys/tenants").get("keys") or []
    Output(fmt).names(names, header="Tenants")
