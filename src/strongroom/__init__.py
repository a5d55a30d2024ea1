"""Strongroom: a self-hosted vault with a tamper-evident audit log.

Example::

    >>> import strongroom
    >>> strongroom.__version__
    '0.1.0'
"""

from strongroom.config import Settings
from strongroom.errors import StrongroomError

__all__ = ["Settings", "StrongroomError", "__version__"]

__version__ = "0.1.0"
