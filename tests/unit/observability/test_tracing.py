"""Tracing: nothing at all unless configured; then spans for vault, crypto, storage, ledger."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from strongroom.observability import tracing
from strongroom.vault import Vault

ROOT = "strongroom_test_root_token"


def test_unconfigured_tracing_is_a_shared_null_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert tracing.configure_tracing(None) is False
    assert not tracing.enabled()
    assert tracing.span("a") is tracing.span("b")  # no object per call


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.configure_tracing(exporter=exporter)
    yield exporter
    tracing.shutdown()


def test_vault_operations_are_traced_without_paths(
    spans: InMemorySpanExporter, make_vault: Callable[..., Vault]
) -> None:
    vault = make_vault()
    root = vault.tokens.authenticate(ROOT)
    spans.clear()
    vault.kv.put(root, "secret", "patients/jane-doe", {"k": "v"})
    vault.kv.get(root, "secret", "patients/jane-doe")
    vault.audit.checkpoint_now()
    done = spans.get_finished_spans()
    names = [s.name for s in done]
    for expected in (
        "vault kv:record:write",
        "vault kv:record:read",
        "crypto seal",
        "crypto open",
        "storage write",
        "ledger append",
        "ledger checkpoint",
    ):
        assert expected in names, names
    by_id = {s.context.span_id: s for s in done}
    seal = next(s for s in done if s.name == "crypto seal")
    # The seal runs in the writer thread: it is not under the request's span,
    # but the wait for the durable write is.
    write = next(s for s in done if s.name == "storage write")
    assert write.parent is not None and by_id[write.parent.span_id].name == "vault kv:record:write"
    assert seal.name == "crypto seal"
    read_open = next(s for s in done if s.name == "crypto open")
    assert read_open.parent is not None
    assert by_id[read_open.parent.span_id].name == "vault kv:record:read"
    for s in done:
        for value in (s.attributes or {}).values():
            assert "jane-doe" not in str(value) and ROOT not in str(value)
