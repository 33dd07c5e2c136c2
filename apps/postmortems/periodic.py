"""Per-tenant periodic jobs (listed in CLARION_TENANT_PERIODIC_JOBS; each may run twice)."""

from __future__ import annotations

from apps.incidents.selectors import incidents_extended_outage
from apps.postmortems.salesforce import credits_salesforce_claim_due
from apps.postmortems.services import credits_compute, reminders_send
from apps.postmortems.tasks import push_credits

ACTOR = "Clarion"
PUSH_BATCH = 50


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


def salesforce_credits() -> int:
    """Queue again the approved credits Salesforce does not show as they are (not pushed
    yet, or their amount changed since), each at most once per interval: what a push task
    gave up on during a Salesforce outage, or after credentials were refused, is caught up.
    Credits Salesforce refused wait for a person (or a new amount)."""
    ids = credits_salesforce_claim_due()
    for start in range(0, len(ids), PUSH_BATCH):
        push_credits.apply_async((ids[start : start + PUSH_BATCH],), queue="integrations")
    return len(ids)
