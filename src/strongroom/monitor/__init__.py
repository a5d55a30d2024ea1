"""Security monitoring: detectors over the audit log, alerts, and the replay harness.

Read-only over the vault (ARCHITECTURE.md §7): the monitor reads audit
entries and emits alerts; the API records each alert in the audit log,
counts it in ``strongroom_alerts_total{kind}`` and posts it to webhooks.
"""

from strongroom.monitor.activity import Activity
from strongroom.monitor.alert import Alert, AlertKind, Severity, Thresholds
from strongroom.monitor.monitor import Monitor

__all__ = ["Activity", "Alert", "AlertKind", "Monitor", "Severity", "Thresholds"]
