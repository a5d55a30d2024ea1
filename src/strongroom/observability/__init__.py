"""Logging set-up shared by every entry point (imports nothing else of Strongroom).

Example::

    >>> from strongroom.observability import configure_logging
    >>> configure_logging(fmt="console", level="warning")
"""

from strongroom.observability.logging import configure_logging

__all__ = ["configure_logging"]
