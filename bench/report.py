"""Render the benchmark JSON document as ``docs/performance.md``.

Everything in the page comes from the document of the run that wrote it: no
number is typed in by hand. Re-run ``make bench`` to refresh it.

Example::

    >>> fmt(1234.5678)
    '1,235'
    >>> fmt(0.12345)
    '0.123'
    >>> yes_no(True)
    'yes'
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["fmt", "render", "write", "yes_no"]


def fmt(value: Any, unit: str = "") -> str:
    """Format a number for a table: thousands separators from 100 up, else 3 significant places."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, int | float):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
        return f"{text} {unit}".rstrip()
    return str(value)


def yes_no(flag: Any) -> str:
    """``yes``/``no`` for a goal flag (``n/a`` when missing)."""
    if flag is None:
        return "n/a"
    return "yes" if flag else "no"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _summary(results: dict[str, Any]) -> list[str]:
    """One line per benchmark: headline, peer, ratio, goal."""
    rows: list[list[str]] = []
    env = results.get("envelope_seal_open_1k")
    if env and "error" not in env:
        rows.append(
            [
                "`envelope_seal_open_1k`",
                fmt(env["ours"]["ops_per_second"], "seal+open/s"),
                f"raw AES-256-GCM {fmt(env['raw_aes256gcm']['ops_per_second'], '/s')}; "
                f"minimal envelope {fmt(env['minimal_envelope']['ops_per_second'], '/s')}",
                f"{fmt(env['ratio'])} "
                f"(vs minimal envelope {fmt(env['ratio_vs_minimal_envelope'])})",
                env["goal"],
                yes_no(env["goal_met"]),
            ]
        )
    wr = results.get("http_durable_writes")
    if wr and "error" not in wr:
        rows.append(
            [
                "`http_durable_writes`",
                fmt(wr["group_commit"]["writes_per_second"], "writes/s")
                + f" (p99 {fmt(wr['group_commit'].get('p99_ms'), 'ms')})",
                "one commit per write "
                + fmt(wr["one_commit_per_write"]["writes_per_second"], "/s"),
                fmt(wr["ratio"]),
                wr["goal"],
                yes_no(wr["goal_met"]),
            ]
        )
    rd = results.get("http_reads")
    if rd and "error" not in rd:
        fixed = rd["fixed_rate"]
        rows.append(
            [
                "`http_reads`",
                f"{fmt(rd['max']['reads_per_second'], 'reads/s')}; at "
                f"{fmt(fixed['offered_per_second'])}/s: p99 {fmt(fixed.get('p99_ms'), 'ms')}",
                f"`GET /livez` {fmt(rd['peer_livez']['requests_per_second'], 'req/s')}",
                fmt(rd["ratio_to_livez"]),
                rd["goal"],
                yes_no(rd["goal_met"]),
            ]
        )
    rw = results.get("rewrap_1m")
    if rw and "error" not in rw:
        rows.append(
            [
                "`rewrap_1m`",
                f"{fmt(rw['seconds'], 's')} for {fmt(rw['deks'])} DEKs "
                f"({fmt(rw['dek_per_second'], 'DEK/s')})",
                f"crypto only {fmt(rw['crypto_only_seconds'], 's')}; "
                f"bare sqlite3 {fmt(rw['bare_sqlite3']['seconds'], 's')}",
                f"{fmt(rw['ratio_to_crypto_only'])} "
                f"(vs bare sqlite3 {fmt(rw['ratio_to_bare_sqlite3'])})",
                rw["goal"],
                yes_no(rw["goal_met"]),
            ]
        )
    ap = results.get("audit_appends")
    if ap and "error" not in ap:
        rows.append(
            [
                "`audit_appends`",
                fmt(ap["appends_per_second"], "appends/s")
                + f" (p99 {fmt(ap['group_commit'].get('p99_ms'), 'ms')})",
                "one commit per append "
                + fmt(ap["one_commit_per_append"]["appends_per_second"], "/s")
                + f"; `fdatasync` {fmt(ap['disk_fdatasync_per_second'], '/s')}; "
                f"SHA-256 {fmt(ap['sha256_per_second'], '/s')}",
                f"{fmt(ap['ratio'])} (vs fdatasync {fmt(ap['ratio_to_fdatasync'])}, "
                f"vs SHA-256 {fmt(ap['ratio_to_sha256'])})",
                ap["goal"],
                yes_no(ap["goal_met"]),
            ]
        )
    pr = results.get("audit_proofs_1m")
    if pr and "error" not in pr:
        mem, raw = pr["memory"], pr["bare_sqlite3"]
        rows.append(
            [
                "`audit_proofs_1m`",
                f"median inclusion {fmt(pr['inclusion_median_us'], 'µs')}, consistency "
                f"{fmt(pr['consistency_median_us'], 'µs')} ({fmt(pr['entries'])} entries)",
                f"bare sqlite3 {fmt(raw['inclusion']['median_us'])} / "
                f"{fmt(raw['consistency']['median_us'], 'µs')}; in memory "
                f"{fmt(mem['inclusion']['median_us'])} / "
                f"{fmt(mem['consistency']['median_us'], 'µs')}",
                f"{fmt(pr['ratio_inclusion_to_memory'])} / {fmt(pr['ratio_consistency_to_memory'])}"
                " (vs memory)",
                pr["goal"],
                yes_no(pr["goal_met"]),
            ]
        )
    av = results.get("audit_verify_1m")
    if av and "error" not in av:
        rows.append(
            [
                "`audit_verify_1m`",
                f"{fmt(av['seconds'], 's')} for {fmt(av['entries'])} entries "
                f"({fmt(av['entries_per_second'], 'entries/s')})",
                f"file read + bare SHA-256 {fmt(av['limit']['seconds'], 's')}",
                fmt(av["ratio_to_limit"]),
                av["goal"],
                yes_no(av["goal_met"]),
            ]
        )
    ov = results.get("audit_overhead")
    if ov and "error" not in ov:
        put, get = ov["put"], ov["get"]
        rows.append(
            [
                "`audit_overhead`",
                f"kv.put {fmt(put['audited']['ops_per_second'], '/s')}, "
                f"kv.get {fmt(get['audited']['ops_per_second'], '/s')} audited",
                f"audit hooks stripped: kv.put {fmt(put['baseline']['ops_per_second'], '/s')}, "
                f"kv.get {fmt(get['baseline']['ops_per_second'], '/s')}",
                f"overhead kv.put {fmt(put['overhead_pct'])}%, kv.get {fmt(get['overhead_pct'])}%",
                ov["goal"],
                yes_no(ov["goal_met"]),
            ]
        )
    bk = results.get("backup_vs_restic_borg")
    if bk and "error" not in bk:
        tools, ratios = bk["tools"], bk["ratios"]
        sr = tools.get("strongroom", {})

        def peer(name: str) -> str:
            t = tools.get(name, {})
            if "error" in t:
                return f"{name}: failed ({t['error'][:80]})"
            return (
                f"{name} {fmt(_dig(t, 'first_backup', 'mb_per_second'), 'MB/s')}, "
                f"+{fmt(_mb(t.get('bytes_added_by_second_backup')), 'MB')}, "
                f"check {fmt(_dig(t, 'verify', 'seconds'), 's')}"
            )

        rows.append(
            [
                "`backup_vs_restic_borg`",
                f"first backup {fmt(_dig(sr, 'first_backup', 'mb_per_second'), 'MB/s')}; "
                f"+{fmt(_mb(sr.get('bytes_added_by_second_backup')), 'MB')} after a 1% change; "
                f"verify --read-data {fmt(_dig(sr, 'verify', 'seconds'), 's')}",
                f"{peer('restic')}; {peer('borg')}",
                f"MB/s {fmt(ratios['first_backup_throughput_vs_restic']['ratio'])} (restic), "
                f"{fmt(ratios['first_backup_throughput_vs_borg']['ratio'])} (borg); bytes added "
                f"{fmt(ratios['incremental_bytes_added_vs_restic']['ratio'])}; verify time "
                f"{fmt(ratios['verify_seconds_vs_restic_check_read_data']['ratio'])}",
                bk["goal"],
                yes_no(bk["goal_met"]),
            ]
        )
    rd = results.get("redaction_vs_presidio")
    if rd and "error" not in rd:
        sr, pr = rd["strongroom"], rd.get("presidio", {})
        low = min(sr["recall_by_kind"].values()) if sr["recall_by_kind"] else None
        peer_text = (
            f"Presidio {pr['version']} (patterns, blank spaCy): "
            f"{fmt(pr['lines_per_second'], 'lines/s')}, precision {fmt(pr['precision'])}"
            if pr.get("version")
            else f"Presidio unavailable: {pr.get('error', '')[:80]}"
        )
        rows.append(
            [
                "`redaction_vs_presidio`",
                f"{fmt(sr['lines_per_second'], 'lines/s')}; lowest recall {fmt(low)}, "
                f"precision {fmt(sr['precision'])}",
                peer_text,
                f"throughput {fmt(rd.get('throughput_ratio'))}",
                rd["goal"],
                yes_no(rd["goal_met"]),
            ]
        )
    mo = results.get("monitor_replay")
    if mo and "error" not in mo:
        lowest = min(k["recall"] for k in mo["kinds"].values())
        rows.append(
            [
                "`monitor_replay`",
                f"lowest recall {fmt(lowest)} over {len(mo['kinds'])} kinds; "
                f"{fmt(mo['false_per_10k_normal'])} false alerts per 10,000 normal requests "
                f"({fmt(mo['normal_requests'])} requests, {mo['days']} days)",
                f"audit log appends {fmt(mo['audit_appends_per_second'], '/s')}",
                f"monitor throughput {fmt(mo['throughput_vs_append_rate'])} of the append rate",
                mo["goal"],
                yes_no(mo["goal_met"]),
            ]
        )
    ob = results.get("observability_overhead")
    if ob and "error" not in ob:
        rows.append(
            [
                "`observability_overhead`",
                f"{fmt(ob['full_reads_per_second'], 'reads per CPU-second')} with metrics, "
                "access log, redaction and rate limits (in process, ASGI)",
                f"without them {fmt(ob['bare_reads_per_second'], 'reads per CPU-second')}",
                f"overhead {fmt(ob['overhead_pct'])}% median of "
                f"{ob['rounds']} paired rounds ({_range(ob.get('paired_overhead_pct_range'))}; "
                f"{fmt(ob['per_request_cost_us'], 'µs')} per request)",
                ob["goal"],
                yes_no(ob["goal_met"]),
            ]
        )
    se = results.get("subject_erasure_10k")
    if se and "error" not in se:
        rows.append(
            [
                "`subject_erasure_10k`",
                f"erase {fmt(_ms(se['erase_seconds']), 'ms')} median, "
                f"{fmt(_ms(se['erase_max_seconds']), 'ms')} max, for "
                f"{fmt(se['records_per_subject'])} records (receipt included)",
                f"kv.delete_metadata of every record {fmt(se['delete_all_seconds'], 's')}; "
                f"one durable kv.put {fmt(se['single_put_ms']['p50'], 'ms')}",
                f"delete all / erase {fmt(se['ratio_delete_all_to_erase'])}; "
                f"erase / one put {fmt(se['ratio_erase_to_single_put'])}",
                se["goal"],
                yes_no(se["goal_met"]),
            ]
        )
    so = results.get("subject_sealing_overhead")
    if so and "error" not in so:
        rows.append(
            [
                "`subject_sealing_overhead`",
                f"kv.put with subject= {fmt(so['with_subject']['writes_per_second'], 'writes/s')}",
                f"without subject= {fmt(so['without_subject']['writes_per_second'], 'writes/s')}",
                f"overhead {fmt(so['overhead_pct'])}% median of {so['rounds']} paired rounds "
                f"({_range(so.get('overhead_pct_range'))}; "
                f"+{fmt(so['cpu_us_per_write_extra'], 'µs')} CPU per write)",
                so["goal"],
                yes_no(so["goal_met"]),
            ]
        )
    for name, res in results.items():
        if "error" in res:
            rows.append([f"`{name}`", "failed: " + res["error"], "", "", "", "no"])
    return _table(
        ["benchmark", "Strongroom", "peer / limit (same run)", "ratio", "goal", "met"], rows
    )


def _envelope(r: dict[str, Any]) -> list[str]:
    """Details of ``envelope_seal_open_1k``."""
    out = ["## `envelope_seal_open_1k`", "", r["description"], ""]
    out += _table(
        ["contender", "median ops/s", "repetitions (ops/s)"],
        [
            [
                name,
                fmt(r[name]["ops_per_second"]),
                ", ".join(fmt(x) for x in r[name]["repetitions_ops_per_second"]),
            ]
            for name in ("ours", "raw_aes256gcm", "minimal_envelope")
        ],
    )
    floor = r.get("minimal_vs_raw")
    out += [
        "",
        f"`ratio` = ours / raw = **{fmt(r['ratio'])}**; `ratio_vs_minimal_envelope` = "
        f"**{fmt(r['ratio_vs_minimal_envelope'])}** (medians of per-round ratios).",
    ]
    if floor is not None:
        out += [
            "",
            f"The minimal hand-written envelope itself reaches {fmt(floor)} of raw AES-256-GCM "
            "on this machine: an envelope pays a per-record key schedule and two extra AEAD "
            "calls (wrap, unwrap) that a single cached-key AEAD does not, so an envelope built "
            "from the same calls cannot be expected to exceed a ratio of about "
            f"{fmt(floor)} against raw here; `ratio_vs_minimal_envelope` is the fair measure "
            "of Strongroom's own overhead.",
        ]
    return [*out, ""]


def _latency_cols(d: dict[str, Any]) -> list[str]:
    """p50/p99/p99.9 cells."""
    return [fmt(d.get("p50_ms")), fmt(d.get("p99_ms")), fmt(d.get("p999_ms"))]


def _writes(r: dict[str, Any]) -> list[str]:
    """Details of ``http_durable_writes``."""
    out = ["## `http_durable_writes`", "", r["description"], ""]
    rows = []
    for key in ("group_commit", "one_commit_per_write"):
        d = r[key]
        rows.append(
            [
                f"max_batch={d['group_commit_max_batch']}",
                fmt(d["writes_per_second"]),
                *_latency_cols(d),
                json.dumps(d["errors"]) if d["errors"] else "0",
                f"{fmt(d['rows_committed'])} ({yes_no(d['all_acknowledged_writes_durable'])})",
                fmt(d["server_cpu_utilisation"]),
                fmt(d["loadgen_cpu_utilisation"]),
            ]
        )
    out += _table(
        [
            "server",
            "writes/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "errors",
            "rows in DB (all acks durable)",
            "server CPU",
            "loadgen CPU",
        ],
        rows,
    )
    out += [
        "",
        "Per-round rates (alternating rounds): group commit "
        + ", ".join(fmt(x) for x in r["group_commit"].get("round_rates", []))
        + "; one commit per write "
        + ", ".join(fmt(x) for x in r["one_commit_per_write"].get("round_rates", []))
        + ".",
        "",
        f"`ratio` = median over rounds of group commit / one commit per write = "
        f"**{fmt(r['ratio'])}**. "
        f"For context, this disk did {fmt(r['disk_fdatasync_per_second'])} bare 4 KiB "
        "append+`fdatasync` cycles per second in the same run: the ceiling of one durable "
        "commit per write if storage were the only cost. CPU columns are the fraction of one "
        "core used (server: all its threads).",
        "",
    ]
    single = r["one_commit_per_write"]
    rate, cpu, fsyncs = (
        single["writes_per_second"],
        single["server_cpu_utilisation"],
        r["disk_fdatasync_per_second"],
    )
    if rate and cpu and fsyncs:
        cpu_ms, sync_ms = 1e3 * cpu / rate, 1e3 / fsyncs
        bound = "CPU-bound, not disk-bound" if cpu_ms > sync_ms else "disk-bound"
        out += [
            f"The one-commit-per-write server spent about {fmt(cpu_ms)} ms of CPU per write "
            f"against {fmt(sync_ms)} ms per bare `fdatasync`: it is {bound}. Group commit "
            "saves only the per-commit share of that cost, so the ratio is bounded by how "
            "much of a write is commit; a ratio of 10 would need "
            f"{fmt(10 * rate)} writes/s from the group-commit server.",
            "",
        ]
    return out


def _reads(r: dict[str, Any]) -> list[str]:
    """Details of ``http_reads``."""
    out = ["## `http_reads`", "", r["description"], ""]
    mx, peer, fixed = r["max"], r["peer_livez"], r["fixed_rate"]
    half = r.get("fixed_rate_half_max")
    out += _table(
        ["phase", "rate /s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "server CPU", "loadgen CPU"],
        [
            [
                "`GET /livez` flat out (peer)",
                fmt(peer["requests_per_second"]),
                *_latency_cols(peer),
                json.dumps(peer["errors"]) if peer["errors"] else "0",
                fmt(peer["server_cpu_utilisation"]),
                fmt(peer["loadgen_cpu_utilisation"]),
            ],
            [
                "reads flat out",
                fmt(mx["reads_per_second"]),
                *_latency_cols(mx),
                json.dumps(mx["errors"]) if mx["errors"] else "0",
                fmt(mx["server_cpu_utilisation"]),
                fmt(mx["loadgen_cpu_utilisation"]),
            ],
            *(
                [
                    f"reads at {fmt(d['offered_per_second'])}/s offered (open loop{note})",
                    f"{fmt(d['achieved_per_second'])} achieved",
                    *_latency_cols(d),
                    json.dumps(d["errors"]) if d["errors"] else "0",
                    fmt(d["server_cpu_utilisation"]),
                    fmt(d["loadgen_cpu_utilisation"]),
                ]
                for d, note in ((fixed, ", goal"), (r.get("fixed_rate_half_max"), ", half max"))
                if d
            ),
        ],
    )
    out += [
        "",
        "Per-round rates (alternating rounds): reads "
        + ", ".join(fmt(x) for x in mx.get("round_rates", []))
        + "; `GET /livez` "
        + ", ".join(fmt(x) for x in peer.get("round_rates", []))
        + ".",
        "",
        "`ratio_to_livez` = median over rounds of reads / `GET /livez` = "
        f"**{fmt(r['ratio_to_livez'])}**. "
        "Flat-out latencies are closed-loop (64 requests always in flight) and mostly queueing. "
        "Fixed-rate latencies are measured from each request's *scheduled* send time. How "
        "late requests actually left the client (timer granularity, plus waiting for a free "
        "connection when all 64 are busy because the server fell behind) was p50 "
        f"{fmt(fixed.get('send_lag_p50_ms'))} ms, p99 {fmt(fixed.get('send_lag_p99_ms'))} ms "
        f"at {fmt(fixed['offered_per_second'])}/s"
        + (
            f" and p50 {fmt(half.get('send_lag_p50_ms'))} ms, "
            f"p99 {fmt(half.get('send_lag_p99_ms'))} ms at half max"
            if half
            else ""
        )
        + "; that wait is part of the latencies above, as it would be for a real client.",
        "",
    ]
    goal = r.get("goal_reads_per_second")
    if goal and peer["requests_per_second"]:
        side = "below" if peer["requests_per_second"] < goal else "above"
        out += [
            f"`GET /livez`, which does no vault work at all, reached "
            f"{fmt(peer['requests_per_second'])} req/s on the server's core: {side} the "
            f"{fmt(goal)} reads/s goal. The gap between that rate and the read rate is the "
            "vault's own work per read (authentication, policy, queries, decryption).",
            "",
        ]
    return out


def _rewrap(r: dict[str, Any]) -> list[str]:
    """Details of ``rewrap_1m``."""
    out = ["## `rewrap_1m`", "", r["description"], ""]
    rows = []
    for key, d in r["by_batch_size"].items():
        rows.append(
            [
                key,
                fmt(d["seconds"]),
                fmt(d["dek_per_second"]),
                fmt(d["batches"]),
                fmt(d["median_batch_s"]),
                fmt(d["ratio_to_crypto_only"]),
                fmt(d["ratio_to_bare_sqlite3"]),
                fmt(d["remaining"]),
                yes_no(d["goal_met"]),
            ]
        )
    out += _table(
        [
            "batch_size",
            "seconds",
            "DEK/s",
            "batches",
            "median batch s",
            "ratio to crypto only",
            "ratio to bare sqlite3",
            "remaining",
            "goal met",
        ],
        rows,
    )
    out += [
        "",
        f"Crypto only: {fmt(r['crypto_only_seconds'])} s for {fmt(r['deks'])} `KEK.rewrap` calls "
        f"in memory ({fmt(r['crypto_only_dek_per_second'])} DEK/s); the batched "
        f"`envelope.rewrap_many` took {fmt(r['crypto_only_rewrap_many_seconds'])} s. "
        "`ratio_to_crypto_only` = crypto-only time / rewrap time (1.0 would mean storage is free).",
        "",
        f"Storage floor: the same rewrap done once more with bare `sqlite3` on the same file, "
        f"schema, PRAGMAs and batch size ({fmt(r['bare_sqlite3']['batch_size'])}), one "
        "transaction per batch, same `KEK.rewrap` calls, no SQLAlchemy or service layer: "
        f"{fmt(r['bare_sqlite3']['seconds'])} s ({fmt(r['bare_sqlite3']['dek_per_second'])} "
        f"DEK/s; {fmt(r['bare_sqlite3']['verified_on_new_version'])} rows verified on the new "
        "version). `ratio_to_bare_sqlite3` = floor time / rewrap time.",
        "",
        f"After both runs `vault.keys.status` shows {fmt(r['records_remaining_on_version_1'])} "
        f"records on KEK version 1 and {fmt(r['records_remaining_on_older_versions'])} on any "
        f"older version; the {fmt(r['canary_records'])} canary records written through "
        f"`vault.kv.put` read back correctly: {yes_no(r['canaries_read_back'])}. "
        f"Setup (bulk insert, not timed) took {fmt(r['setup_insert_seconds'])} s.",
        "",
    ]
    return out


def _rate_cols(d: dict[str, Any], key: str) -> list[str]:
    """Rate, p50/p99 latency and CPU cells of an in-process contender."""
    return [
        fmt(d[key]),
        fmt(d.get("p50_ms")),
        fmt(d.get("p99_ms")),
        fmt(d.get("process_cpu_utilisation")),
        fmt(d.get("cpu_us_per_op")),
        ", ".join(fmt(x) for x in d.get("round_rates", [])),
    ]


def _audit_appends(r: dict[str, Any]) -> list[str]:
    """Details of ``audit_appends``."""
    out = ["## `audit_appends`", "", r["description"], ""]
    rows = []
    for key in ("group_commit", "one_commit_per_append"):
        d = r[key]
        rows.append(
            [
                key.replace("_", " "),
                *_rate_cols(d, "appends_per_second"),
                fmt(d.get("writer_thread_cpu_utilisation")),
                fmt(d.get("writer_thread_cpu_us_per_op")),
                fmt(d["transactions"]),
                fmt(d["mean_appends_per_transaction"]),
                yes_no(d["all_acknowledged_appends_durable"]),
            ]
        )
    out += _table(
        [
            "vault",
            "appends/s",
            "p50 ms",
            "p99 ms",
            "process CPU",
            "CPU µs/append",
            "per-round appends/s",
            "writer thread CPU",
            "writer CPU µs/append",
            "transactions",
            "appends/transaction",
            "all acks durable",
        ],
        rows,
    )
    out += [
        "",
        f"`ratio` = median over rounds of group commit / one commit per append = "
        f"**{fmt(r['ratio'])}**. In the same run this disk did "
        f"{fmt(r['disk_fdatasync_per_second'])} bare 4 KiB append+`fdatasync` cycles per "
        f"second. `ratio_to_fdatasync` = appends/s / fdatasync/s = "
        f"{fmt(r['ratio_to_fdatasync'])}: group commit lets it exceed 1, as many appends "
        "share one sync; below 1 the appends are bound by CPU, not by the disk (the "
        f"group-commit vault used {fmt(r['group_commit']['transactions'])} transactions of "
        f"{fmt(r['group_commit']['mean_appends_per_transaction'])} appends on average). One "
        f"thread did {fmt(r['sha256_per_second'])} bare SHA-256 calls per second on "
        f"{fmt(r['entry_bytes_mean'])}-byte entries (`ratio_to_sha256` = "
        f"{fmt(r['ratio_to_sha256'])}; an append costs about two SHA-256 calls, the leaf "
        "and on average one interior node). CPU columns are fractions of one core: the "
        "whole process (all threads), and the single group-commit writer thread, which runs "
        "every append (canonical entry, hashing, inserts) and every commit; a writer thread "
        "near 1.0 is the bottleneck.",
        "",
        f"Context, not measured here: {r['context_not_measured']}.",
        "",
    ]
    return out


def _audit_proofs(r: dict[str, Any]) -> list[str]:
    """Details of ``audit_proofs_1m``."""
    out = ["## `audit_proofs_1m`", "", r["description"], ""]
    rows = []
    labels = {
        "sqlite": "SQLite via `AuditRepository`",
        "bare_sqlite3": "bare sqlite3, primary-key look-ups",
        "memory": "`MemoryNodeStore`",
    }
    for key, label in labels.items():
        d = r[key]
        rows.append(
            [
                label,
                fmt(d["pairs_timed"]),
                fmt(d["inclusion"]["median_us"]),
                fmt(d["inclusion"]["p99_us"]),
                fmt(d["consistency"]["median_us"]),
                fmt(d["consistency"]["p99_us"]),
                fmt(d["mean_inclusion_proof_length"]),
            ]
        )
    out += _table(
        [
            "node store",
            "pairs timed (each kind)",
            "inclusion median µs",
            "inclusion p99 µs",
            "consistency median µs",
            "consistency p99 µs",
            "mean proof length",
        ],
        rows,
    )
    out += [
        "",
        f"Ratios (memory / SQLite, medians): inclusion {fmt(r['ratio_inclusion_to_memory'])}, "
        f"consistency {fmt(r['ratio_consistency_to_memory'])}; bare sqlite3 / SQLite: "
        f"inclusion {fmt(r['ratio_inclusion_to_bare_sqlite3'])}, consistency "
        f"{fmt(r['ratio_consistency_to_bare_sqlite3'])}. "
        f"{fmt(r['proofs_verified'])} proofs verified against `root_at` "
        f"(all: {yes_no(r['all_proofs_verified'])}). The {fmt(r['entries'])}-entry ledger "
        f"({fmt(r['database_mib'])} MiB) took {fmt(r['build_seconds'])} s to build (not timed).",
        "",
        "SQLite's plan for each query `AuditRepository.get_nodes` ran for one proof:",
        "",
        *[f"* `{plan}`" for plan in r.get("repository_query_plans", [])],
        "",
    ]
    if any("SCAN audit_nodes" in p for p in r.get("repository_query_plans", [])):
        out += [
            "`SCAN audit_nodes` is a full table scan: SQLite does not use the `(level, idx)` "
            "primary key for the row-value `IN (VALUES ...)` that SQLAlchemy renders for "
            "`tuple_(level, idx).in_(...)`, so each proof from SQLite costs time linear in the "
            "ledger's size; the bare sqlite3 row shows the same look-ups through the index.",
            "",
        ]
    return out


def _audit_verify(r: dict[str, Any]) -> list[str]:
    """Details of ``audit_verify_1m``."""
    lim = r["limit"]
    out = ["## `audit_verify_1m`", "", r["description"], ""]
    out += _table(
        ["", "seconds", "entries/s"],
        [
            [
                "`read_bundle` + `verify_bundle`",
                fmt(r["seconds"]),
                fmt(r["entries_per_second"]),
            ],
            ["of which `read_bundle`", fmt(r["read_bundle_seconds"]), ""],
            ["of which `verify_bundle`", fmt(r["verify_bundle_seconds"]), ""],
            [
                "limit: file read + bare SHA-256",
                fmt(lim["seconds"]),
                fmt(lim["entries_per_second"]),
            ],
            ["of which file read", fmt(lim["file_read_seconds"]), ""],
            [
                f"of which {fmt(lim['sha256_calls'])} SHA-256 calls",
                fmt(lim["sha256_seconds"]),
                "",
            ],
        ],
    )
    out += [
        "",
        f"`ratio_to_limit` = limit / ours = **{fmt(r['ratio_to_limit'])}**. Repetitions: "
        + ", ".join(fmt(x) for x in r["repetitions_seconds"])
        + f" s. The bundle was {fmt(r['file_mib'])} MiB with {fmt(r['checkpoints'])} signed "
        f"checkpoints (entries {fmt(r['entry_bytes_mean'])} bytes on average); every run "
        f"reported ok with all entries covered by a checkpoint: {yes_no(r['all_verified_ok'])}. "
        f"Writing it took {fmt(r['setup_seconds'])} s (not timed).",
        "",
    ]
    return out


def _audit_overhead(r: dict[str, Any]) -> list[str]:
    """Details of ``audit_overhead``."""
    out = ["## `audit_overhead`", "", r["description"], ""]
    rows = []
    for kind in ("put", "get"):
        for mode in ("audited", "baseline"):
            d = r[kind][mode]
            rows.append(
                [
                    f"kv.{kind} {mode}",
                    *_rate_cols(d, "ops_per_second"),
                    fmt(r[kind]["overhead_pct"]) + " %" if mode == "audited" else "",
                ]
            )
    out += _table(
        [
            "operation",
            "ops/s",
            "p50 ms",
            "p99 ms",
            "process CPU",
            "CPU µs/op",
            "per-round ops/s",
            "overhead",
        ],
        rows,
    )
    out += [
        "",
        f"{fmt(r['audit_entries_added'])} audit entries were added during the timed audited "
        f"slices, one per audited operation: {yes_no(r['one_entry_per_audited_op'])}. "
        "An audited `kv.put` adds its entry to the write's own transaction (canonical JSON, "
        "leaf hash, frontier, one entry row and its Merkle nodes); an audited `kv.get` "
        "additionally makes a durable group-committed write before the plaintext is "
        "returned, which the baseline read does not do at all.",
        "",
    ]
    return out


def _dig(node: Any, *keys: str) -> Any:
    """``node[k1][k2]...``, or ``None`` where a level is missing."""
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _mb(value: Any) -> float | None:
    """Bytes as MB (10^6 bytes), ``None`` stays ``None``."""
    return None if value is None else value / 1e6


def _backup(r: dict[str, Any]) -> list[str]:
    """Details of ``backup_vs_restic_borg``."""
    data, tools = r["data"], r["tools"]
    out = ["## `backup_vs_restic_borg`", "", r["description"], ""]
    rows = []
    for name, t in tools.items():
        if "error" in t and "first_backup" not in t:
            rows.append([f"`{name}`", *[""] * 8, t["error"]])
            continue
        rows.append(
            [
                f"`{name}`",
                fmt(_dig(t, "first_backup", "seconds")),
                fmt(_dig(t, "first_backup", "mb_per_second")),
                fmt(_dig(t, "first_backup", "cpu_seconds")),
                fmt(_dig(t, "second_backup", "seconds")),
                fmt(_mb(t.get("bytes_added_by_second_backup"))),
                fmt(_mb(t.get("repo_bytes"))),
                fmt(_dig(t, "verify", "seconds")),
                fmt(_dig(t, "verify", "cpu_seconds")),
                t.get("error", ""),
            ]
        )
    out += _table(
        [
            "tool",
            "first backup s",
            "MB/s",
            "CPU s",
            "second backup s",
            "MB added",
            "repository MB",
            "verify s",
            "verify CPU s",
            "error",
        ],
        rows,
    )
    out += ["", "Ratios (Strongroom / peer, same run):", ""]
    out += _table(
        ["ratio", "value", "peer", "goal", "met"],
        [
            [f"`{name}`", fmt(g["ratio"]), g["peer"], g["goal"], yes_no(g["goal_met"])]
            for name, g in r["ratios"].items()
        ],
    )
    comp = data.get("db_composition", {}).get("bytes_by_table_or_index", {})
    out += [
        "",
        f"The vault: {fmt(data['records'])} records, {fmt(_mb(data['ciphertext_bytes']))} MB of "
        f"record ciphertext; the database file was {fmt(_mb(data['db_bytes']))} MB after the "
        f"checkpoint (largest parts: "
        + ", ".join(f"`{k}` {fmt(_mb(v))} MB" for k, v in list(comp.items())[:3])
        + f"). Throughput basis: {r['throughput_basis']}. "
        f"{fmt(data.get('changed_records'))} records then got a new version through "
        f"`vault.kv.put`; the file was {fmt(_mb(data.get('db_bytes_after_change')))} MB before "
        "the second backups. Strongroom backed up a copy of the data directory identical to "
        f"the byte at the start: {yes_no(data.get('strongroom_copy_identical'))}. Files of the "
        "peers' data directory that changed while the backups ran (first / second): "
        f"{data.get('data_dir_files_changed_during_first_backups')} / "
        f"{data.get('data_dir_files_changed_during_second_backups')}. "
        f'Setup took {fmt(data["setup_seconds"])} s (not timed). "MB added" is the growth of '
        "each repository directory during the second backup; each tool's own count is in the "
        "raw results (`reported`). CPU seconds are user + system of this process (Strongroom, "
        "all threads) or of the tool's process.",
        "",
    ]
    sr = tools.get("strongroom", {})
    first = _dig(sr, "first_backup", "reported") or {}
    if "seconds_to_last_chunk_cut" in first:
        out += [
            f"Strongroom's first backup read {fmt(_mb(first['stream_bytes_read']))} MB of logical "
            f"export (bytes as base64 in JSON lines) for the {fmt(_mb(data['db_bytes']))} MB "
            f"file; it cut its last chunk at {fmt(first['seconds_to_last_chunk_cut'])} s and "
            f"spent {fmt(first['seconds_after_last_chunk_cut'])} s after that (the last uploads, "
            "the manifest, then whatever `backup_database` does once the snapshot is stored).",
            "",
        ]
    latest = sr.get("verify_latest")
    if latest:
        out += [
            "Strongroom's verify is what `strongroom backup verify --target REPO --read-data` "
            "does: every snapshot in turn, so chunks shared by both snapshots are read twice "
            f"({fmt(_mb(_dig(sr, 'verify', 'reported', 'bytes_checked')))} MB checked for a "
            f"{fmt(_mb(sr.get('repo_bytes')))} MB repository); restic and borg check each "
            f"stored object once. Verifying the latest snapshot alone took "
            f"{fmt(latest['seconds'])} s.",
            "",
        ]
    out += _table(
        ["tool", "input", "chunking", "compression", "encryption", "parallelism"],
        [
            [f"`{name}`", *(t["config"].get(k, "") for k in _CONFIG_KEYS)]
            for name, t in tools.items()
            if "config" in t
        ],
    )
    out += ["", "Versions: " + "; ".join(r["versions"].values()) + ".", ""]
    out += ["Commands (`$REPO` and `$DATA_DIR` are temporary directories):", "", "```sh"]
    for name, t in tools.items():
        out += [f"# {name}"] + [f"{k}: {v}" for k, v in t.get("commands", {}).items()]
    out += ["```", ""]
    return out


_CONFIG_KEYS = ("input", "chunking", "compression", "encryption", "parallelism")


def _redaction(r: dict[str, Any]) -> list[str]:
    """Details of ``redaction_vs_presidio``."""
    out = ["## `redaction_vs_presidio`", "", r["description"], ""]
    sr, pr = r["strongroom"], r.get("presidio", {})
    kinds = sorted(set(sr["recall_by_kind"]) | set(pr.get("recall_by_kind", {})))
    rows = [
        [f"`{k}`", fmt(sr["recall_by_kind"].get(k)), fmt(pr.get("recall_by_kind", {}).get(k))]
        for k in kinds
    ]
    rows.append(["precision", fmt(sr["precision"]), fmt(pr.get("precision"))])
    rows.append(["false alarms", fmt(sr["false_alarms"]), fmt(pr.get("false_alarms"))])
    rows.append(["lines/s", fmt(sr["lines_per_second"]), fmt(pr.get("lines_per_second"))])
    out += _table(["recall by kind", "Strongroom", "Presidio"], rows)
    out += [
        "",
        f"{fmt(r['lines'])} lines. Throughput ratio (Presidio time / Strongroom time): "
        f"{fmt(r.get('throughput_ratio'))}; Presidio is timed on detection only, Strongroom on "
        "detection and replacement. Goal: " + r["goal"] + ".",
        "",
    ]
    return out


def _range(pair: list[float] | None) -> str:
    """``a% to b%``, or ``-`` for results from before ranges were recorded."""
    return f"{fmt(pair[0])}% to {fmt(pair[1])}%" if pair else "-"


def _monitor(r: dict[str, Any]) -> list[str]:
    """Details of ``monitor_replay``."""
    out = ["## `monitor_replay`", "", r["description"], ""]
    rows = [
        [
            f"`{kind}`",
            fmt(k["attacks"]),
            fmt(k["detected"]),
            fmt(k["recall"]),
            fmt(k["alerts"]),
            fmt(k["precision"]),
            fmt(k["ttd_median_s"], "s"),
            fmt(k["ttd_max_s"], "s"),
        ]
        for kind, k in r["kinds"].items()
    ]
    out += _table(
        ["kind", "attacks", "detected", "recall", "alerts", "precision", "median TTD", "max TTD"],
        rows,
    )
    out += [
        "",
        f"{fmt(r['normal_requests'])} normal and {fmt(r['attack_requests'])} attack requests "
        f"from {r['principals']} principals over {r['days']} days (seed {r['seed']}; the "
        f"thresholds were tuned on seed 1). {fmt(r['false_alerts'])} alerts matched no attack: "
        f"{fmt(r['false_per_10k_normal'])} per 10,000 normal requests. The monitor processed "
        f"{fmt(r['monitor_events_per_s'], 'events/s')} ({fmt(r['throughput_vs_append_rate'])} "
        f"times the {fmt(r['audit_appends_per_second'], 'entries/s')} this machine's audit log "
        f"appends), with {r['model_fits']} IsolationForest fits. Goal: " + r["goal"] + ".",
        "",
    ]
    return out


def _ms(seconds: float | None) -> float | None:
    """Seconds as milliseconds, ``None`` stays ``None``."""
    return None if seconds is None else 1e3 * seconds


def _subject_erasure(r: dict[str, Any]) -> list[str]:
    """Details of ``subject_erasure_10k``."""
    out = ["## `subject_erasure_10k`", "", r["description"], ""]
    out += _table(
        [
            "round",
            "order",
            "erase ms",
            "of which transaction ms",
            "of which checkpoint ms",
            "rest ms",
            "delete all s",
            "delete all / erase",
        ],
        [
            [
                str(d["round"]),
                " then ".join(d["order"]),
                fmt(_ms(d["erase_seconds"])),
                fmt(_ms(d["erase_transaction_seconds"])),
                fmt(_ms(d["erase_checkpoint_seconds"])),
                fmt(_ms(d["erase_rest_seconds"])),
                fmt(d["delete_all_seconds"]),
                fmt(d["ratio_delete_all_to_erase"]),
            ]
            for d in r["per_round"]
        ],
    )
    probe, single = r["version_count_probe"], r["single_put_ms"]
    out += [
        "",
        f"Medians: erase {fmt(_ms(r['erase_seconds']))} ms (transaction "
        f"{fmt(_ms(r['erase_transaction_seconds']))} ms, checkpoint "
        f"{fmt(_ms(r['erase_checkpoint_seconds']))} ms, rest "
        f"{fmt(_ms(r['erase_rest_seconds']))} ms); deleting every record "
        f"{fmt(r['delete_all_seconds'])} s ({fmt(r['delete_all_records_per_second'])} records/s "
        f"from {r['threads']} threads). `ratio_delete_all_to_erase` = "
        f"**{fmt(r['ratio_delete_all_to_erase'])}** ({r['ratio_method']}). Floor: one durable "
        f"`kv.put` took {fmt(single['p50'])} ms (p50 of {single['n']}, p90 "
        f"{fmt(single['p90'])} ms), so an erasure costs {fmt(r['ratio_erase_to_single_put'])} "
        f"single writes; the disk did {fmt(r['disk_fdatasync_per_second'])} bare "
        "`fdatasync` per second.",
        "",
        f"Checks: every receipt verified against the vault's key: "
        f"{yes_no(r['receipts_verified'])}; {fmt(r['sample_per_round'])} sampled paths per round "
        f"answer `Gone` after the erasure: {yes_no(r['records_unreadable_after'])}, and "
        f"`NotFound` after the deletion: {yes_no(r['deleted_records_absent_after'])}; each "
        f"erasure reported all {fmt(r['records_per_subject'])} record versions: "
        f"{yes_no(r['record_versions_reported'])}. Setup (not timed): "
        f"{fmt(r['setup_puts_per_second']['with_subject'])} puts/s with `subject=`, "
        f"{fmt(r['setup_puts_per_second']['without_subject'])} without.",
        "",
        "Inside its transaction an erasure counts the subject's record versions: "
        f"{fmt(probe['median_ms'])} ms here over {fmt(probe['kv_versions_rows'])} `kv_versions` "
        "rows, SQLite's plan: " + "; ".join(f"`{p}`" for p in probe["query_plan"]) + ".",
    ]
    if any(p.startswith("SCAN kv_versions") for p in probe["query_plan"]):
        out += [
            "`kv_versions.subject_id` has no index, so that count reads the whole table: its "
            "cost grows with the vault, not with the subject.",
        ]
    return [*out, ""]


def _subject_sealing(r: dict[str, Any]) -> list[str]:
    """Details of ``subject_sealing_overhead``."""
    out = ["## `subject_sealing_overhead`", "", r["description"], ""]
    out += _table(
        [
            "kv.put",
            "writes/s",
            "p50 ms",
            "p99 ms",
            "process CPU",
            "CPU µs/op",
            "per-round writes/s",
        ],
        [
            [label, *_rate_cols(r[key], "writes_per_second")]
            for key, label in (("with_subject", "with `subject=`"), ("without_subject", "without"))
        ],
    )
    steps = r["extra_steps_alone"]
    out += [
        "",
        "Overhead per round (1 - with/without): "
        + ", ".join(f"{fmt(p['overhead_pct'])}%" for p in r["per_round"])
        + f"; median **{fmt(r['overhead_pct'])}%**. Process CPU per write: "
        f"+{fmt(r['cpu_us_per_write_extra'])} µs ({fmt(r['cpu_overhead_pct'])}%) with "
        "`subject=`.",
        "",
        f"The extra steps alone, one thread, {fmt(steps['calls_each'])} calls each: the subject "
        f"row's look-up {fmt(steps['subject_row_lookup_us'])} µs, the subject key's unwrap "
        f"{fmt(steps['subject_key_unwrap_us'])} µs, the audit pseudonym "
        f"{fmt(steps['audit_pseudonym_us'])} µs (total {fmt(steps['total_us'])} µs). " + r["notes"],
        "",
    ]
    return out


def _find(node: Any, key: str) -> Iterator[Any]:
    """Yield every value stored under ``key`` anywhere in a nested JSON value."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            else:
                yield from _find(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from _find(v, key)


def render(doc: dict[str, Any]) -> str:
    """Return the Markdown page for one benchmark document."""
    m = doc["machine"]
    results = doc["results"]
    out = [
        "# Performance",
        "",
        "<!-- Generated by `python -m bench.run`; do not edit by hand: re-run `make bench`. -->",
        "",
        f"Measured on {m['date_utc']} ({doc['mode']} run, {fmt(doc['elapsed_s'])} s). "
        "Every benchmark compares Strongroom with a peer or a physical limit measured in the "
        "same run, and the ratio is the number to compare across machines. Goals are targets, "
        "not assertions.",
        "",
    ]
    if doc["mode"] != "full":
        out += [
            f"> **{doc['mode']} run**: shorter durations and smaller sizes than `make bench`; "
            "a smoke test, not representative numbers.",
            "",
        ]
    out += ["## Summary", "", *_summary(results), ""]
    out += ["## Machine", ""]
    out += _table(
        ["", ""],
        [
            ["CPUs (nproc)", fmt(m["nproc"])],
            ["CPU model", m["cpu_model"]],
            ["memory", f"{m['memory_gib']} GiB"],
            ["kernel", m["kernel"]],
            ["Python", f"{m['python']} ({m['python_implementation']})"],
            ["cryptography / OpenSSL", f"{m['cryptography']} / {m['openssl']}"],
            ["SQLAlchemy / SQLite", f"{m['sqlalchemy']} / {m['sqlite']}"],
            ["CPU pinning (HTTP benchmarks)", doc["cpu_pinning"]["note"]],
            [
                "load average (1, 5, 15 min) at start / end",
                f"{doc.get('load_average_start')} / {doc.get('load_average_end')}",
            ],
        ],
    )
    servers = list(dict.fromkeys(_find(results, "server_command"))) or ["(none in this run)"]
    out += [
        "",
        "## Commands",
        "",
        "Run from the repository root. This page was written by:",
        "",
        "```sh",
        doc["command"],
        "```",
        "",
        "`make bench` runs `.venv/bin/python -m bench.run` (the full suite); `--quick` is a "
        "~1 minute smoke run, `--only NAME` runs one benchmark, `--no-docs` leaves this page "
        "alone.",
        "",
        "HTTP benchmarks start their servers as:",
        "",
        "```sh",
        *servers,
        "```",
        "",
    ]
    renderers = {
        "envelope_seal_open_1k": _envelope,
        "http_durable_writes": _writes,
        "http_reads": _reads,
        "rewrap_1m": _rewrap,
        "audit_appends": _audit_appends,
        "audit_proofs_1m": _audit_proofs,
        "audit_verify_1m": _audit_verify,
        "audit_overhead": _audit_overhead,
        "backup_vs_restic_borg": _backup,
        "redaction_vs_presidio": _redaction,
        "monitor_replay": _monitor,
        "subject_erasure_10k": _subject_erasure,
        "subject_sealing_overhead": _subject_sealing,
    }
    for name, res in results.items():
        if "error" not in res and name in renderers:
            out += renderers[name](res)
    out += [
        "## Raw results",
        "",
        "The JSON document `python -m bench.run` printed for this run:",
        "",
        "```json",
        json.dumps(doc, indent=2),
        "```",
        "",
    ]
    return "\n".join(out)


def write(doc: dict[str, Any], path: Path) -> None:
    """Write the page for ``doc`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(doc))
