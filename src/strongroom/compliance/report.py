"""A compliance report: assembled from judged controls, rendered to JSON, Markdown or HTML.

:func:`build_report` judges the chosen controls against one
:class:`~strongroom.compliance.facts.Facts` and returns the JSON document the
API serves. :func:`render_markdown` and :func:`render_html` take that
document, so the CLI renders what the server sent without loading anything
of the vault (this module imports nothing of it; import-linter checks).
PDF is not offered: no PDF library is in the lock file, and an HTML page
prints to PDF from any browser.

Example::

    >>> doc = {"generated_at": "2026-01-01T00:00:00Z", "framework": "all", "frameworks": [],
    ...        "checkpoint": None, "ledger": {}, "summary": {"pass": 0}, "controls": []}
    >>> render_markdown(doc).splitlines()[0]
    '# Strongroom compliance report'
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from strongroom import __version__
from strongroom.compliance.control import Control, Result, Status

if TYPE_CHECKING:
    from strongroom.compliance.facts import Facts

__all__ = [
    "FORMATS",
    "FRAMEWORK_TITLES",
    "REPORT_FORMAT",
    "build_report",
    "render",
    "render_html",
    "render_markdown",
]

REPORT_FORMAT = "strongroom-compliance/v1"
"""The ``format`` member of every report document."""

FORMATS = ("json", "md", "html")
"""What :func:`render` writes."""

FRAMEWORK_TITLES = {
    "hipaa": "HIPAA Security Rule, 45 CFR 164.312",
    "gdpr": "GDPR (Regulation (EU) 2016/679)",
    "sox": "SOX IT general controls",
    "pci": "PCI DSS v4.0",
    "euaiact": "EU AI Act (Regulation (EU) 2024/1689)",
}
"""Headings of each framework's section."""


def _time(t: float) -> str:
    return (
        dt.datetime.fromtimestamp(t, tz=dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def build_report(facts: Facts, controls: Sequence[Control], *, framework: str) -> dict[str, Any]:
    """Judge ``controls`` against ``facts``; the report document (JSON-ready)."""
    results: list[Result] = [c.assess(facts) for c in controls]
    summary = {str(s): sum(1 for r in results if r.status is s) for s in Status}
    led = facts.ledger
    cp = led.checkpoint
    return {
        "format": REPORT_FORMAT,
        "generated_at": _time(facts.now),
        "framework": framework,
        "frameworks": list(dict.fromkeys(c.framework for c in controls)),
        "server": {"version": __version__, "log_origin": led.origin},
        "checkpoint": None
        if cp is None
        else {
            "size": cp.size,
            "root_hash": cp.root_hash,
            "created_at": _time(cp.created_at),
            "note": cp.note,
            "verifier_key": led.verifier_key,
        },
        "ledger": {
            "size": led.size,
            "verified": led.verified,
            "verified_size": led.verified_size,
            "entries_rehashed": led.rehashed,
            "problems": list(led.problems),
        },
        "summary": {**summary, "total": len(results)},
        "controls": [r.to_json() for r in results],
    }


def render(doc: Mapping[str, Any], fmt: str) -> str:
    """``doc`` as ``json``, ``md`` or ``html``; ValueError for another format."""
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        return render_markdown(doc)
    if fmt == "html":
        return render_html(doc)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}")


# -- Markdown ----------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#])")


def _md(text: object) -> str:
    """Escape for a Markdown table cell or line (and keep it on one line)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _fence(body: str, lang: str = "") -> str:
    """A code block whose fence is longer than any backtick run inside it."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{body.rstrip()}\n{fence}"


def _grouped(doc: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for c in doc.get("controls", []):
        out.setdefault(str(c.get("framework", "")), []).append(c)
    return list(out.items())


def _checkpoint_line(doc: Mapping[str, Any]) -> str:
    cp = doc.get("checkpoint")
    if not cp:
        return "none (no signed checkpoint yet)"
    return f"size {cp['size']}, root hash {cp['root_hash']}, signed {cp['created_at']}"


def render_markdown(doc: Mapping[str, Any]) -> str:
    """The report as Markdown: summary, one table per framework, then each control's evidence."""
    led = doc.get("ledger", {})
    summary = doc.get("summary", {})
    lines = [
        "# Strongroom compliance report",
        "",
        f"- Generated: {_md(doc.get('generated_at'))}",
        f"- Frameworks: {_md(', '.join(doc.get('frameworks', [])) or '-')}",
        f"- Evaluated against checkpoint: {_md(_checkpoint_line(doc))}",
        f"- Ledger verified now: {'yes' if led.get('verified') else 'NO'}"
        f" ({_md(led.get('entries_rehashed', 0))} entries re-hashed)",
        "",
        "## Summary",
        "",
        "| Status | Controls |",
        "| --- | --- |",
        *(f"| {_md(k)} | {_md(v)} |" for k, v in summary.items()),
    ]
    for framework, controls in _grouped(doc):
        lines += [
            "",
            f"## {_md(FRAMEWORK_TITLES.get(framework, framework))}",
            "",
            "| Control | Title | Status | Reason |",
            "| --- | --- | --- | --- |",
            *(
                f"| {_md(c['id'])} | {_md(c['title'])} | **{_md(c['status'])}** | "
                f"{_md(c['reason'])} |"
                for c in controls
            ),
        ]
        for c in controls:
            lines += [
                "",
                f"### {_md(c['id'])}: {_md(c['title'])}",
                "",
                f"**{_md(str(c['status']).upper())}**: {_md(c['reason'])}",
                "",
                f"Requirement: {_md(c.get('requirement', ''))}",
                "",
                "Evidence:",
                "",
                _fence(json.dumps(c.get("evidence", {}), indent=2, ensure_ascii=False), "json"),
            ]
    cp = doc.get("checkpoint")
    if cp:
        lines += ["", "## Signed checkpoint", "", _fence(str(cp.get("note", "")))]
        if cp.get("verifier_key"):
            lines += ["", f"Verifier key: `{_md(cp['verifier_key'])}`"]
    return "\n".join(lines) + "\n"


# -- HTML --------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1b1b1b}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border:1px solid #ccc;padding:.4rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}
pre{background:#f7f7f7;padding:.8rem;overflow-x:auto;font-size:.85rem}
.pass{color:#0a6b2b;font-weight:bold}.fail{color:#a30d0d;font-weight:bold}
.needs-evidence{color:#8a5a00;font-weight:bold}
"""


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def _status(status: object) -> str:
    cls = str(status) if str(status) in {str(s) for s in Status} else "unknown"
    return f'<span class="{cls}">{_h(status)}</span>'


def render_html(doc: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML page (every value escaped)."""
    led = doc.get("ledger", {})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Strongroom compliance report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Strongroom compliance report</h1>",
        "<ul>",
        f"<li>Generated: {_h(doc.get('generated_at'))}</li>",
        f"<li>Frameworks: {_h(', '.join(doc.get('frameworks', [])) or '-')}</li>",
        f"<li>Evaluated against checkpoint: {_h(_checkpoint_line(doc))}</li>",
        f"<li>Ledger verified now: {'yes' if led.get('verified') else 'NO'} "
        f"({_h(led.get('entries_rehashed', 0))} entries re-hashed)</li>",
        "</ul>",
        "<h2>Summary</h2><table><tr><th>Status</th><th>Controls</th></tr>",
        *(
            f"<tr><td>{_status(k) if k != 'total' else 'total'}</td><td>{_h(v)}</td></tr>"
            for k, v in doc.get("summary", {}).items()
        ),
        "</table>",
    ]
    for framework, controls in _grouped(doc):
        parts += [
            f"<h2>{_h(FRAMEWORK_TITLES.get(framework, framework))}</h2>",
            "<table><tr><th>Control</th><th>Title</th><th>Status</th><th>Reason</th></tr>",
            *(
                f'<tr><td><a href="#{_h(c["id"])}">{_h(c["id"])}</a></td><td>{_h(c["title"])}'
                f"</td><td>{_status(c['status'])}</td><td>{_h(c['reason'])}</td></tr>"
                for c in controls
            ),
            "</table>",
        ]
        for c in controls:
            evidence = json.dumps(c.get("evidence", {}), indent=2, ensure_ascii=False)
            parts += [
                f'<h3 id="{_h(c["id"])}">{_h(c["id"])}: {_h(c["title"])}</h3>',
                f"<p>{_status(c['status'])}: {_h(c['reason'])}</p>",
                f"<p>Requirement: {_h(c.get('requirement', ''))}</p>",
                f"<pre>{_h(evidence)}</pre>",
            ]
    cp = doc.get("checkpoint")
    if cp:
        parts += ["<h2>Signed checkpoint</h2>", f"<pre>{_h(cp.get('note', ''))}</pre>"]
        if cp.get("verifier_key"):
            parts.append(f"<p>Verifier key: <code>{_h(cp['verifier_key'])}</code></p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
