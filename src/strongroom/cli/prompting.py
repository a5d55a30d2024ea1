"""Read secrets without putting them on the command line.

A secret comes from a hidden prompt when stdin is a terminal, or from stdin
when it is not (a pipe or a file), so scripts and people use the same
commands. Nothing read here is ever echoed or logged.

Example::

    $ printf 'correct horse battery staple' | strongroom operator unseal --passphrase
    $ strongroom operator unseal            # asks for the share, hidden
"""

from __future__ import annotations

import sys

import typer

from strongroom.errors import InvalidInput

__all__ = ["read_secret", "read_stdin"]


def _strip_newline(text: str) -> str:
    """Drop one trailing ``\\n`` or ``\\r\\n``."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")


def _decode(data: bytes) -> str:
    """Decode stdin bytes strictly as UTF-8 (the bytes are never shown in the error)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("stdin is not UTF-8 text") from None


def read_stdin() -> str:
    """Read all of stdin, dropping one trailing newline (as ``echo`` adds one)."""
    # Bytes, decoded strictly: a text stream may smuggle invalid bytes in as
    # surrogates (surrogateescape), which would fail later, far from the cause.
    return _strip_newline(_decode(sys.stdin.buffer.read()))


def read_secret(prompt: str, *, confirm: bool = False) -> str:
    """Ask for a secret: hidden prompt on a terminal, else one line from stdin.

    Raises :class:`InvalidInput` when nothing (an empty value) was given.
    """
    if sys.stdin.isatty():
        value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    else:
        value = _strip_newline(_decode(sys.stdin.buffer.readline()))
    if not value:
        raise InvalidInput(f"no value was given for: {prompt.lower()}")
    return value
