"""``strongroom monitor``: security alerts, acknowledging them, and the replay harness.

Example::

    $ strongroom monitor alerts                    # open alerts, oldest first
    $ strongroom monitor alerts --all --kind brute_force --format json
    $ strongroom monitor ack 1234 --disposition false_positive
    $ strongroom monitor replay --days 14 --principals 150   # offline, no server
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

import typer

from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, FormatOpt, TokenOpt, connect
from strongroom.cli.output import Output, OutputFormat, err_console

__all__ = ["app"]

app = typer.Typer(help="Security alerts from the audit log monitor.", no_args_is_help=True)


class Status(enum.StrEnum):
    """Which alerts to list."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ALL = "all"


class Disposition(enum.StrEnum):
    """How an alert was dealt with."""

    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"
    ACCEPTED_RISK = "accepted_risk"
    INVESTIGATING = "investigating"


def _row(a: dict[str, Any]) -> dict[str, Any]:
    ack = a.get("acknowledged")
    return {
        "id": a["id"],
        "time": a["time"],
        "kind": a["kind"],
        "severity": a["severity"],
        "subject": a["subject"],
        "summary": a["summary"],
        "status": f"{ack['disposition']} by {ack['by']}" if ack else "open",
    }


@app.command("alerts")
def alerts(
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    status: Annotated[Status, typer.Option(help="open, acknowledged or all.")] = Status.OPEN,
    show_all: Annotated[bool, typer.Option("--all", help="Same as --status all.")] = False,
    kind: Annotated[
        str | None,
        typer.Option(help="brute_force, enumeration, exfiltration, unusual_access or anomaly."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Most alerts to print.")] = 100,
) -> None:
    """List alerts (operators: needs read on sys/monitor/alerts)."""
    params: dict[str, Any] = {"status": str(Status.ALL if show_all else status), "kind": kind}
    with connect(addr, token) as client:
        found = client.get_pages("/v1/sys/monitor/alerts", "alerts", limit=limit, params=params)
    Output(fmt).rows(
        [_row(a) for a in found],
        ["id", "time", "kind", "severity", "subject", "summary", "status"],
        title="Security alerts",
        full=found,
    )


@app.command("show")
def show(
    alert_id: Annotated[int, typer.Argument(min=0, help="The alert's id (its audit index).")],
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Show one alert with its evidence."""
    with connect(addr, token) as client:
        found = client.get(f"/v1/sys/monitor/alerts/{alert_id}")
    Output(fmt).record(found, title=f"Alert {alert_id}")


@app.command("ack")
def ack(
    alert_id: Annotated[int, typer.Argument(min=0, help="The alert's id (its audit index).")],
    addr: AddrOpt = DEFAULT_ADDR,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    disposition: Annotated[
        Disposition, typer.Option(help="How it was dealt with.")
    ] = Disposition.RESOLVED,
) -> None:
    """Acknowledge an alert (recorded in the audit log; needs update on sys/monitor/alerts)."""
    with connect(addr, token) as client:
        found = client.post(
            f"/v1/sys/monitor/alerts/{alert_id}/ack", json={"disposition": str(disposition)}
        )
    Output(fmt).record(_row(found), title=f"Alert {alert_id} acknowledged")


@app.command("replay")
def replay(
    days: Annotated[int, typer.Option(min=2, max=90, help="Simulated days.")] = 14,
    principals: Annotated[int, typer.Option(min=5, max=5000, help="Principals.")] = 150,
    attacks: Annotated[int, typer.Option(min=0, max=200, help="Attacks of each kind.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same traffic).")] = 2,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Replay simulated traffic with labelled attacks through the detectors (offline)."""
    # Imported here: scikit-learn takes a moment to load, and only this command needs it.
    from strongroom.monitor.replay import replay as run
    from strongroom.monitor.traffic import TrafficConfig

    warmup = min(5, days - 1)
    cfg = TrafficConfig(
        days=days, principals=principals, attacks_per_kind=attacks, warmup_days=warmup, seed=seed
    )
    started = dt.datetime.now(tz=dt.UTC)
    with err_console().status("replaying simulated traffic through the detectors…"):
        report = run(cfg)
    result = report.as_dict()
    if fmt is not OutputFormat.TABLE:
        Output(fmt).record(result)
        return
    rows = [{"kind": k, **v} for k, v in dict(result["kinds"]).items()]  # type: ignore[call-overload]
    Output(fmt).rows(
        rows,
        ["kind", "attacks", "detected", "recall", "alerts", "precision", "ttd_median_s"],
        title=(
            f"Replay: {days} days, {principals} principals, "
            f"{result['normal_requests']} normal requests"
        ),
        full=result,
    )
    took = (dt.datetime.now(tz=dt.UTC) - started).total_seconds()
    err_console().print(
        f"false alerts: {result['false_alerts']} "
        f"({result['false_per_10k_normal']} per 10,000 normal requests); {took:.0f} s"
    )
