"""OpenTelemetry tracing, only when an exporter is configured; otherwise nothing at all.

When ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)
is set, or the ``otel_endpoint`` setting, the server exports spans over
OTLP/HTTP (protobuf) through a batch processor; the standard ``OTEL_*``
variables (headers, timeouts, batch sizes, ``OTEL_SERVICE_NAME``) apply.
Otherwise :func:`span` returns a shared null context: no tracer, no span
object, no clock read, so an unconfigured server pays one boolean test per
instrumented call.

Spans: ``HTTP <method> <route template>`` (server spans, W3C
``traceparent`` honoured), ``vault <event>`` for audited vault operations,
``crypto seal`` / ``crypto open``, ``storage write`` (waiting for the
durable group commit), ``ledger append`` and ``ledger checkpoint``.
Attributes are route templates, event names, outcomes, sizes and status
codes: never a path, a principal, a token or a value.

Example::

    >>> with span("crypto seal"):
    ...     pass
    >>> enabled()
    False
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Final

__all__ = ["configure_tracing", "enabled", "server_span", "shutdown", "span"]

_NULL: Final = contextlib.nullcontext()
_state: dict[str, Any] = {"tracer": None}


def enabled() -> bool:
    """True once :func:`configure_tracing` installed an exporter."""
    return _state["tracer"] is not None


def configure_tracing(
    endpoint: str | None = None, *, exporter: Any = None, service_name: str = "strongroom"
) -> bool:
    """Export spans if an OTLP endpoint is configured (or ``exporter`` is given); say whether.

    ``exporter`` is any OpenTelemetry ``SpanExporter`` (the tests pass the
    SDK's in-memory one, with a simple processor so spans arrive at once).
    """
    env = os.environ
    wanted = (
        endpoint
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    if not wanted and exporter is None:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    name = env.get("OTEL_SERVICE_NAME", service_name)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # An explicit setting is the base endpoint, as the variable would be.
        traces = f"{endpoint.rstrip('/')}/v1/traces" if endpoint else None
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces)))
    _state["provider"] = provider
    _state["tracer"] = provider.get_tracer("strongroom")
    return True


def shutdown() -> None:
    """Flush and stop the exporter (server shutdown); tracing is off afterwards."""
    provider = _state.get("provider")
    _state["tracer"] = None
    _state["provider"] = None
    if provider is not None:
        provider.shutdown()


def span(name: str, **attributes: Any) -> AbstractContextManager[Any]:
    """A span named ``name`` under the current one, or a null context when tracing is off."""
    tracer = _state["tracer"]
    if tracer is None:
        return _NULL
    trace_span: AbstractContextManager[Any] = tracer.start_as_current_span(
        name, attributes=attributes or None
    )
    return trace_span


@contextmanager
def server_span(name: str, headers: Mapping[str, str], **attributes: Any) -> Iterator[Any]:
    """A server span continuing the caller's W3C trace context (``traceparent``), if any."""
    tracer = _state["tracer"]
    if tracer is None:
        yield None
        return
    from opentelemetry.propagate import extract
    from opentelemetry.trace import SpanKind

    with tracer.start_as_current_span(
        name, context=extract(dict(headers)), kind=SpanKind.SERVER, attributes=attributes
    ) as current:
        yield current
