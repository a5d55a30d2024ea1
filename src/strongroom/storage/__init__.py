"""Persistence: SQLAlchemy Core tables, repositories, group commit, migrations.

Example::

    >>> from strongroom.storage import Database
    >>> Database.__name__
    'Database'
"""

from strongroom.storage.engine import Database
from strongroom.storage.writer import GroupCommitWriter, WriteTx

__all__ = ["Database", "GroupCommitWriter", "WriteTx"]
