"""Metrics on a real server: the exposition parses, names follow the rules, dashboards match.

The shipped alert rules and Grafana dashboard (``deploy/monitoring``) may
only name metrics the server exports; ``promtool`` (Debian package
``prometheus``) checks the rules and lints a real scrape when installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from tests.support.server import LiveServer, start_server

ROOT = "strongroom_test_root_token"
MONITORING = Path(__file__).resolve().parents[3] / "deploy" / "monitoring"
DOCUMENTED = {
    "strongroom_http_requests": "counter",
    "strongroom_http_request_duration_seconds": "histogram",
    "strongroom_vault_operations": "counter",
    "strongroom_audit_failures": "counter",
    "strongroom_crypto_operations": "counter",
    "strongroom_seal_state": "gauge",
    "strongroom_metrics_state_up": "gauge",
    "strongroom_kek_versions": "gauge",
    "strongroom_kek_current_version": "gauge",
    "strongroom_kek_encryptions": "gauge",
    "strongroom_ledger_entries": "gauge",
    "strongroom_ledger_unsigned_entries": "gauge",
    "strongroom_ledger_checkpoint_age_seconds": "gauge",
    "strongroom_backup_last_success_timestamp_seconds": "gauge",
    "strongroom_backup_last_duration_seconds": "gauge",
    "strongroom_backups": "counter",
    "strongroom_alerts": "counter",
    "strongroom_alert_webhook_deliveries": "counter",
    "strongroom_monitor_dropped_entries": "counter",
}
_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(tmp_path_factory.mktemp("monitoring") / "data")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def scrape(server: LiveServer) -> str:
    with httpx.Client(base_url=server.url, headers={"X-Strongroom-Token": ROOT}) as c:
        assert c.put("/v1/secret/data/canary-record-name", json={"data": {"k": "v"}}).is_success
        assert c.get("/v1/secret/data/canary-record-name").is_success
        assert c.get("/v1/secret/data/nothing-here").status_code == 404
        assert c.post("/v1/sys/backups", json={}).is_success
        c.get("/v1/audit/checkpoint")
        r = c.get("/v1/sys/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return r.text


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_documented_families_are_exported(scrape: str) -> None:
    families = {f.name: f.type for f in text_string_to_metric_families(scrape)}
    for name, kind in DOCUMENTED.items():
        assert families.get(name) == kind, name
    samples = _samples(scrape)
    assert samples[("strongroom_seal_state", (("state", "unsealed"),))] == 1
    assert samples[("strongroom_crypto_operations_total", (("operation", "seal"),))] >= 1
    assert samples[("strongroom_crypto_operations_total", (("operation", "open"),))] >= 1
    assert samples[("strongroom_metrics_state_up", ())] == 1
    assert samples[("strongroom_ledger_entries", ())] >= 5
    assert samples[("strongroom_backups_total", (("outcome", "success"),))] >= 1
    read = (
        "strongroom_http_requests_total",
        (("method", "GET"), ("route", "/v1/{mount}/data/{path:path}"), ("status", "200")),
    )
    assert samples[read] >= 1
    ops = (
        "strongroom_vault_operations_total",
        (("event", "kv:record:read"), ("outcome", "denied")),
    )
    assert samples.get(ops, 0) == 0  # the 404 was an absent record, not a policy denial
    assert (
        samples[
            (
                "strongroom_vault_operations_total",
                (("event", "kv:record:write"), ("outcome", "allowed")),
            )
        ]
        >= 1
    )


def test_no_path_or_secret_in_labels(scrape: str) -> None:
    assert "canary-record-name" not in scrape and "nothing-here" not in scrape
    assert ROOT not in scrape and "127.0.0.1" not in scrape


def test_client_chosen_methods_do_not_make_new_series(server: LiveServer) -> None:
    # Methods are the client's choice: the HTTP parser refuses unknown ones,
    # but knows dozens (WebDAV's among them), each of which was a new series.
    for method in ("PROPFIND", "MKCOL", "COPY", "CANARYMETHOD"):
        httpx.request(method, f"{server.url}/v1/sys/mounts")
    with httpx.Client(base_url=server.url, headers={"X-Strongroom-Token": ROOT}) as c:
        text = c.get("/v1/sys/metrics").text
    assert "PROPFIND" not in text and "MKCOL" not in text and "CANARYMETHOD" not in text
    methods = {
        s.labels["method"]
        for f in text_string_to_metric_families(text)
        if f.name == "strongroom_http_requests"
        for s in f.samples
    }
    assert "other" in methods
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "LIST", "other"}


def test_policy_grants_scraping(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, headers={"X-Strongroom-Token": ROOT}) as root:
        doc = json.dumps({"rules": [{"path": "sys/metrics", "capabilities": ["read"]}]})
        assert root.put("/v1/sys/policies/acl/scraper", json={"policy": doc}).is_success
        scraper = root.post("/v1/auth/token/create", json={"policies": ["scraper"]}).json()
        other = root.post("/v1/auth/token/create", json={"policies": ["default"]}).json()
    for token, status in (
        (scraper["auth"]["client_token"], 200),
        (other["auth"]["client_token"], 403),
    ):
        r = httpx.get(f"{server.url}/v1/sys/metrics", headers={"X-Strongroom-Token": token})
        assert r.status_code == status, r.text
    assert httpx.get(f"{server.url}/v1/sys/metrics").status_code == 401


def _named(text: str) -> set[str]:
    names = set(re.findall(r"\bstrongroom_[a-z0-9_]+", text))
    out = set()
    for name in names:
        base = name
        for suffix in _SUFFIXES:
            if name.endswith(suffix) and name.removesuffix(suffix) in DOCUMENTED:
                base = name.removesuffix(suffix)
        out.add(base)
    return out


def test_rules_and_dashboard_name_only_exported_metrics(scrape: str) -> None:
    exported = {f.name for f in text_string_to_metric_families(scrape)}
    rules = yaml.safe_load((MONITORING / "strongroom-rules.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads((MONITORING / "strongroom-dashboard.json").read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    named = set().union(*(_named(e) for e in exprs))
    assert named, "no metric named at all"
    assert named <= exported, named - exported
    # Every alert has a severity and a summary.
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("warning", "critical")
            assert rule["annotations"]["summary"]


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian: prometheus) not installed"
)
def test_promtool_accepts_the_rules_and_the_scrape(scrape: str) -> None:
    rules = subprocess.run(
        ["promtool", "check", "rules", str(MONITORING / "strongroom-rules.yml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert rules.returncode == 0, rules.stdout + rules.stderr
    # The linter of the exposition format and the naming conventions.
    lint = subprocess.run(
        ["promtool", "check", "metrics"], input=scrape, capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
