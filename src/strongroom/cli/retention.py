"""``strongroom retention``: retention rules, their job, legal holds, records of processing.

Example::

    $ strongroom retention rule put visits --mount clinic --prefix visits/ \\
        --action destroy-versions --after 3650d --purpose treatment
    $ strongroom retention hold place --mount clinic --prefix visits/17 --reason 'case 2026-4'
    $ strongroom retention apply
    $ strongroom retention processing-records --format json
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from strongroom.cli.client import segment
from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, FormatOpt, TokenOpt, connect
from strongroom.cli.output import Output, OutputFormat
from strongroom.errors import InvalidInput

__all__ = ["app", "parse_duration"]

app = typer.Typer(help="Retention rules, legal holds, records of processing.", no_args_is_help=True)
rule_app = typer.Typer(
    help="Retention rules (destroy versions or erase subjects).", no_args_is_help=True
)
hold_app = typer.Typer(help="Legal holds: block destruction and erasure.", no_args_is_help=True)
app.add_typer(rule_app, name="rule")
app.add_typer(hold_app, name="hold")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "y": 365 * 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdy])$")


def parse_duration(text: str) -> float:
    """``90d``, ``12h``, ``7y`` → seconds; InvalidInput otherwise."""
    m = _DURATION.match(text.strip())
    if not m:
        raise InvalidInput(f"{text!r} is not a duration like 30d, 12h or 7y")
    return float(m.group(1)) * _UNITS[m.group(2)]


@rule_app.command("put")
def rule_put(
    name: Annotated[str, typer.Argument(help="Rule name.")],
    mount: Annotated[str, typer.Option("--mount", help="The mount it applies to.")],
    action: Annotated[str, typer.Option("--action", help="destroy-versions or erase-subjects.")],
    after: Annotated[str, typer.Option("--after", help="Age after which it applies (30d, 7y).")],
    prefix: Annotated[str, typer.Option("--prefix", help="Only records under this path.")] = "",
    purpose: Annotated[str, typer.Option("--purpose", help="The purpose the data serves.")] = "",
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Create or replace a retention rule."""
    body = {
        "mount": mount,
        "action": action,
        "after_s": parse_duration(after),
        "path_prefix": prefix,
        "purpose": purpose,
    }
    with connect(addr, token) as client:
        result = client.put(f"/v1/sys/retention/rules/{segment(name)}", body)
    Output(fmt).record(result, title=f"Retention rule {name}")


@rule_app.command("list")
def rule_list(
    addr: AddrOpt = DEFAULT_ADDR, token: TokenOpt = None, fmt: FormatOpt = OutputFormat.TABLE
) -> None:
    """The tenant's retention rules."""
    with connect(addr, token) as client:
        found = client.get("/v1/sys/retention/rules")["rules"]
    cols = ["name", "mount", "path_prefix", "action", "after_s", "purpose"]
    Output(fmt).rows(found, cols, title="Retention rules", full=found)


@rule_app.command("delete")
def rule_delete(
    name: Annotated[str, typer.Argument(help="Rule name.")],
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
) -> None:
    """Remove a retention rule."""
    with connect(addr, token) as client:
        client.delete(f"/v1/sys/retention/rules/{segment(name)}")


@app.command("apply")
def apply(
    addr: AddrOpt = DEFAULT_ADDR, token: TokenOpt = None, fmt: FormatOpt = OutputFormat.TABLE
) -> None:
    """Apply every retention rule now (operator); the server also runs it on a schedule."""
    with connect(addr, token) as client:
        result: dict[str, Any] = client.post("/v1/sys/retention/apply", {})
    Output(fmt).record({k: v for k, v in result.items() if k != "rules"}, title="Retention applied")


@hold_app.command("place")
def hold_place(
    reason: Annotated[
        str, typer.Option("--reason", help="Why (a case number, not personal data).")
    ],
    subject: Annotated[str | None, typer.Option("--subject", help="Hold one subject.")] = None,
    mount: Annotated[str | None, typer.Option("--mount", help="Hold a mount's records.")] = None,
    prefix: Annotated[str, typer.Option("--prefix", help="Only records under this path.")] = "",
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Place a legal hold on a subject or on records."""
    body = {"reason": reason, "subject": subject, "mount": mount, "path_prefix": prefix}
    with connect(addr, token) as client:
        result = client.post("/v1/sys/holds", body)
    Output(fmt).record(result, title="Legal hold placed")


@hold_app.command("release")
def hold_release(
    hold_id: Annotated[str, typer.Argument(help="The hold's id (hold_…).")],
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Release a legal hold."""
    with connect(addr, token) as client:
        result = client.post(f"/v1/sys/holds/{segment(hold_id)}/release", {})
    Output(fmt).record(result, title="Legal hold released")


@hold_app.command("list")
def hold_list(
    active: Annotated[bool, typer.Option("--active", help="Only holds in force.")] = False,
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """The tenant's legal holds."""
    with connect(addr, token) as client:
        found = client.get("/v1/sys/holds", params={"active": str(active).lower()})["holds"]
    cols = ["id", "subject", "mount", "path_prefix", "reason", "released_at"]
    Output(fmt).rows(found, cols, title="Legal holds", full=found)


@app.command("processing-records")
def processing_records(
    addr: AddrOpt = DEFAULT_ADDR, token: TokenOpt = None, fmt: FormatOpt = OutputFormat.TABLE
) -> None:
    """The records of processing activities (GDPR art. 30), generated from live state."""
    with connect(addr, token) as client:
        result = client.get("/v1/sys/processing-records")
    if fmt is OutputFormat.TABLE:
        rows = [
            {**a, "purposes": ", ".join(a["purposes"]), "retention": len(a["retention"])}
            for a in result["activities"]
        ]
        cols = ["mount", "purposes", "records", "data_subjects", "retention"]
        Output(fmt).rows(rows, cols, title="Records of processing", full=result)
        return
    Output(fmt).record(result, title="Records of processing")
