"""``strongroom kv``: write, read, list and manage versions of KV v2 records.

Targets are ``MOUNT/PATH``: ``secret/app/db`` is record ``app/db`` in mount
``secret``. Values given to ``kv put`` come from stdin (``key=-``), a file
(``key=@path``), a hidden prompt (``key`` alone) or the argument itself
(``key=value``, which ends up in the shell history: avoid it for secrets).

Example::

    $ printf 's3cr3t' | strongroom kv put secret/app/db password=-
    $ strongroom kv put secret/app/tls cert=@server.pem key=@server.key --cas 1
    $ strongroom kv get secret/app/db --field password
    s3cr3t
    $ strongroom kv list secret/app
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from strongroom.cli import metadata
from strongroom.cli.options import (
    DEFAULT_ADDR,
    AddrOpt,
    FieldOpt,
    FormatOpt,
    TokenOpt,
    VersionsOpt,
    connect,
    parse_versions,
)
from strongroom.cli.output import Output, OutputFormat, note
from strongroom.cli.prompting import read_secret, read_stdin
from strongroom.cli.record_path import kv_url, split_target
from strongroom.errors import InvalidInput

__all__ = ["app", "parse_data"]

app = typer.Typer(help="Read and write versioned key/value records (KV v2).", no_args_is_help=True)
app.add_typer(metadata.app, name="metadata")

TargetArg = Annotated[
    str, typer.Argument(help="MOUNT/PATH of the record, e.g. secret/app/db.", metavar="MOUNT/PATH")
]


def _read_file(key: str, name: str) -> str:
    """Read a ``key=@file`` value as UTF-8 text, exactly as stored."""
    try:
        return Path(name).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"the file for {key!r} does not exist: {name}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"the file for {key!r} is not UTF-8 text: {name}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read the file for {key!r}: {exc.strerror}") from None


def parse_data(args: list[str]) -> dict[str, str]:
    """Turn ``key=value`` arguments into the record's data.

    ``key=-`` reads stdin (one key at most), ``key=@file`` reads a file, ``key``
    alone asks with a hidden prompt (or reads one line from a non-terminal
    stdin) and ``key=value`` is taken as it is.

    >>> parse_data(["user=app", "port=5432"])
    {'user': 'app', 'port': '5432'}
    """
    stdin_keys = [a.partition("=")[0] for a in args if a.partition("=")[2] == "-"]
    bare_keys = [a for a in args if "=" not in a]
    if len(stdin_keys) > 1:
        raise InvalidInput("only one key can read its value from stdin (key=-)")
    if stdin_keys and bare_keys and not sys.stdin.isatty():
        raise InvalidInput("key=- reads all of stdin, so no other key can be read from it")
    data: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not key:
            raise InvalidInput("each value is given as key=value, key=-, key=@file or key")
        if key in data:
            raise InvalidInput(f"the key {key!r} is given twice")
        if not sep:
            data[key] = read_secret(f"Value for {key}")
        elif value == "-":
            data[key] = read_stdin()
        elif value.startswith("@"):
            data[key] = _read_file(key, value[1:])
        else:
            data[key] = value
    return data


def _version_row(info: dict[str, Any], current: int | None = None) -> dict[str, Any]:
    """One version's public metadata, with a ``current`` flag when ``current`` is given."""
    row = {
        "version": info.get("version"),
        "created_time": info.get("created_time"),
        "deletion_time": info.get("deletion_time"),
        "destroyed": info.get("destroyed"),
    }
    if current is not None:
        row = {"version": row.pop("version"), "current": info.get("version") == current, **row}
    return row


@app.command("put")
def put(
    target: TargetArg,
    pairs: Annotated[
        list[str],
        typer.Argument(
            help="Values as key=value, key=- (stdin), key=@FILE, or key alone (hidden prompt).",
            metavar="KEY=VALUE",
            show_default=False,
        ),
    ],
    cas: Annotated[
        int | None,
        typer.Option(
            "--cas",
            help="Check-and-set: write only if the current version is N (0: only if new).",
            min=0,
            metavar="N",
            show_default=False,
        ),
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject",
            help="Seal this version under a data subject's key (strongroom subject create).",
            metavar="ID",
            show_default=False,
        ),
    ] = None,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Write a new version of a record (all its keys at once)."""
    mount, path = split_target(target)
    body: dict[str, Any] = {"data": parse_data(pairs)}
    options: dict[str, Any] = {}
    if cas is not None:
        options["cas"] = cas
    if subject is not None:
        options["subject"] = subject
    if options:
        body["options"] = options
    with connect(addr, token) as client:
        result = client.put(kv_url(mount, "data", path), body)
    info = result.get("data", {})
    Output(fmt, field).record(_version_row(info), title=f"Wrote {target}")


@app.command("get")
def get(
    target: TargetArg,
    version: Annotated[
        int | None,
        typer.Option("--version", help="Version to read.", min=1, show_default="current"),
    ] = None,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Read a record (--field KEY prints one value raw, for scripts)."""
    mount, path = split_target(target)
    with connect(addr, token) as client:
        result = client.get(kv_url(mount, "data", path), params={"version": version})
    doc = result.get("data", {})
    data: dict[str, Any] = doc.get("data") or {}
    meta: dict[str, Any] = doc.get("metadata") or {}
    out = Output(fmt, field)
    if field is None and fmt is OutputFormat.TABLE:
        out.record(meta, title="Metadata")
        out.record(data, title="Data", plain=True)
        return
    out.record(data, full={"data": data, "metadata": meta})


@app.command("list")
def list_(
    target: Annotated[
        str,
        typer.Argument(
            help="MOUNT or MOUNT/PREFIX of the folder to list, e.g. secret/app.",
            metavar="MOUNT/PREFIX",
        ),
    ],
    after: Annotated[
        str | None,
        typer.Option("--after", help="Start after this key (for paging).", show_default=False),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            help="Print one page of at most N keys.",
            min=1,
            show_default="every key, page after page",
        ),
    ] = None,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """List the records and folders (ending in /) directly under a prefix."""
    mount, prefix = split_target(target, folder=True)
    url = kv_url(mount, "metadata", prefix)
    keys: list[str] = []
    next_after: str | None = after
    with connect(addr, token) as client:
        while True:
            page = client.get(url, params={"list": "true", "after": next_after, "limit": limit})
            data = page.get("data", {})
            keys.extend(data.get("keys") or [])
            next_after = data.get("next_after")
            if limit is not None or not next_after:
                break
    full: Any = keys
    if limit is not None:
        full = {"keys": keys, "next_after": next_after}
    Output(fmt).names(keys, header="Keys", full=full)
    if limit is not None and next_after and fmt is OutputFormat.TABLE:
        note(f"More keys follow: use --after {next_after}")


@app.command("delete")
def delete(
    target: TargetArg,
    versions: Annotated[
        str | None,
        typer.Option(
            "--versions",
            help="Comma-separated versions to delete.",
            metavar="N,N",
            show_default="the current one",
        ),
    ] = None,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
) -> None:
    """Soft-delete versions of a record (they can be undeleted)."""
    mount, path = split_target(target)
    with connect(addr, token) as client:
        if versions is None:
            client.delete(kv_url(mount, "data", path))
        else:
            client.post(kv_url(mount, "delete", path), {"versions": parse_versions(versions)})
    note(f"Deleted {'the current version' if versions is None else 'versions ' + versions}.")


@app.command("undelete")
def undelete(
    target: TargetArg,
    versions: VersionsOpt,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
) -> None:
    """Restore soft-deleted versions of a record."""
    mount, path = split_target(target)
    with connect(addr, token) as client:
        client.post(kv_url(mount, "undelete", path), {"versions": parse_versions(versions)})
    note(f"Undeleted versions {versions}.")


@app.command("destroy")
def destroy(
    target: TargetArg,
    versions: VersionsOpt,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
) -> None:
    """Destroy versions of a record for good (their ciphertext is removed)."""
    mount, path = split_target(target)
    with connect(addr, token) as client:
        client.put(kv_url(mount, "destroy", path), {"versions": parse_versions(versions)})
    note(f"Destroyed versions {versions}.")


@app.command("history")
def history(
    target: TargetArg,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Show the kept versions of a record, oldest first."""
    mount, path = split_target(target)
    with connect(addr, token) as client:
        meta = client.get(kv_url(mount, "metadata", path)).get("data", {})
    current = meta.get("current_version")
    versions = sorted((meta.get("versions") or {}).values(), key=lambda v: int(v["version"]))
    rows = [_version_row(v, current) for v in versions]
    columns = ["version", "current", "created_time", "deletion_time", "destroyed"]
    Output(fmt, field).rows(rows, columns, title=f"Versions of {target}")
