"""Per-tenant periodic jobs of the integrations app (listed in CLARION_TENANT_PERIODIC_JOBS,
run every minute by `core.tenant_tick`). Both are safe to run twice."""

from __future__ import annotations

from apps.integrations.services import inbound_events_sweep
from apps.integrations.services import triage_close_quiet as _triage_close_quiet


def triage_close_quiet() -> int:
    """Close quietly the triage incidents whose alerts all recovered a quiet period ago."""
    return _triage_close_quiet()


def events_sweep() -> int:
    """Queue again the events whose processing task was lost."""
    return inbound_events_sweep()
