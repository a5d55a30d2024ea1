"""``strongroom policy``: write, read, list and delete ACL policies.

A policy document is JSON or YAML text; the server parses and validates it.

Example::

    $ cat app-read.yaml
    description: read the app's secrets
    rules:
      - path: "secret/app/*"
        capabilities: [read, list]
    $ strongroom policy write app-read app-read.yaml
    $ strongroom policy read app-read --format json
    $ strongroom policy list
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from strongroom.cli.client import segment
from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, FieldOpt, FormatOpt, TokenOpt, connect
from strongroom.cli.output import Output, OutputFormat, note
from strongroom.cli.prompting import read_stdin
from strongroom.errors import InvalidInput

__all__ = ["app"]

app = typer.Typer(help="Manage ACL policies.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Policy name (a-z, 0-9, - and _).", metavar="NAME")]


def _url(name: str | None = None) -> str:
    """The URL of the policy collection, or of one policy."""
    return "/v1/sys/policies/acl" + ("" if name is None else "/" + segment(name))


def _read_document(source: str) -> str:
    """Read the policy text from a file, or from stdin for ``-``."""
    if source == "-":
        return read_stdin()
    try:
        return Path(source).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"the policy file does not exist: {source}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"the policy file is not UTF-8 text: {source}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read the policy file {source}: {exc.strerror}") from None


@app.command("write")
def write(
    name: NameArg,
    source: Annotated[
        str,
        typer.Argument(
            help="File holding the JSON or YAML document, or - for stdin.", metavar="FILE"
        ),
    ],
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Create or replace a policy from a JSON or YAML file."""
    text = _read_document(source)
    with connect(addr, token) as client:
        result = client.put(_url(name), {"policy": text})
    Output(fmt, field).record(result, title="Policy written")


@app.command("read")
def read(
    name: NameArg,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Show a policy: its description and rules."""
    with connect(addr, token) as client:
        result = client.get(_url(name))
    out = Output(fmt, field)
    if field is not None or fmt is not OutputFormat.TABLE:
        out.record(result)
        return
    doc: dict[str, Any] = result.get("policy") or {}
    title = f"Policy {result.get('name')} (revision {result.get('revision')})"
    if doc.get("description"):
        title += f": {doc['description']}"
    out.rows(doc.get("rules") or [], ["path", "capabilities"], title=title)


@app.command("list")
def list_(
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """List the policy names of your tenant."""
    with connect(addr, token) as client:
        names = client.get(_url()).get("keys") or []
    Output(fmt).names(names, header="Policies")


@app.command("delete")
def delete(name: NameArg, addr: AddrOpt = DEFAULT_ADDR, token: TokenOpt = None) -> None:
    """Delete a policy (tokens that carry it lose what it granted)."""
    with connect(addr, token) as client:
        client.delete(_url(name))
    note(f"Deleted policy {name}.")
