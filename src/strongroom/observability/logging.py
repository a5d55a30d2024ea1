"""Structured logs through structlog: JSON in production, console in a terminal.

Standard-library loggers (ours, uvicorn's) are routed through the same
structlog processors, so every line has the same shape, carries the request
id of the request it belongs to (bound by the API's request middleware),
and goes through the redaction processor last
(:mod:`strongroom.observability.redaction`): Strongroom never logs secret
values, tokens or record data on purpose, and the processor scrubs what
anything else might log, tracebacks included.

Example::

    >>> configure_logging(fmt="json", level="info")
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Literal

import structlog

from strongroom.observability.redaction import Redactor, redaction_processor

__all__ = ["configure_logging"]


def configure_logging(
    *,
    fmt: Literal["json", "console"] = "json",
    level: str = "info",
    secrets: Iterable[str] = (),
) -> Redactor:
    """Route stdlib logging and structlog to stderr in the chosen format; return the redactor.

    ``secrets`` are literal values to redact wherever they appear (the dev
    root token), beside the formats the redactor knows.
    """
    redactor = Redactor(literals=secrets)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        # Tracebacks become text here, so that redaction sees them too.
        structlog.processors.format_exc_info,
        redaction_processor(redactor),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Migration chatter ("Context impl SQLiteImpl.") is noise at start-up.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    structlog.configure(
        # Level first: a line below the level must not pay for redaction.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return redactor
