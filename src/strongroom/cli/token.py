"""``strongroom token``: create, look up, renew and revoke tokens.

A token given as an argument may be ``-`` to read it from stdin, which keeps
it out of the process list and the shell history.

Example::

    $ strongroom token create --policy app-read --ttl 3600 --field token
    $ strongroom token lookup --self
    $ strongroom token revoke --accessor 6f1c…
    $ printf '%s' "$OLD_TOKEN" | strongroom token revoke -
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, FieldOpt, FormatOpt, TokenOpt, connect
from strongroom.cli.output import Output, OutputFormat, note
from strongroom.cli.prompting import read_stdin
from strongroom.errors import InvalidInput

__all__ = ["app"]

app = typer.Typer(help="Create, look up, renew and revoke tokens.", no_args_is_help=True)

AccessorOpt = Annotated[
    str | None,
    typer.Option("--accessor", help="Name the token by its accessor.", show_default=False),
]
SelfOpt = Annotated[bool, typer.Option("--self", help="The token this command runs with.")]
OtherTokenArg = Annotated[
    str | None,
    typer.Argument(
        help="The token to act on, or - to read it from stdin.",
        metavar="TOKEN",
        show_default=False,
    ),
]


def _other(value: str | None) -> str | None:
    """Resolve a TOKEN argument (``-`` reads stdin)."""
    if value == "-":
        value = read_stdin().strip()
        if not value:
            raise InvalidInput("no token was read from stdin")
    return value


def _one_of(**choices: object) -> None:
    """Raise :class:`InvalidInput` when more than one of the ways to name a token is given."""
    given = [name for name, value in choices.items() if value]
    if len(given) > 1:
        raise InvalidInput(f"give only one of {', '.join(given)}")


@app.command("create")
def create(
    policy: Annotated[
        list[str] | None,
        typer.Option(
            "--policy",
            help="Policy for the new token; repeat it.",
            show_default="the parent token's policies",
        ),
    ] = None,
    ttl: Annotated[
        int | None,
        typer.Option("--ttl", help="Time to live in seconds.", min=1, show_default="the server's"),
    ] = None,
    display_name: Annotated[
        str, typer.Option("--display-name", help="A name to recognise the token by.")
    ] = "",
    renewable: Annotated[
        bool,
        typer.Option("--renewable/--no-renewable", help="Whether the token may be renewed."),
    ] = True,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Create a child token; its value is printed once (``--field token`` for scripts)."""
    body: dict[str, Any] = {"display_name": display_name, "renewable": renewable}
    if policy:
        body["policies"] = policy
    if ttl is not None:
        body["ttl"] = ttl
    with connect(addr, token) as client:
        auth: dict[str, Any] = dict(client.post("/v1/auth/token/create", body).get("auth", {}))
    view = {"token": auth.pop("client_token", None), **auth}
    Output(fmt, field).record(view, title="New token")
    if field is None:
        note("The token is shown once: store it now.")


@app.command("lookup")
def lookup(
    other: OtherTokenArg = None,
    accessor: AccessorOpt = None,
    self_: SelfOpt = False,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Describe a token: TOKEN, - (stdin), --accessor, or by default --self."""
    _one_of(TOKEN=other, **{"--accessor": accessor, "--self": self_})
    value = _other(other)
    with connect(addr, token) as client:
        if value is not None:
            result = client.post("/v1/auth/token/lookup", {"token": value})
        elif accessor is not None:
            result = client.post("/v1/auth/token/lookup", {"accessor": accessor})
        else:
            result = client.get("/v1/auth/token/lookup-self")
    Output(fmt, field).record(result.get("data", {}), title="Token")


@app.command("renew")
def renew(
    accessor: AccessorOpt = None,
    increment: Annotated[
        int | None,
        typer.Option(
            "--increment",
            help="Seconds to extend by.",
            min=1,
            show_default="the token's creation TTL",
        ),
    ] = None,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Extend a token's life: this command's token, or the one with --accessor."""
    body: dict[str, Any] = {}
    if increment is not None:
        body["increment"] = increment
    with connect(addr, token) as client:
        if accessor is not None:
            result = client.post("/v1/auth/token/renew", {**body, "accessor": accessor})
        else:
            result = client.post("/v1/auth/token/renew-self", body or None)
    Output(fmt, field).record(result.get("auth", {}), title="Renewed token")


@app.command("revoke")
def revoke(
    other: OtherTokenArg = None,
    accessor: AccessorOpt = None,
    self_: SelfOpt = False,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
) -> None:
    """Revoke a token and every token created from it (give TOKEN, -, --accessor or --self)."""
    _one_of(TOKEN=other, **{"--accessor": accessor, "--self": self_})
    if other is None and accessor is None and not self_:
        raise InvalidInput("name the token to revoke: TOKEN, -, --accessor A or --self")
    value = _other(other)
    with connect(addr, token) as client:
        if value is not None:
            client.post("/v1/auth/token/revoke", {"token": value})
        elif accessor is not None:
            client.post("/v1/auth/token/revoke", {"accessor": accessor})
        else:
            client.post("/v1/auth/token/revoke-self")
    note("The token and its children are revoked.")
