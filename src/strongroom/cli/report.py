"""``strongroom report``: reports the server computes from live evidence.

``report compliance`` asks the server for the compliance report of one
framework (or all) and writes it as JSON, Markdown or HTML. Markdown and
HTML are rendered here, from the JSON the server sent.

Example::

    $ strongroom report compliance --framework hipaa --format md
    $ strongroom report compliance --framework all --format html --out report.html
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, TokenOpt, connect
from strongroom.cli.output import note
from strongroom.cli.pdf import compliance_report_pdf
from strongroom.compliance.report import FORMATS, render
from strongroom.errors import InvalidInput, StrongroomError

__all__ = ["app"]

app = typer.Typer(help="Reports computed by the server from live evidence.", no_args_is_help=True)


@app.command("compliance")
def compliance(
    framework: Annotated[
        str,
        typer.Option(help="hipaa, gdpr, sox, pci, euaiact or all.", metavar="NAME"),
    ] = "all",
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="json, md, html or pdf.", metavar="FORMAT")
    ] = "json",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the report to this file (default: standard output).",
            dir_okay=False,
        ),
    ] = None,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
) -> None:
    """The compliance report of a framework: each control pass, fail or needs-evidence, with
    its evidence (needs read on sys/compliance/report)."""
    if fmt not in (*FORMATS, "pdf"):
        raise InvalidInput(f"--format must be one of {', '.join((*FORMATS, 'pdf'))}")
    with connect(addr, token) as client:
        doc = client.get("/v1/sys/compliance/report", params={"framework": framework})
    data = compliance_report_pdf(doc) if fmt == "pdf" else render(doc, fmt).encode()
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise StrongroomError(f"cannot write {out}: {exc.strerror or exc}") from exc
    summary = doc.get("summary", {})
    note(
        f"wrote {out}: "
        + ", ".join(f"{summary.get(k, 0)} {k}" for k in ("pass", "fail", "needs-evidence"))
    )
