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
from typing import Any, Literal

import structlog
from structlog.typing import EventDict

from strongroom.observability.redaction import Redactor, redaction_processor

__all__ = ["ACCESS_LOG", "AccessLog", "configure_logging"]


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
    redact = redaction_processor(redactor)
    # Fields the server makes itself (level, logger name, time) are added
    # after redaction: there is nothing in them to redact.
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.ExtraAdder(),
        # Tracebacks become text here, so that redaction sees them too.
        structlog.processors.format_exc_info,
        redact,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        stamp,
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
    ACCESS_LOG.attach(
        handler,
        level=root.level,
        processors=[structlog.contextvars.merge_contextvars, redact, _access_line, stamp, renderer],
    )
    return redactor


def _access_line(_logger: object, method: str, event: EventDict) -> EventDict:
    """The level and logger name the standard-library path would have added."""
    event["level"] = method
    event["logger"] = "strongroom.access"
    return event


class _HandlerWriter:
    """What structlog hands a rendered access line to: our handler's stream, under its lock."""

    def __init__(self, handler: logging.StreamHandler[Any]) -> None:
        self._handler = handler

    def info(self, line: str) -> None:
        h = self._handler
        with h.lock:  # type: ignore[union-attr]
            h.stream.write(line + h.terminator)
            h.flush()


class AccessLog:
    """The one line per request (``strongroom.access``), at ``info``.

    It is written straight to the handler :func:`configure_logging` made,
    through its own short chain (request id, redaction, time, renderer):
    going through the standard library as well (two log records, the
    caller's frame, a formatter that copies the record) was measured at about
    100 µs a request, most of the cost of logging. The line is the same JSON
    either way. Until :func:`configure_logging` runs, it goes through the
    standard library like any other line.
    """

    def __init__(self) -> None:
        self._logger: Any = None

    def attach(
        self,
        handler: logging.StreamHandler[Any],
        *,
        level: int,
        processors: list[structlog.types.Processor],
    ) -> None:
        """Write through ``handler`` with ``processors`` from now on (lines below ``level``
        are dropped before any of them runs)."""
        self._logger = structlog.wrap_logger(
            _HandlerWriter(handler),
            processors=processors,
            wrapper_class=structlog.make_filtering_bound_logger(level),
            cache_logger_on_first_use=True,
        )

    def info(self, event: str, **fields: Any) -> None:
        """Log one request."""
        logger = self._logger
        if logger is None:
            structlog.get_logger("strongroom.access").info(event, **fields)
        else:
            logger.info(event, **fields)


ACCESS_LOG = AccessLog()
"""The process's access log (the API's request middleware writes to it)."""
