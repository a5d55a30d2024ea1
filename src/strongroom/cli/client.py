"""A small HTTP client for the Strongroom API, used by every CLI command.

The client is the CLI's only way to reach a server. It sends the token in the
``X-Strongroom-Token`` header (never in a URL), turns RFC 9457 problem
documents into the matching :class:`~strongroom.errors.StrongroomError`
subclass and transport failures into :class:`~strongroom.errors.Unavailable`,
so commands never see an ``httpx`` exception.

Example::

    >>> err = error_from_problem(404, {"type": "urn:strongroom:problem:not-found",
    ...                                "status": 404, "detail": "nothing at this path"})
    >>> type(err).__name__, err.exit_code, err.diagnostics()
    ('NotFound', 3, 'Not found: nothing at this path')
"""

from __future__ import annotations

import functools
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote, urlsplit

import httpx

from strongroom import __version__
from strongroom.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    StrongroomError,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "DEFAULT_ADDR",
    "PROBLEM_TYPE_BASE",
    "TOKEN_HEADER",
    "Client",
    "error_from_problem",
    "segment",
]

DEFAULT_ADDR: Final = "http://127.0.0.1:8200"
"""Where the CLI looks for a server when neither ``--addr`` nor ``STRONGROOM_ADDR`` says."""

TOKEN_HEADER: Final = "X-Strongroom-Token"  # noqa: S105 - a header name, not a secret
"""The request header that carries the token."""

# The same value as ``strongroom.api.problems.PROBLEM_TYPE_BASE`` (a test
# checks it): importing the api package would load the whole server stack and
# add seconds to the start of every command.
PROBLEM_TYPE_BASE: Final = "urn:strongroom:problem:"

# Fallback by HTTP status, for problems whose ``type`` names no known slug and
# for error responses that are not problem documents at all (a proxy's 502).
_BY_STATUS: Final[dict[int, type[StrongroomError]]] = {
    400: InvalidInput,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}
_STANDARD_MEMBERS: Final = frozenset({"type", "title", "status", "detail"})


@functools.cache
def _classes_by_slug() -> dict[str, type[StrongroomError]]:
    """Every error class, keyed by its problem ``type`` slug (the root included)."""
    found: dict[str, type[StrongroomError]] = {}
    todo: list[type[StrongroomError]] = [StrongroomError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.slug, cls)
        todo.extend(cls.__subclasses__())
    return found


def error_from_problem(status: int, body: object) -> StrongroomError:
    """Build the error a problem document (RFC 9457 §3) describes.

    The ``type`` URI ``urn:strongroom:problem:<slug>`` picks the class whose
    ``slug`` matches; otherwise the HTTP ``status`` picks the family. Extension
    members (RFC 9457 §3.2) such as ``request_id`` land in ``extra``.
    """
    problem: dict[str, Any] = body if isinstance(body, dict) else {}
    cls: type[StrongroomError] | None = None
    kind = problem.get("type")
    if isinstance(kind, str) and kind.startswith(PROBLEM_TYPE_BASE):
        cls = _classes_by_slug().get(kind.removeprefix(PROBLEM_TYPE_BASE))
    if cls is None:
        cls = _BY_STATUS.get(status, StrongroomError)
    detail = problem.get("detail")
    if not isinstance(detail, str) or not detail:
        detail = f"the server answered HTTP {status}"
    extra = {k: v for k, v in problem.items() if k not in _STANDARD_MEMBERS}
    return cls(detail, **extra)


def segment(name: str) -> str:
    """Percent-encode one URL path segment (a ``/`` inside a name is encoded too).

    >>> segment("a b/c")
    'a%20b%2Fc'
    """
    return quote(name, safe="")


_PAGE = 1000
"""The largest page the list routes serve."""


class Client:
    """A synchronous client bound to one server address and (optionally) one token."""

    def __init__(
        self,
        addr: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(addr)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput("the server address must look like http://host:port")
        self.addr = addr.rstrip("/")
        # What messages show: never user:password from the address.
        self.shown_addr = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        headers = {"User-Agent": f"strongroom-cli/{__version__}", "Accept": "application/json"}
        if token:
            token = token.strip()
            if not token.isascii() or not token.isprintable():
                raise InvalidInput("the token must be printable ASCII")
            headers[TOKEN_HEADER] = token
        self._http = httpx.Client(
            base_url=self.addr, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send one request; return the JSON object answered (``{}`` for 204) or raise."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return self._decode(self._send(method, path, json=json, params=query or None))

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One HTTP exchange; a transport failure becomes :class:`Unavailable`."""
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            # Translate once, at the boundary (the token is never in the message).
            reason = type(exc).__name__
            raise Unavailable(f"cannot reach the server at {self.shown_addr} ({reason})") from exc

    def get(self, path: str, *, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """``GET`` a path."""
        return self.request("GET", path, params=params)

    def get_pages(
        self, path: str, items: str, *, limit: int, params: dict[str, Any] | None = None
    ) -> list[Any]:
        """``GET`` a list route page after page (``after`` = the last ``next_after``) until
        ``limit`` items or the end; ``items`` names the list in each page."""
        found: list[Any] = []
        after: Any = None
        while len(found) < limit:
            page = self.get(
                path,
                params={**(params or {}), "after": after, "limit": min(_PAGE, limit - len(found))},
            )
            found.extend(page.get(items) or [])
            after = page.get("next_after")
            if after is None:
                break
        return found

    def get_text(self, path: str) -> str:
        """``GET`` a path that answers ``text/plain`` (a signed checkpoint)."""
        response = self._send("GET", path)
        if response.is_success:
            return response.text
        self._decode(response)
        raise Unavailable(f"unexpected answer {response.status_code} from the server")

    def post(self, path: str, json: Any = None) -> dict[str, Any]:
        """``POST`` a JSON body."""
        return self.request("POST", path, json=json)

    def put(self, path: str, json: Any = None) -> dict[str, Any]:
        """``PUT`` a JSON body."""
        return self.request("PUT", path, json=json)

    def delete(self, path: str) -> dict[str, Any]:
        """``DELETE`` a path."""
        return self.request("DELETE", path)

    @staticmethod
    def _decode(response: httpx.Response) -> dict[str, Any]:
        """Return the JSON object of a success; raise the error a failure describes."""
        body: object = None
        if response.content:
            try:
                body = response.json()
            except ValueError:
                body = None
        if response.is_error:
            raise error_from_problem(response.status_code, body)
        if response.status_code == 204 or not response.content:
            return {}
        if not isinstance(body, dict):
            raise StrongroomError(
                f"the server answered HTTP {response.status_code} with a body that is not JSON"
            )
        return body
