"""HTTP API: FastAPI app factory, routes, RFC 9457 errors.

Example::

    >>> from strongroom.api import create_app
    >>> callable(create_app)
    True
"""

from strongroom.api.app import create_app

__all__ = ["create_app"]
