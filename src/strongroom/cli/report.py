"""``strongroom report``: reports the server computes from live evidence.

``report compliance`` asks the server for the compliance report of one
framework (or all) and writes it as JSON, Markdown or HTML. Markdown and
HTML are rendered here, from the JSON the server sent.

Example::

    $ strongroom report compliance --framework hipaa --format md
    $ strongroom report compliance --framework all --format html --out report.html
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, TokenOpt, connect
from strongroom.cli.output import note
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
        str, typer.Option("--format", "-f", help="json, md or html.", metavar="FORMAT")
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
    if fmt not in FORMATS:
        raise InvalidInput(f"--format must be one of {', '.join(FORMATS)}")
    with connect(addr, token) as client:
        doc = client.get("/v1/sys/compliance/report", params={"framework": framework})
    text = render(doc, fmt)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StrongroomError(f"cannot write {out}: {exc.strerror or exc}") from exc
    summary = doc.get("summary", {})
    note(
        f"wrote {out}: "
        + ", ".join(f"{summary.get(k, 0)} {k}" for k in ("pass", "fail", "needs-evidence"))
    )
