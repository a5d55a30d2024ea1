"""Scheduled backups: a server thread that snapshots the vault every ``interval``.

The scheduler knows nothing of the vault service: it is given the database,
a function that returns the unsealed keyring (or ``None`` while sealed: the
run is skipped, since the backup key is wrapped by a KEK), and a function
called with each new manifest (the server appends the ``sys:backup:create``
audit entry there). A failed run is logged and retried at the next tick; the
last success and the last error are kept for status reporting.

Example::

    >>> BackupStatus().last_success is None
    True
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from strongroom.backup.manifest import Manifest
from strongroom.backup.target import Target
from strongroom.backup.vault_snapshot import backup_database
from strongroom.crypto import Keyring
from strongroom.errors import StrongroomError
from strongroom.storage.engine import Database

__all__ = ["BackupScheduler", "BackupStatus"]

log = logging.getLogger("strongroom.backup")


@dataclass(slots=True)
class BackupStatus:
    """What the scheduler last did (UNIX seconds)."""

    last_success: float | None = None
    last_snapshot: str | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    runs: int = 0


class BackupScheduler:
    """Run :func:`backup_database` every ``interval_s`` seconds on a daemon thread."""

    def __init__(
        self,
        db: Database,
        target: Target,
        *,
        interval_s: float,
        keyring: Callable[[], Keyring | None],
        on_snapshot: Callable[[Manifest], None],
        clock: Callable[[], float] = time.time,
        key_window_s: float | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._db = db
        self._target = target
        self._interval = interval_s
        self._keyring = keyring
        self._on_snapshot = on_snapshot
        self._clock = clock
        self._key_window_s = key_window_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.status = BackupStatus()

    def start(self) -> None:
        """Start the thread (the first run is one interval from now)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="strongroom-backup-schedule", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop after the current run, if any."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def run_once(self) -> Manifest | None:
        """Take one backup now; ``None`` when sealed. Errors are recorded, not raised."""
        keyring = self._keyring()
        if keyring is None:
            return None
        self.status.runs += 1
        try:
            manifest = backup_database(
                self._db, self._target, keyring=keyring, key_window_s=self._key_window_s
            )
            self._on_snapshot(manifest)
        except StrongroomError as exc:
            # A full disk or an unreachable target: no snapshot was counted as
            # good (the manifest is written last), and the next tick retries.
            self.status.last_error = exc.diagnostics()
            self.status.last_error_at = self._clock()
            log.warning("scheduled backup failed: %s", exc.diagnostics())
            return None
        self.status.last_success = self._clock()
        self.status.last_snapshot = manifest.snapshot_id
        log.info("scheduled backup done", extra={"snapshot": manifest.snapshot_id})
        return manifest

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.run_once()
