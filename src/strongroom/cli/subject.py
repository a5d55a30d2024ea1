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

import hashlib
import html
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from strongroom.cli.client import segment
from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, FieldOpt, FormatOpt, TokenOpt, connect
from strongroom.cli.output import Output, OutputFormat, note
from strongroom.cli.pdf import access_report_pdf
from strongroom.errors import IntegrityViolation, InvalidInput

__all__ = ["app", "report_html"]

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


IdArg = Annotated[str, typer.Argument(help="The subject's id (sub_…).", metavar="ID")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Write the document to this file (default: stdout).")
]


def _write(doc: dict[str, Any], out: Path | None, what: str) -> None:
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    note(f"{what} written to {out}")


@app.command("erase")
def erase(
    subject_id: IdArg,
    receipt: Annotated[
        Path | None, typer.Option("--receipt", help="Write the signed erasure receipt here.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Erase a subject for good: its key is destroyed, so are its records, in every backup.

    The receipt (the erasure's audit entry, its inclusion proof and a signed
    checkpoint) verifies offline with ``strongroom audit verify-proofs``.
    """
    if not yes and sys.stdin.isatty():
        typer.confirm(f"Erase {subject_id} and every record sealed under its key?", abort=True)
    with connect(addr, token) as client:
        result = client.post(f"/v1/sys/subjects/{segment(subject_id)}/erase", {})
    if receipt is not None:
        _write(result["receipt"], receipt, "erasure receipt")
    summary = {k: v for k, v in result.items() if k != "receipt"}
    summary["receipt_entry"] = result["receipt"]["items"][0]["leaf_index"]
    Output(fmt).record(summary, title="Data subject erased")


@app.command("export")
def export(
    subject_id: IdArg,
    out: OutOpt = None,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
) -> None:
    """Everything held about the subject, decrypted (GDPR art. 20), with its logged receipt.

    The bundle's SHA-256 is checked here against the one in the receipt's
    audit entry before anything is written.
    """
    from strongroom.ledger.entry import canonical
    from strongroom.ledger.proofs import parse_document

    with connect(addr, token) as client:
        result = client.post(f"/v1/sys/subjects/{segment(subject_id)}/export", {})
    doc = parse_document(json.dumps(result["receipt"]).encode())
    logged = json.loads(doc.items[0].entry).get("details", {}).get("sha256")
    digest = hashlib.sha256(canonical(result["export"])).hexdigest()
    if logged != digest:
        raise IntegrityViolation("the export does not match the digest in its audit entry")
    _write(result, out, f"export of {len(result['export']['records'])} record versions")


@app.command("access-report")
def access_report(
    subject_id: IdArg,
    out: OutOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", help="json (verifiable), html or pdf (for the person).")
    ] = "json",
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
) -> None:
    """Who accessed the subject's records, when, why and with what outcome (GDPR art. 15).

    Each line carries an inclusion proof; check the JSON form anywhere with
    ``strongroom audit verify-proofs FILE --key …``.
    """
    if fmt not in ("json", "html", "pdf"):
        raise InvalidInput("--format is json, html or pdf")
    with connect(addr, token) as client:
        report = client.get(f"/v1/sys/subjects/{segment(subject_id)}/access-report")
    if fmt == "json":
        _write(report, out, f"access report ({len(report['lines'])} accesses)")
        return
    page = access_report_pdf(report) if fmt == "pdf" else report_html(report).encode()
    if out is None:
        sys.stdout.buffer.write(page)
        sys.stdout.flush()
    else:
        out.write_bytes(page)
        note(f"access report ({len(report['lines'])} accesses) written to {out}")


consent_app = typer.Typer(help="Consents of a subject to purposes of use.", no_args_is_help=True)
app.add_typer(consent_app, name="consent")


@consent_app.command("grant")
def consent_grant(
    subject_id: IdArg,
    purpose: Annotated[str, typer.Option("--purpose", help="The purpose of use (treatment…).")],
    scope: Annotated[str, typer.Option("--scope", help="Path pattern covered ('*': all).")] = "*",
    expires_at: Annotated[
        float | None, typer.Option("--expires-at", help="UNIX seconds; default: no expiry.")
    ] = None,
    evidence_ref: Annotated[
        str, typer.Option("--evidence-ref", help="Where the signed form is kept.")
    ] = "",
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Record (or renew) a consent: a new version of it."""
    body: dict[str, Any] = {"purpose": purpose, "scope": scope, "evidence_ref": evidence_ref}
    if expires_at is not None:
        body["expires_at"] = expires_at
    with connect(addr, token) as client:
        result = client.post(f"/v1/sys/subjects/{segment(subject_id)}/consents", body)
    Output(fmt).record(result, title="Consent recorded")


@consent_app.command("withdraw")
def consent_withdraw(
    subject_id: IdArg,
    purpose: Annotated[str, typer.Option("--purpose", help="The purpose to withdraw.")],
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Withdraw a consent; it applies to the very next request."""
    with connect(addr, token) as client:
        result = client.post(
            f"/v1/sys/subjects/{segment(subject_id)}/consents/{segment(purpose)}/withdraw", {}
        )
    Output(fmt).record(result, title="Consent withdrawn")


@consent_app.command("list")
def consent_list(
    subject_id: IdArg,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Every version of every consent of the subject."""
    with connect(addr, token) as client:
        found = client.get(f"/v1/sys/subjects/{segment(subject_id)}/consents")["consents"]
    Output(fmt).rows(
        found,
        ["purpose", "version", "scope", "granted_at", "expires_at", "withdrawn_at"],
        title=f"Consents of {subject_id}",
        full=found,
    )


def report_html(report: dict[str, Any]) -> str:
    """The access report as a self-contained HTML page (escaped; no script, no remote asset)."""
    esc = html.escape
    rows = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{esc(str(line.get(k) if line.get(k) is not None else ''))}</td>"
            for k in ("index", "time", "event", "principal", "resource", "purpose", "outcome")
        )
        + "</tr>"
        for line in report["lines"]
    )
    checkpoint = (report.get("proofs") or {}).get("checkpoint", "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Access report {esc(report["subject"])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:.25em .5em;font-size:.9em}}
pre{{background:#eee;padding:1em}}</style>
</head><body>
<h1>Access report</h1>
<p>Data subject <code>{esc(report["subject"])}</code>, tenant <code>{esc(report["tenant"])}</code>.
Every read, write, export and refusal touching this subject's records, as recorded in the
tamper-evident audit log. Each line is an audit entry with an inclusion proof under the signed
checkpoint below; the JSON form of this report verifies offline with
<code>strongroom audit verify-proofs</code>.</p>
<table><thead><tr><th>Entry</th><th>Time (UTC)</th><th>Event</th><th>Who</th>
<th>Resource</th><th>Purpose</th><th>Outcome</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<h2>Signed checkpoint</h2>
<pre>{esc(checkpoint)}</pre>
</body></html>
"""
