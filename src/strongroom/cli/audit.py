"""``strongroom audit``: read, prove, export and verify the tamper-evident audit log.

``tail``, ``search``, ``prove`` and ``export`` talk to a server; ``verify``
needs no server at all: it recomputes every hash of an exported bundle,
checks every checkpoint signature, and remembers the last checkpoint it
trusted so that a later log that does not extend it (truncated, rolled back
or forked) fails.

Example::

    $ strongroom audit tail --follow
    $ strongroom audit search --resource secret/app/ --prefix --outcome denied
    $ strongroom audit prove --index 42
    $ strongroom audit export --out audit.bundle
    $ strongroom audit verify audit.bundle          # offline; exit 0 only if intact
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from strongroom.cli.client import Client
from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, FormatOpt, TokenOpt, connect
from strongroom.cli.output import Output, OutputFormat, err_console, note
from strongroom.errors import IntegrityViolation, InvalidInput
from strongroom.ledger.checkpoint import parse_verifier_key, verify_checkpoint
from strongroom.ledger.merkle import leaf_hash, verify_inclusion

__all__ = ["app"]

app = typer.Typer(help="Read, prove, export and verify the audit log.", no_args_is_help=True)

_PAGE = 1000


def _b64d(text: str) -> bytes:
    return base64.b64decode(text)


def _entry_line(row: dict[str, Any]) -> str:
    return base64.b64decode(row["leaf_input"]).decode()


def _size(client: Client) -> int:
    return int(client.get("/v1/audit/key")["tree_size"])


@app.command("tail")
def tail(
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-F", help="Keep printing new entries.")
    ] = False,
    last: Annotated[
        int, typer.Option("--last", "-n", min=0, help="Start this many entries back.")
    ] = 10,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between polls with --follow.")
    ] = 1.0,
) -> None:
    """Print entries as JSON lines (their exact canonical bytes), newest last.

    Reading the log is itself audited, so each poll of ``--follow`` adds an
    entry of its own (``audit:entries:read``).
    """
    with connect(addr, token) as client:
        # The tree size before this command's own (audited) requests.
        size = _size(client)
        start = max(0, size - last)
        while True:
            end = start + _PAGE if follow else min(start + _PAGE, size)
            if end <= start:
                return
            got = client.get("/v1/audit/entries", params={"start": start, "end": end})
            rows = got.get("entries") or []
            for row in rows:
                sys.stdout.write(_entry_line(row) + "\n")
            sys.stdout.flush()
            if rows:
                start = int(rows[-1]["leaf_index"]) + 1
            if follow and len(rows) < _PAGE:
                time.sleep(interval)
            elif not follow and not rows:
                return


def _time(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput("times are RFC 3339 (2026-12-01T09:00:00Z) or UNIX seconds") from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


@app.command("search")
def search(
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    principal: Annotated[str | None, typer.Option(help="Token accessor.")] = None,
    resource: Annotated[str | None, typer.Option(help="mount/path, or a route.")] = None,
    prefix: Annotated[bool, typer.Option("--prefix", help="Match resources by prefix.")] = False,
    event: Annotated[str | None, typer.Option(help="Event name, e.g. kv:record:read.")] = None,
    outcome: Annotated[str | None, typer.Option(help="allowed, denied or error.")] = None,
    since: Annotated[str | None, typer.Option(help="RFC 3339 time or UNIX seconds.")] = None,
    until: Annotated[str | None, typer.Option(help="RFC 3339 time or UNIX seconds.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Most entries to print.")] = 100,
) -> None:
    """Find entries by principal, resource, event, outcome and time range (auditors)."""
    params: dict[str, Any] = {
        "principal": principal,
        "resource": resource,
        "prefix": "true" if prefix else None,
        "event": event,
        "outcome": outcome,
        "since": _time(since),
        "until": _time(until),
    }
    with connect(addr, token) as client:
        found = client.get_pages("/v1/audit/search", "entries", limit=limit, params=params)
    rows = [
        {
            "index": f["leaf_index"],
            "time": f["entry"]["time"],
            "event": f["entry"]["event"],
            "outcome": f["entry"]["outcome"],
            "principal": f["entry"]["principal"],
            "resource": f["entry"]["resource"],
            "reason": f["entry"].get("reason", ""),
        }
        for f in found
    ]
    Output(fmt).rows(
        rows,
        ["index", "time", "event", "outcome", "principal", "resource", "reason"],
        title="Audit entries",
        full=found,
    )


@app.command("prove")
def prove(
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    index: Annotated[int | None, typer.Option(min=0, help="Leaf index of the entry.")] = None,
    leaf: Annotated[
        str | None, typer.Option("--hash", help="Leaf hash (base64 or hex) from a receipt.")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(help="Verifier key to trust (name+id+key); default: the server's."),
    ] = None,
) -> None:
    """Fetch and check an inclusion proof of one entry against the newest signed checkpoint."""
    if (index is None) == (leaf is None):
        raise InvalidInput("give exactly one of --index and --hash")
    with connect(addr, token) as client:
        server_key = client.get("/v1/audit/key")
        vkey = key or server_key["verifier_key"]
        name, verifier = parse_verifier_key(vkey)
        note_text = client.get_text("/v1/audit/checkpoint")
        cp = verify_checkpoint(note_text.encode(), verifier=verifier, name=name)
        params: dict[str, Any] = {"size": cp.size}
        if index is not None:
            params["index"] = index
        else:
            params["hash"] = leaf
        proof = client.get("/v1/audit/proof/inclusion", params=params)
        i = int(proof["leaf_index"])
        entry = client.get("/v1/audit/entries", params={"start": i, "end": i + 1})["entries"][0]
    raw = _b64d(entry["leaf_input"])
    lh = leaf_hash(raw)
    verify_inclusion(
        leaf_hash=lh,
        index=i,
        size=cp.size,
        proof=[_b64d(h) for h in proof["audit_path"]],
        root=cp.root_hash,
    )
    result = {
        "verified": True,
        "leaf_index": i,
        "leaf_hash": base64.b64encode(lh).decode(),
        "tree_size": cp.size,
        "root_hash": base64.b64encode(cp.root_hash).decode(),
        "audit_path": proof["audit_path"],
        "entry": json.loads(raw),
    }
    Output(fmt).record(
        {k: v for k, v in result.items() if k not in ("audit_path", "entry")},
        title="Inclusion proven",
        full=result,
    )


def _all_checkpoints(client: Client, *, max_size: int) -> list[str]:
    notes: list[str] = []
    min_size = 0
    while True:
        page = (
            client.get(
                "/v1/audit/checkpoints",
                params={"min_size": min_size, "max_size": max_size, "limit": _PAGE},
            ).get("checkpoints")
            or []
        )
        notes.extend(c["note"] for c in page)
        if len(page) < _PAGE:
            return notes
        min_size = int(page[-1]["size"]) + 1


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle file to write.")],
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
) -> None:
    """Write a self-contained bundle (entries, checkpoints, public key) for offline verification.

    The bundle holds every entry up to the newest signed checkpoint, so all of
    it is covered by a signature.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from strongroom.ledger.bundle import BUNDLE_FORMAT, BundleHeader, write_bundle

    with connect(addr, token) as client:
        key = client.get("/v1/audit/key")
        name, verifier = parse_verifier_key(key["verifier_key"])
        newest = verify_checkpoint(
            client.get_text("/v1/audit/checkpoint").encode(), verifier=verifier, name=name
        )
        notes = _all_checkpoints(client, max_size=newest.size)
        entries: list[tuple[bytes, bytes]] = []
        with Progress(
            TextColumn("export"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console(),
            disable=not sys.stderr.isatty(),
        ) as progress:
            task = progress.add_task("export", total=newest.size)
            start = 0
            while start < newest.size:
                rows = (
                    client.get(
                        "/v1/audit/entries",
                        params={"start": start, "end": min(start + _PAGE, newest.size)},
                    ).get("entries")
                    or []
                )
                if not rows:
                    raise IntegrityViolation(
                        f"the server returned no entries at index {start} "
                        f"below its checkpoint of size {newest.size}"
                    )
                entries.extend((_b64d(r["leaf_hash"]), _b64d(r["leaf_input"])) for r in rows)
                # Continue after the last index served, not by count: if rows
                # are missing from the server's table, the bundle shows the gap.
                start = int(rows[-1]["leaf_index"]) + 1
                progress.update(task, completed=start)
    header = BundleHeader(
        format=BUNDLE_FORMAT,
        origin=str(key["origin"]),
        verifier_key=str(key["verifier_key"]),
        size=len(entries),
        checkpoints=tuple(notes),
        exported_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    tmp = out.with_name(out.name + ".part")
    write_bundle(tmp, header, entries)
    os.replace(tmp, out)
    note(f"wrote {len(entries)} entries and {len(notes)} checkpoints to {out}")


def _default_state(origin: str) -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in origin)
    return base / "strongroom" / f"audit-verify-{safe}.json"


@app.command("verify")
def verify(
    bundle_path: Annotated[Path, typer.Argument(metavar="FILE", help="Bundle from audit export.")],
    state: Annotated[
        Path | None,
        typer.Option(help="State file: the last checkpoint trusted (default: per log, XDG)."),
    ] = None,
    key: Annotated[str | None, typer.Option(help="Verifier key to require (name+id+key).")] = None,
    trust: Annotated[
        list[Path] | None,
        typer.Option(help="A checkpoint note another verifier saw (repeatable): detects forks."),
    ] = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Verify a bundle offline: every hash, every signature, and that it extends what was trusted.

    Exits 0 when intact; otherwise prints each finding (which entry, and how:
    modified, deleted, inserted, reordered, truncated, forked) and exits 7.
    A proof document (an access report, an erasure receipt, an export, the
    output of ``audit proofs``) is verified as ``audit verify-proofs`` does.
    """
    from strongroom.ledger.bundle import load_state, read_bundle, save_state, verify_bundle

    if _is_proof_document(bundle_path):
        verify_proofs(bundle_path, key=key, fmt=fmt)
        return
    bundle = read_bundle(bundle_path)
    state_path = state or _default_state(bundle.header.origin)
    trusted = load_state(state_path)
    notes = [p.read_bytes() for p in trust or []]
    report = verify_bundle(bundle, state=trusted, verifier_key=key, trusted_notes=notes)
    summary = {
        "ok": report.ok,
        "entries": report.size,
        "verified_entries": report.verified_size,
        "checkpoints": report.checkpoints,
        "state": str(state_path),
    }
    if fmt is OutputFormat.TABLE:
        Output(fmt).record(summary, title="Audit bundle")
        for msg in report.notes:
            note(msg)
        for f in report.findings:
            err_console().print(f"[red]{f.kind}[/red]: {f.message}")
    else:
        Output(fmt).record(
            summary,
            full={
                **summary,
                "notes": list(report.notes),
                "findings": [
                    {"kind": f.kind, "index": f.index, "message": f.message}
                    for f in report.findings
                ],
            },
        )
    if not report.ok:
        first = report.findings[0] if report.findings else None
        raise IntegrityViolation(
            first.message if first else "the bundle did not verify",
        )
    if report.trusted is not None:
        save_state(state_path, report.trusted)


@app.command("proofs")
def proofs(
    index: Annotated[
        list[int], typer.Option("--index", min=0, help="Leaf index of an entry (repeatable).")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File to write (default: stdout).")
    ] = None,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
) -> None:
    """Write a proof document: the entries, each with its inclusion proof, under one
    signed checkpoint (check it anywhere with ``strongroom audit verify-proofs``)."""
    with connect(addr, token) as client:
        doc = client.post("/v1/audit/proofs", {"indices": index})
    text = json.dumps(doc, indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        note(f"{len(doc.get('items') or [])} entries proven in {out}")


def _is_proof_document(path: Path) -> bool:
    """True when ``path`` holds a JSON proof document or a document carrying one."""
    try:
        with path.open("rb") as f:
            head = f.read(1)
            if head != b"{":
                return False
            obj = json.loads(head + f.read())
    except (OSError, ValueError):
        return False
    if not isinstance(obj, dict):
        return False
    inner = obj.get("proofs") or obj.get("receipt") or obj
    return isinstance(inner, dict) and inner.get("format") == "strongroom-proofs/v1"


def _check_report_lines(raw: bytes, doc: Any) -> None:
    """What a document carrying proofs says must be what its proven entries say.

    An access report: its last proven entry is its own ``sys:subject:report``
    entry, for this subject, whose ``lines_sha256`` is the digest of the
    report's subject, tenant and lines; every line matches its proven entry.
    An export: its bundle's SHA-256 is the one in its proven entry.
    ProofInvalid otherwise.
    """
    from strongroom.errors import ProofInvalid
    from strongroom.ledger.entry import canonical
    from strongroom.ledger.proofs import report_digest

    report = json.loads(raw)
    if not isinstance(report, dict):
        return
    if isinstance(report.get("export"), dict):
        details = json.loads(doc.items[0].entry).get("details") or {}
        digest = hashlib.sha256(canonical(report["export"])).hexdigest()
        if details.get("sha256") != digest:
            raise ProofInvalid("the export's data does not match the digest in its audit entry")
        return
    lines = report.get("lines")
    if not isinstance(lines, list):
        return
    if not doc.items:
        raise ProofInvalid("the report proves no entry")
    own = json.loads(doc.items[-1].entry)
    subject, tenant = report.get("subject"), report.get("tenant")
    if (
        own.get("event") != "sys:subject:report"
        or own.get("resource") != f"sys/subjects/{subject}/access-report"
        or own.get("tenant") != tenant
        or (own.get("details") or {}).get("lines_sha256")
        != report_digest(str(subject), str(tenant), lines)
    ):
        raise ProofInvalid("the report's lines are not the ones its own audit entry attests")
    items = doc.items[:-1]
    if len(lines) != len(items):
        raise ProofInvalid("the report has a different number of lines than proven entries")
    keys = ("event", "principal", "resource", "outcome", "time", "purpose", "reason", "request_id")
    for n, (line, item) in enumerate(zip(lines, items, strict=True)):
        entry = json.loads(item.entry)
        if line.get("index") != item.leaf_index or any(line.get(k) != entry.get(k) for k in keys):
            raise ProofInvalid(f"report line {n} does not match its proven entry {item.leaf_index}")


@app.command("verify-proofs")
def verify_proofs(
    document: Annotated[
        Path, typer.Argument(metavar="FILE", help="Proof document (audit proofs, a receipt).")
    ],
    key: Annotated[
        str | None,
        typer.Option(help="Verifier key you trust (name+id+key); default: the document's own."),
    ] = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Verify a proof document offline: the checkpoint's signature and every entry's proof.

    Exits 0 when every entry is proven; otherwise says which one fails and exits 7.
    """
    from strongroom.ledger.proofs import parse_document, verify_document

    try:
        raw = document.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {document}: {exc.strerror}") from exc
    doc = parse_document(raw)
    cp = verify_document(doc, trusted_key=key)
    _check_report_lines(raw, doc)
    summary = {
        "verified": True,
        "entries": len(doc.items),
        "origin": cp.origin,
        "tree_size": cp.size,
        "root_hash": base64.b64encode(cp.root_hash).decode(),
        "key": "trusted (--key)" if key else "the document's own (pass --key to pin it)",
    }
    Output(fmt).record(summary, title="Proofs verified")
