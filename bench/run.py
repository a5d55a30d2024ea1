"""Entry point: ``python -m bench.run [--quick] [--only NAME ...]`` (``make bench``).

Runs the benchmarks, prints progress to stderr and, at the end, one JSON
document with every result to stdout, then rewrites ``docs/performance.md``
from that document. Goals are targets: a missed goal is reported
(``"goal_met": false``) and never fails the run. A benchmark that crashes is
reported with its error, the others still run, and the exit status is 1.

Benchmarks (the JSON keys): ``envelope_seal_open_1k``, ``http_durable_writes``,
``http_reads``, ``rewrap_1m``, ``audit_appends``,
``audit_proofs_1m``, ``audit_verify_1m``, ``audit_overhead``,
``backup_vs_restic_borg``, ``redaction_vs_presidio``, ``observability_overhead``,
``monitor_replay``, ``subject_erasure_10k``, ``subject_sealing_overhead``.

Example::

    >>> parse_args(["--quick", "--only", "http_reads"]).only
    ['http_reads']
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import (
    audit,
    audit_verify,
    backup,
    envelope,
    monitor,
    observability,
    reads,
    redaction,
    report,
    rewrap,
    subjects,
    writes,
)
from bench.machine import CPUPlan, cpu_plan, machine_info

__all__ = ["BENCHMARKS", "main", "parse_args"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOCS = REPO_ROOT / "docs" / "performance.md"

BENCHMARKS: dict[str, Callable[[bool, CPUPlan], dict[str, Any]]] = {
    envelope.NAME: lambda quick, _plan: envelope.run(quick=quick),
    writes.NAME: lambda quick, plan: writes.run(quick=quick, plan=plan),
    reads.NAME: lambda quick, plan: reads.run(quick=quick, plan=plan),
    rewrap.NAME: lambda quick, _plan: rewrap.run(quick=quick),
    audit.NAME_APPENDS: lambda quick, _plan: audit.run_appends(quick=quick),
    audit.NAME_PROOFS: lambda quick, _plan: audit.run_proofs(quick=quick),
    audit_verify.NAME: lambda quick, _plan: audit_verify.run(quick=quick),
    audit.NAME_OVERHEAD: lambda quick, _plan: audit.run_overhead(quick=quick),
    redaction.NAME: lambda quick, _plan: redaction.run(quick=quick),
    observability.NAME: lambda quick, _plan: observability.run(quick=quick),
    monitor.NAME: lambda quick, _plan: monitor.run(quick=quick),
    backup.NAME: lambda quick, _plan: backup.run(quick=quick),
    subjects.NAME_ERASURE: lambda quick, _plan: subjects.run_erasure(quick=quick),
    subjects.NAME_SEALING: lambda quick, _plan: subjects.run_sealing(quick=quick),
}
"""Every benchmark by name, in the order a full run executes them."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Strongroom benchmarks: JSON on stdout, progress on stderr.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run (~1 minute): short and small"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=DEFAULT_DOCS,
        help="where to write the Markdown report (default: docs/performance.md)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite the Markdown report")
    return parser.parse_args(argv)


def _command(argv: list[str]) -> str:
    """The command line that reproduces this run, from the repository root."""
    exe = Path(sys.executable)
    try:
        shown = str(exe.relative_to(REPO_ROOT))
    except ValueError:
        shown = str(exe)
    return shlex.join([shown, "-m", "bench.run", *argv])


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; return the exit status."""
    args_list = sys.argv[1:] if argv is None else argv
    args = parse_args(args_list)
    names = args.only or list(BENCHMARKS)
    plan = cpu_plan()
    mode = "quick" if args.quick else "full"
    started = time.perf_counter()
    doc: dict[str, Any] = {
        "suite": "strongroom-bench",
        "schema_version": 1,
        "strongroom_version": _strongroom_version(),
        "mode": mode,
        "command": _command(args_list),
        "machine": machine_info(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "cpu_pinning": plan.to_dict(),
        "results": {},
    }
    print(f"strongroom bench ({mode}): {', '.join(names)}", file=sys.stderr)
    print(f"  {plan.note}", file=sys.stderr)
    failed = False
    for name in names:
        print(f"[{name}]", file=sys.stderr)
        t0 = time.perf_counter()
        try:
            result = BENCHMARKS[name](args.quick, plan)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            result = {"error": f"{type(exc).__name__}: {exc}", "goal_met": False}
            failed = True
        result["elapsed_s"] = round(time.perf_counter() - t0, 1)
        doc["results"][name] = result
        print(f"  done in {result['elapsed_s']} s, goal met: {result['goal_met']}", file=sys.stderr)
    doc["elapsed_s"] = round(time.perf_counter() - started, 1)
    doc["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    doc["goals_met"] = {name: r["goal_met"] for name, r in doc["results"].items()}
    if not args.no_docs:
        report.write(doc, args.docs)
        print(f"wrote {args.docs}", file=sys.stderr)
    json.dump(doc, sys.stdout, indent=2)
    sys.stdout.write("\n")
    sys.stdout.flush()
    return 1 if failed else 0


def _strongroom_version() -> str:
    """The version of the package under test."""
    from strongroom import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
