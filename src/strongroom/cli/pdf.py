"""PDF pages for the people who read reports on paper: access reports and compliance reports.

A document is a list of blocks — a heading, a paragraph, a table, a
preformatted block — laid out with ReportLab's platypus on A4 landscape.
Text is escaped (platypus reads a small markup language), table cells
wrap, and the output is *invariant* (no creation time, fixed document id),
so the same report gives the same bytes. Streams are left uncompressed:
the text can be searched and diffed, and a report is small.

Example::

    >>> pdf = render_pdf("Access report", [Heading("Lines"), Table(["a"], [["1"]])])
    >>> pdf[:5], pdf.rstrip().endswith(b"%%EOF")
    (b'%PDF-', True)
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    Paragraph,
    Preformatted,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as RLTable

__all__ = [
    "Heading",
    "Para",
    "Pre",
    "Table",
    "access_report_pdf",
    "compliance_report_pdf",
    "render_pdf",
]


@dataclass(frozen=True, slots=True)
class Heading:
    """A section heading."""

    text: str


@dataclass(frozen=True, slots=True)
class Para:
    """A paragraph of plain text."""

    text: str


@dataclass(frozen=True, slots=True)
class Pre:
    """Preformatted text (a signed checkpoint, evidence as JSON)."""

    text: str


@dataclass(frozen=True, slots=True)
class Table:
    """A table with a header row; cells are plain text and wrap."""

    header: Sequence[str]
    rows: Sequence[Sequence[str]]


Block = Heading | Para | Pre | Table


def render_pdf(title: str, blocks: Sequence[Block]) -> bytes:
    """The PDF of ``title`` and ``blocks``."""
    styles = getSampleStyleSheet()
    cell = styles["BodyText"].clone("cell", fontSize=7.5, leading=9)
    story: list[Flowable] = [Paragraph(escape(title), styles["Title"])]
    width = landscape(A4)[0] - 30 * mm
    for b in blocks:
        if isinstance(b, Heading):
            story.append(Paragraph(escape(b.text), styles["Heading2"]))
        elif isinstance(b, Para):
            story.append(Paragraph(escape(b.text), styles["BodyText"]))
        elif isinstance(b, Pre):
            story.append(Preformatted(b.text, styles["Code"], maxLineLength=150))
        else:
            data = [[Paragraph(f"<b>{escape(h)}</b>", cell) for h in b.header]]
            data += [[Paragraph(escape(str(c)), cell) for c in row] for row in b.rows]
            table = RLTable(data, colWidths=[width / len(b.header)] * len(b.header), repeatRows=1)
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            story.append(table)
        story.append(Spacer(1, 3 * mm))
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=title,
        author="Strongroom",
        invariant=1,
        pageCompression=0,
    )
    doc.build(story)
    return out.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def access_report_pdf(report: Mapping[str, Any]) -> bytes:
    """An access report (``strongroom-access-report/v1``) as a PDF for the person."""
    cols = ("index", "time", "event", "principal", "resource", "purpose", "outcome")
    lines = report.get("lines", [])
    proofs = report.get("proofs") or {}
    return render_pdf(
        f"Access report {report.get('subject', '')}",
        [
            Para(
                f"Data subject {report.get('subject', '')}, tenant {report.get('tenant', '')}: "
                "every read, write, export and refusal touching this subject's records, as "
                "recorded in the tamper-evident audit log. Each line is an audit entry with an "
                "inclusion proof under the signed checkpoint below; the JSON form of this "
                "report verifies offline with `strongroom audit verify`."
            ),
            Table(
                ["Entry", "Time (UTC)", "Event", "Who", "Resource", "Purpose", "Outcome"],
                [[_cell(line.get(c)) for c in cols] for line in lines],
            ),
            Heading("Signed checkpoint"),
            Pre(str(proofs.get("checkpoint", "(no accesses, no proof)"))),
        ],
    )


def compliance_report_pdf(doc: Mapping[str, Any]) -> bytes:
    """A compliance report (the JSON the server sends) as a PDF."""
    summary = doc.get("summary", {})
    cp = doc.get("checkpoint") or {}
    blocks: list[Block] = [
        Para(
            f"Framework {doc.get('framework', '')}, generated {doc.get('generated_at', '')}: "
            + ", ".join(f"{summary.get(k, 0)} {k}" for k in ("pass", "fail", "needs-evidence"))
            + f" of {summary.get('total', 0)} controls, judged from live evidence."
        ),
        Heading("Signed checkpoint evaluated against"),
        Pre(str(cp.get("note", "none (no signed checkpoint yet)"))),
    ]
    controls = doc.get("controls", [])
    blocks.append(Heading("Controls"))
    blocks.append(
        Table(
            ["Control", "Title", "Status", "Reason"],
            [
                [
                    _cell(c.get("id")),
                    _cell(c.get("title")),
                    _cell(c.get("status")),
                    _cell(c.get("reason")),
                ]
                for c in controls
            ],
        )
    )
    for c in controls:
        blocks.append(Heading(f"{c.get('id')} — evidence"))
        blocks.append(Pre(json.dumps(c.get("evidence", {}), indent=1, sort_keys=True)))
    return render_pdf("Compliance report", blocks)
