"""Per-tenant periodic jobs (listed in CLARION_TENANT_PERIODIC_JOBS; each may run twice)."""

from __future__ import annotations

from apps.incidents.selectors import incidents_extended_outage
from apps.postmortems.services import credits_compute, reminders_send

ACTOR = "Clarion"


def reminders() -> dict[str, int]:
    """Review owners 24 h before the deadline and when overdue; action items when due."""
    return reminders_send()


def extended_outage_credits() -> int:
    """As an extended outage goes on, pre-approve the credits of the customers whose
    month-to-date uptime crossed a threshold since the last tick."""
    changed = 0
    for incident in incidents_extended_outage().filter(
        customer_impact_confirmed=True, parent__isnull=True
    ):
        changed += len(credits_compute(incident=incident, pre_approve=True, actor=ACTOR))
    return changed
