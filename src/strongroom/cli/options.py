"""Options shared by every command, as ``Annotated`` aliases, and the helpers they feed.

Every command that talks to a server takes ``--addr`` and ``--token`` (also
``STRONGROOM_ADDR`` and ``STRONGROOM_TOKEN``); every command that prints a
result takes ``--format`` and ``--field``.

Example::

    >>> parse_versions("1,3")
    [1, 3]
    >>> parse_pairs(["team=payments"], option="--custom")
    {'team': 'payments'}

A command declares them as plain parameters::

    def show(addr: AddrOpt = DEFAULT_ADDR, token: TokenOpt = None,
             fmt: FormatOpt = OutputFormat.TABLE, field: FieldOpt = None) -> None: ...
"""

from __future__ import annotations

from typing import Annotated

import typer

from strongroom.cli.client import DEFAULT_ADDR, Client
from strongroom.cli.output import OutputFormat
from strongroom.errors import InvalidInput

__all__ = [
    "DEFAULT_ADDR",
    "AddrOpt",
    "FieldOpt",
    "FormatOpt",
    "TokenOpt",
    "VersionsOpt",
    "connect",
    "parse_pairs",
    "parse_versions",
]

AddrOpt = Annotated[
    str,
    typer.Option(
        "--addr",
        envvar="STRONGROOM_ADDR",
        help="Server address.",
        metavar="URL",
    ),
]
"""``--addr URL`` (env ``STRONGROOM_ADDR``)."""

TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="STRONGROOM_TOKEN",
        help="Token to authenticate with; prefer the environment variable, "
        "since a flag is visible to other users in the process list.",
        show_default=False,
        metavar="TOKEN",
    ),
]
"""``--token TOKEN`` (env ``STRONGROOM_TOKEN``); sent in the ``X-Strongroom-Token`` header."""

FormatOpt = Annotated[
    OutputFormat,
    typer.Option(
        "--format", "-f", envvar="STRONGROOM_FORMAT", help="Output format.", case_sensitive=False
    ),
]
"""``--format table|json|yaml``."""

FieldOpt = Annotated[
    str | None,
    typer.Option(
        "--field",
        help="Print only this field, raw, with no trailing newline when piped (for scripts).",
        show_default=False,
        metavar="NAME",
    ),
]
"""``--field NAME``: print one value raw."""

VersionsOpt = Annotated[
    str,
    typer.Option("--versions", help="Comma-separated version numbers, e.g. 1,2.", metavar="N,N"),
]
"""``--versions 1,2`` (required where used; parse with :func:`parse_versions`)."""


def connect(addr: str, token: str | None) -> Client:
    """Open a :class:`Client` for one command (use it as a context manager)."""
    return Client(addr, token)


def parse_versions(text: str) -> list[int]:
    """Parse ``"1,2,3"`` into ``[1, 2, 3]``; raise :class:`InvalidInput` (exit 2) otherwise."""
    versions: list[int] = []
    for part in text.split(","):
        number = part.strip()
        if not number.isdigit() or int(number) < 1:
            raise InvalidInput("--versions takes positive version numbers separated by commas")
        versions.append(int(number))
    return versions


def parse_pairs(pairs: list[str], *, option: str) -> dict[str, str]:
    """Parse repeated ``key=value`` options into a dict (keys must be unique and non-empty)."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{option} takes key=value")
        if key in result:
            raise InvalidInput(f"{option} names the key {key!r} twice")
        result[key] = value
    return result
