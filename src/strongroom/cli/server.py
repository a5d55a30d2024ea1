"""``strongroom server``: run the HTTP API in this process.

Flags win over ``STRONGROOM_*`` environment variables, which win over the
defaults: only the flags actually given are passed to :class:`Settings`.

Example::

    $ strongroom server --dev --data-dir ./var --dev-root-token strongroom_dev_root_token
    $ STRONGROOM_DATABASE_URL=postgresql+psycopg://… strongroom server --listen 0.0.0.0:8200
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from strongroom.config import Settings
from strongroom.errors import InvalidInput

__all__ = ["parse_listen", "server"]


def parse_listen(listen: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:8200`` for IPv6) into host and port.

    >>> parse_listen("127.0.0.1:8200")
    ('127.0.0.1', 8200)
    >>> parse_listen("[::1]:8200")
    ('::1', 8200)
    """
    host, sep, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput("--listen takes HOST:PORT, e.g. 127.0.0.1:8200")
    return host, int(port)


def _settings(overrides: dict[str, Any]) -> Settings:
    """Build Settings, turning validation errors into one safe line (no input echoed)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        # Never show ``input``: it may be the dev root token or a database password.
        reasons = "; ".join(
            (".".join(str(p) for p in e["loc"]) + ": " if e["loc"] else "") + e["msg"]
            for e in exc.errors()
        )
        raise InvalidInput(f"bad server settings: {reasons}") from None


def server(
    dev: Annotated[
        bool,
        typer.Option(
            "--dev",
            help="Dev mode: initialise and unseal by itself, root key kept IN CLEAR on disk. "
            "Never for real data.",
        ),
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Directory for the SQLite database (and the dev key file).",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            help="HOST:PORT to bind.",
            metavar="HOST:PORT",
            show_default="127.0.0.1:8200",
        ),
    ] = None,
    dev_root_token: Annotated[
        str | None,
        typer.Option(
            "--dev-root-token",
            envvar="STRONGROOM_DEV_ROOT_TOKEN",
            help="Root token to create in dev mode.",
            metavar="TOKEN",
            show_default=False,
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL (postgresql+psycopg://…); default: SQLite in the data dir. "
            "Prefer STRONGROOM_DATABASE_URL when it holds a password.",
            metavar="URL",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the Strongroom server in the foreground (Ctrl-C stops it)."""
    overrides: dict[str, Any] = {}
    if dev:
        overrides["dev"] = True
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if listen is not None:
        parse_listen(listen)
        overrides["listen"] = listen
    if dev_root_token is not None:
        overrides["dev_root_token"] = dev_root_token
    if database_url is not None:
        overrides["database_url"] = database_url
    settings = _settings(overrides)
    host, port = parse_listen(settings.listen)

    # Imported here so that client commands start fast and never load the server stack.
    import uvicorn

    from strongroom.api.app import create_app
    from strongroom.observability import configure_logging, tracing

    tracing.configure_tracing(settings.otel_endpoint)
    dev_token = settings.dev_root_token
    configure_logging(
        fmt=settings.log_format,
        level=settings.log_level,
        secrets=[dev_token.get_secret_value()] if dev_token is not None else [],
    )
    # eager=True opens the vault (migrations, dev unseal) before uvicorn
    # starts, so a start-up failure is one StrongroomError line, not a
    # traceback from inside the ASGI lifespan.
    app = create_app(settings, eager=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        log_level=settings.log_level,
        log_config=None,
        # HTTPS only when a certificate is configured (tls_cert_file/tls_key_file).
        ssl_certfile=None if settings.tls_cert_file is None else str(settings.tls_cert_file),
        ssl_keyfile=None if settings.tls_key_file is None else str(settings.tls_key_file),
    )
    tracing.shutdown()  # flush the spans still queued
