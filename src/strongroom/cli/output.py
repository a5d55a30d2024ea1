"""Render command results as Rich tables, JSON or YAML, or one raw field.

Data goes to stdout; notes for the person at the terminal go to stderr, so
``--format json`` and ``--field`` output can be piped as it is. Values are
shown as plain text (never interpreted as Rich markup), and a ``--field``
value is written without a trailing newline unless stdout is a terminal.

Example::

    >>> out = Output(OutputFormat.JSON)
    >>> out.record({"version": 3})
    {
      "version": 3
    }
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from strongroom.errors import InvalidInput, NotFound

__all__ = ["Output", "OutputFormat", "err_console", "note"]

# Off a terminal, tables are as wide as they need to be: wrapping a value
# across lines would corrupt it for whoever copies it from a log.
_PIPE_WIDTH = 4096


class OutputFormat(enum.StrEnum):
    """How a command prints its result."""

    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def _console(*, stderr: bool) -> Console:
    """A Rich console on stdout or stderr, unbounded in width off a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else _PIPE_WIDTH
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def err_console() -> Console:
    """A Rich console on stderr (for progress bars and notes)."""
    return _console(stderr=True)


def note(message: str) -> None:
    """Tell the person at the terminal something, on stderr, as plain text."""
    err_console().print(Text(message))


def _cell(key: str, value: Any) -> Text:
    """Format one table cell: times as ISO-8601 UTC, containers as compact JSON."""
    if value is None:
        return Text("-")
    if isinstance(value, bool):
        return Text("true" if value else "false")
    if key.endswith("_time") and isinstance(value, int | float) and value > 0:
        stamp = datetime.fromtimestamp(value, tz=UTC).isoformat(timespec="seconds")
        return Text(stamp.replace("+00:00", "Z"))
    if isinstance(value, list | tuple) and all(isinstance(v, str | int) for v in value):
        return Text(", ".join(str(v) for v in value))
    if isinstance(value, Mapping | list | tuple):
        return Text(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return Text(str(value))


def _print_table(table: Table, title: str | None) -> None:
    """Print a table on stdout, its title on a line of its own."""
    # The title goes on its own line: as a table title Rich would wrap it to
    # the table's width, and it may be longer than the table is wide.
    console = _console(stderr=False)
    if title:
        console.print(Text(title, style="bold"))
    console.print(table)


def _raw(value: Any) -> str:
    """The text ``--field`` prints: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class Output:
    """Where and how one command writes its result."""

    def __init__(self, fmt: OutputFormat = OutputFormat.TABLE, field: str | None = None) -> None:
        self.fmt = fmt
        self.field = field

    # -- structured formats ------------------------------------------------

    def _dump(self, data: Any) -> None:
        """Write ``data`` as JSON or YAML."""
        if self.fmt is OutputFormat.JSON:
            sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        sys.stdout.flush()

    def _write_raw(self, text: str) -> None:
        """Write a ``--field`` value (newline only on a terminal)."""
        end = "\n" if sys.stdout.isatty() else ""
        sys.stdout.write(text + end)
        sys.stdout.flush()

    def _pick(self, record: Mapping[str, Any], field: str) -> Any:
        """The value of ``field``; a missing field is :class:`NotFound` (exit 3)."""
        if field not in record:
            raise NotFound(f"there is no field {field!r} in the output")
        return record[field]

    # -- shapes ------------------------------------------------------------

    def record(
        self,
        record: Mapping[str, Any],
        *,
        title: str | None = None,
        full: Any = None,
        header: tuple[str, str] = ("Key", "Value"),
        plain: bool = False,
    ) -> None:
        """Print one object: a two-column table, or ``full`` (default: ``record``) as JSON/YAML.

        ``--field NAME`` prints ``record[NAME]`` raw. ``plain`` shows values as
        ``--field`` would (for user data, whose keys mean nothing to us).
        """
        if self.field is not None:
            self._write_raw(_raw(self._pick(record, self.field)))
            return
        if self.fmt is not OutputFormat.TABLE:
            self._dump(dict(record) if full is None else full)
            return
        table = Table(header[0], header[1])
        for key, value in record.items():
            table.add_row(Text(key), Text(_raw(value)) if plain else _cell(key, value))
        _print_table(table, title)

    def rows(
        self,
        rows: Sequence[Mapping[str, Any]],
        columns: Sequence[str],
        *,
        title: str | None = None,
        full: Any = None,
    ) -> None:
        """Print a list of objects as a table (one row each), or ``full`` as JSON/YAML.

        ``--field NAME`` prints that column, one value a line.
        """
        if self.field is not None:
            self._write_raw("\n".join(_raw(self._pick(r, self.field)) for r in rows))
            return
        if self.fmt is not OutputFormat.TABLE:
            self._dump([dict(r) for r in rows] if full is None else full)
            return
        table = Table(*columns)
        for row in rows:
            table.add_row(*(_cell(c, row.get(c)) for c in columns))
        _print_table(table, title)

    def names(self, names: Sequence[str], *, header: str, full: Any = None) -> None:
        """Print a list of names: a one-column table, or ``full`` (default: the list)."""
        if self.field is not None:
            raise InvalidInput("--field does not apply to a list of names")
        if self.fmt is not OutputFormat.TABLE:
            self._dump(list(names) if full is None else full)
            return
        table = Table(header)
        for name in names:
            table.add_row(Text(name))
        _print_table(table, None)
