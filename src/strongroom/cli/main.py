"""The root ``strongroom`` command: joins the groups and maps errors to exit codes.

:func:`main` is the console script. It catches :class:`StrongroomError` once,
prints ``Error: <diagnostics>`` on stderr as one line and exits with the
error's ``exit_code``; usage errors exit 2 (Typer's default).

Example::

    $ strongroom kv get secret/nope
    Error: Not found: nothing at this path
    $ echo $?
    3
"""

from __future__ import annotations

import os
import re
import sys
from typing import Annotated

import typer

from strongroom import __version__
from strongroom.cli import (
    audit,
    backup,
    keys,
    kv,
    monitor,
    mount,
    operator,
    policy,
    retention,
    server,
    subject,
    tenant,
    token,
)
from strongroom.cli import report as report_cmd
from strongroom.cli.output import OutputFormat
from strongroom.errors import StrongroomError

__all__ = ["app", "main"]

app = typer.Typer(
    name="strongroom",
    help="Strongroom: a self-hosted vault for sensitive data with a tamper-evident audit log.",
    no_args_is_help=True,
    # Never show a traceback, let alone its local variables: they may hold secrets.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)
app.command("server")(server.server)
app.command("status")(operator.status)
app.add_typer(operator.app, name="operator")
app.add_typer(kv.app, name="kv")
app.add_typer(token.app, name="token")
app.add_typer(policy.app, name="policy")
app.add_typer(keys.app, name="keys")
app.add_typer(mount.app, name="mount")
app.add_typer(tenant.app, name="tenant")
app.add_typer(audit.app, name="audit")
app.add_typer(backup.app, name="backup")
app.add_typer(monitor.app, name="monitor")
app.add_typer(subject.app, name="subject")
app.add_typer(retention.app, name="retention")
app.add_typer(report_cmd.app, name="report")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _show_version(value: bool) -> None:
    """Print the version and stop (the eager ``--version`` callback)."""
    if value:
        typer.echo(f"strongroom {__version__}")
        raise typer.Exit


@app.callback()
def root(
    addr: Annotated[
        str | None,
        typer.Option("--addr", help="Server address for every command.", metavar="URL"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", help="Token for every command.", metavar="TOKEN"),
    ] = None,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format", "-f", help="Output format for every command.", case_sensitive=False
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Show the version and exit.",
            callback=_show_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Strongroom: a self-hosted vault for sensitive data with a tamper-evident audit log.

    Commands reach the server at STRONGROOM_ADDR (or --addr) with the token in
    STRONGROOM_TOKEN (or --token). These options work before the command or after it.
    """
    # A global flag becomes the environment variable each command's option
    # already reads, so the order is: the command's flag, the global flag, the
    # inherited environment, the default. This process exits after one command.
    for name, value in (("ADDR", addr), ("TOKEN", token), ("FORMAT", fmt)):
        if value is not None:
            os.environ[f"STRONGROOM_{name}"] = str(value)


def one_line(text: str) -> str:
    """Collapse control characters (newlines included) so a message stays on one line.

    >>> one_line("bad\\ninput")
    'bad input'
    """
    return _CONTROL.sub(" ", text).strip()


def main() -> None:
    """Run the CLI; a Strongroom error becomes one stderr line and its exit code."""
    try:
        app()
    except StrongroomError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"Error: {one_line(exc.diagnostics())}\n")
        sys.stderr.flush()
        raise SystemExit(exc.exit_code) from None


if __name__ == "__main__":
    main()
