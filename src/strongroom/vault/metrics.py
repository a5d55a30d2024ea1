"""Gauges read from the vault at scrape time: seal state, KEK versions, the ledger.

Counters live in :mod:`strongroom.observability.metrics` and move as things
happen; these describe state, so they are read when Prometheus asks (a few
indexed reads, no table scan). If the database cannot be read, the state
families are left out of that scrape and ``strongroom_metrics_state_up`` is 0.

Example::

    >>> from prometheus_client import CollectorRegistry
    >>> VaultCollector.__name__
    'VaultCollector'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from strongroom.errors import StrongroomError
from strongroom.storage.audit import AuditRepository
from strongroom.storage.repositories import KeyRepository
from strongroom.types import SealState

if TYPE_CHECKING:
    from strongroom.vault.service import Vault

__all__ = ["VaultCollector"]


class VaultCollector(Collector):
    """A Prometheus collector over one vault (register it in a per-app registry)."""

    def __init__(self, vault: Vault, clock: Callable[[], float] = time.time) -> None:
        self._vault = vault
        self._clock = clock

    def describe(self) -> list[GaugeMetricFamily]:
        """No families up front: the registry calls :meth:`collect` only when scraped."""
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The state families (see the module docstring)."""
        state = self._vault.state()
        seal = GaugeMetricFamily(
            "strongroom_seal_state",
            "1 for the vault's current seal state, 0 for the others.",
            labels=["state"],
        )
        for s in SealState:
            seal.add_metric([s.value], 1.0 if s is state else 0.0)
        yield seal
        up = GaugeMetricFamily(
            "strongroom_metrics_state_up",
            "1 when the vault's state could be read for this scrape, else 0.",
        )
        try:
            families = list(self._state_families())
        except StrongroomError:
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from families

    def _state_families(self) -> Iterator[GaugeMetricFamily]:
        with self._vault.db.read() as conn:
            versions = KeyRepository(conn).list_versions()
            audit = AuditRepository(conn)
            size = audit.size()
            latest = audit.latest_checkpoint()
        live = [v for v in versions if v.retired_at is None]
        current = max((v.version for v in live), default=0)
        kek = GaugeMetricFamily(
            "strongroom_kek_versions",
            "KEK versions by state: current (new writes), previous (still decrypting), retired.",
            labels=["state"],
        )
        kek.add_metric(["current"], 1.0 if current else 0.0)
        kek.add_metric(["previous"], float(max(len(live) - 1, 0)))
        kek.add_metric(["retired"], float(len(versions) - len(live)))
        yield kek
        yield GaugeMetricFamily(
            "strongroom_kek_current_version",
            "The KEK version new writes are sealed under (0: none yet).",
            value=float(current),
        )
        used = GaugeMetricFamily(
            "strongroom_kek_encryptions",
            "Encryptions done under each KEK version still in use (a durable upper bound).",
            labels=["version"],
        )
        for v in live:
            used.add_metric([str(v.version)], float(v.encryptions))
        yield used
        yield GaugeMetricFamily(
            "strongroom_ledger_entries", "Entries in the audit log.", value=float(size)
        )
        signed = 0 if latest is None else latest.size
        yield GaugeMetricFamily(
            "strongroom_ledger_unsigned_entries",
            "Audit entries not yet covered by a signed checkpoint.",
            value=float(max(size - signed, 0)),
        )
        if latest is not None:
            yield GaugeMetricFamily(
                "strongroom_ledger_checkpoint_age_seconds",
                "Seconds since the newest signed checkpoint was made.",
                value=max(self._clock() - latest.created_at, 0.0),
            )
