"""``strongroom subject``: data subjects, whose records are sealed under their own key.

A subject is a pseudonymous id (``sub_…``). The caller's own reference for
the person (a patient number, an e-mail) may be attached at creation: it is
stored only as a keyed blind index, so it can be looked up but not read
back. Give it on standard input (``--ref-stdin``) rather than the command
line, where shells and process lists keep it.

Example::

    $ echo 'MRN-0042' | strongroom subject create --ref-stdin --field id
    sub_3f9a…
    $ echo 'MRN-0042' | strongroom subject lookup --ref-stdin
    $ strongroom subject show sub_3f9a…
    $ strongroom subject list
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from strongroom.cli.client import segment
from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, FieldOpt, FormatOpt, TokenOpt, connect
from strongroom.cli.output import Output, OutputFormat
from strongroom.errors import InvalidInput

__all__ = ["app"]

app = typer.Typer(
    help="Manage data subjects (people whose records are sealed under their own key).",
    no_args_is_help=True,
)

RefOpt = Annotated[
    str | None,
    typer.Option(
        "--ref",
        help="Your reference for the person (prefer --ref-stdin: a command line is not private).",
        show_default=False,
    ),
]
RefStdinOpt = Annotated[
    bool, typer.Option("--ref-stdin", help="Read the reference from standard input (one line).")
]


def _reference(ref: str | None, from_stdin: bool, *, required: bool) -> str | None:
    if ref is not None and from_stdin:
        raise InvalidInput("give --ref or --ref-stdin, not both")
    if from_stdin:
        ref = sys.stdin.readline().rstrip("\r\n")
    if ref is not None and not ref.strip():
        raise InvalidInput("the reference is empty")
    if required and ref is None:
        raise InvalidInput("give the reference with --ref-stdin (or --ref)")
    return ref


@app.command("create")
def create(
    ref: RefOpt = None,
    ref_stdin: RefStdinOpt = False,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Create a subject, optionally with your reference for the person."""
    external = _reference(ref, ref_stdin, required=False)
    body: dict[str, Any] = {} if external is None else {"external_ref": external}
    with connect(addr, token) as client:
        result = client.post("/v1/sys/subjects", body)
    Output(fmt, field).record(result, title="New data subject")


@app.command("lookup")
def lookup(
    ref: RefOpt = None,
    ref_stdin: RefStdinOpt = False,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Find the subject with your reference (exact match after Unicode case folding)."""
    external = _reference(ref, ref_stdin, required=True)
    with connect(addr, token) as client:
        result = client.post("/v1/sys/subjects/lookup", {"external_ref": external})
    Output(fmt, field).record(result, title="Data subject")


@app.command("show")
def show(
    subject_id: Annotated[str, typer.Argument(help="The subject's id (sub_…).", metavar="ID")],
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Show a subject: when it was created or erased, and how many record versions it keys."""
    with connect(addr, token) as client:
        result = client.get(f"/v1/sys/subjects/{segment(subject_id)}")
    Output(fmt, field).record(result, title=f"Data subject {subject_id}")


@app.command("list")
def list_(
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    limit: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="Most subjects to print.")
    ] = 1000,
) -> None:
    """List the tenant's subjects (in id order)."""
    with connect(addr, token) as client:
        found = client.get_pages("/v1/sys/subjects", "subjects", limit=limit)
    Output(fmt).rows(found, ["id", "created_at", "erased_at"], title="Data subjects", full=found)
