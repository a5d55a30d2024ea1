"""The FastAPI application factory.

Example::

    >>> import tempfile, pathlib
    >>> from strongroom.config import Settings
    >>> app = create_app(Settings(data_dir=pathlib.Path(tempfile.mkdtemp()), dev=True))
    >>> app.title
    'Strongroom'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from prometheus_client import CollectorRegistry

from strongroom import __version__
from strongroom.api.audit import EVENTS, AuditTrail, audit_route
from strongroom.api.metrics_listener import MetricsListener
from strongroom.api.middleware import BodyLimit, HttpMetrics, RequestContext
from strongroom.api.monitoring import AlertBook, start_monitor, stop_monitor
from strongroom.api.problems import install_problem_handlers
from strongroom.api.protection import Guard, Throttle
from strongroom.api.routes import audit, auth, backup, kv, monitor, rights, subjects, sys
from strongroom.api.routes import compliance as compliance_routes
from strongroom.api.schemas import Problem
from strongroom.backup.jobs import BackupJobs
from strongroom.config import Settings
from strongroom.vault import Vault
from strongroom.vault.metrics import VaultCollector
from strongroom.vault.retention import RetentionSchedule

__all__ = ["create_app"]

# Writes wait in worker threads for their group commit; enough threads let
# many requests share one commit.
_WORKER_THREADS = 128

# Routes that answer without a token (probes, seal status, init and unseal).
_PUBLIC_PATHS = (
    "/livez",
    "/readyz",
    "/v1/sys/health",
    "/v1/sys/seal-status",
    "/v1/sys/init",
    "/v1/sys/unseal",
)


def _wire(app: FastAPI, settings: Settings, vault: Vault) -> None:
    """Routers, then middleware: the last added is the outermost."""
    routers = (
        sys.probes,
        sys.router,
        subjects.router,
        rights.retention,
        rights.holds,
        rights.processing,
        auth.router,
        audit.router,
        backup.router,
        monitor.router,
        compliance_routes.router,
    )
    for router in (*routers, kv.router):
        app.include_router(router)
    # From the inside out: the body cap, the audit trail (so a 413 is
    # audited too), rate limits, request ids and security headers, CORS when
    # configured, then the metrics, which see the status the client got.
    app.add_middleware(
        BodyLimit,
        limit=settings.max_payload_bytes + 64 * 1024,
        header_bytes=settings.max_header_bytes,
    )
    app.add_middleware(AuditTrail, vault=vault)
    # Outside the audit trail: a flood of refused requests must not become a
    # flood of durable writes (lockouts are audited one by one).
    app.add_middleware(Throttle, guard=Guard(settings), vault=vault)
    app.add_middleware(RequestContext)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "PUT", "POST", "DELETE", "PATCH", "LIST"],
            allow_headers=[
                "X-Strongroom-Token",
                "Authorization",
                "Content-Type",
                "X-Request-Id",
                "Strongroom-Purpose",
            ],
            expose_headers=["Retry-After", "Strongroom-Audit-Index", "Strongroom-Audit-Leaf-Hash"],
        )
    app.add_middleware(HttpMetrics)


@asynccontextmanager
async def _background(app: FastAPI, settings: Settings, vault: Vault) -> AsyncIterator[None]:
    """The threads that run beside the API: scheduled backups, the monitor, the metrics
    listener; stopped in reverse order."""
    scheduler = backup.scheduler_for(vault)
    app.state.backup_scheduler = scheduler
    app.state.backup_jobs = jobs = BackupJobs()
    if scheduler is not None:
        scheduler.start()
    retention = None
    if settings.retention_interval_s:
        retention = RetentionSchedule(vault, interval_s=settings.retention_interval_s)
        retention.start()
    app.state.retention_schedule = retention
    watcher = await anyio.to_thread.run_sync(start_monitor, settings, vault)
    app.state.monitor = watcher
    listener = None
    if settings.metrics_listen:
        listener = MetricsListener(settings.metrics_listen, app.state.metrics_registry)
        listener.start()
    try:
        yield
    finally:
        if listener is not None:
            await anyio.to_thread.run_sync(listener.stop)
        await anyio.to_thread.run_sync(stop_monitor, vault, watcher)
        if retention is not None:
            await anyio.to_thread.run_sync(retention.stop)
        if scheduler is not None:
            await anyio.to_thread.run_sync(scheduler.stop)
        await anyio.to_thread.run_sync(jobs.close)


def create_app(settings: Settings, *, vault: Vault | None = None, eager: bool = False) -> FastAPI:
    """Build the app around ``vault`` (or a new one, closed on shutdown).

    A new vault opens on start-up, or right here when ``eager`` so that the
    caller sees a start-up failure as a :class:`StrongroomError`.
    """
    owned = vault is None
    the_vault = vault or Vault(settings)
    if owned and eager:
        the_vault.open()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = _WORKER_THREADS
        if owned and not eager:
            await anyio.to_thread.run_sync(the_vault.open)
        try:
            async with _background(app, settings, the_vault):
                yield
        finally:
            if owned:
                await anyio.to_thread.run_sync(the_vault.close)

    app = FastAPI(
        title="Strongroom",
        version=__version__,
        description="Encrypted, versioned records with a tamper-evident audit log.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(audit_route)],
    )
    app.state.vault = the_vault
    app.state.alert_book = AlertBook(the_vault)
    app.state.monitor = None
    # The vault's state gauges, read at scrape time; one registry per app,
    # so that several apps in one process (tests) do not collide.
    app.state.metrics_registry = registry = CollectorRegistry(auto_describe=True)
    registry.register(VaultCollector(the_vault))
    install_problem_handlers(app)
    _wire(app, settings, the_vault)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
            Problem.model_json_schema()
        )
        schema["components"]["securitySchemes"] = {
            "token": {"type": "apiKey", "in": "header", "name": "X-Strongroom-Token"}
        }
        schema["security"] = [{"token": []}]
        for path in _PUBLIC_PATHS:
            for op in schema["paths"].get(path, {}).values():
                op["security"] = []
        # Publish each operation's audit event name (the log's taxonomy).
        for (method, template), event in EVENTS.items():
            path = template.replace(":path", "")
            op = schema["paths"].get(path, {}).get(method.lower())
            if op is not None:
                op["x-audit-event"] = str(event)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
