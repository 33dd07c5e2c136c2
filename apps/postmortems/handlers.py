"""What the post-mortem app does when incidents (and the cadence engine) announce something.

- `incident.resolved` (a top-level incident): compute the SLA credits, then create the
  post-incident review the severity policy asks for. This app is listed before
  communications in TENANT_APPS, so the credits exist before the resolution message is
  drafted and rendered (its SLA paragraph reads them per recipient).
- `incident.extended_outage` (from communications' cadence): pre-approve the credits of
  the customers whose month-to-date uptime has already crossed a threshold.
- `maintenance.completed`: when the window ended more than 2 h after its planned end,
  propose credits for the customers it affected (staff approve them in the portal).
"""

from __future__ import annotations

import logging

from apps.core.events import DomainEvent, subscribe
from apps.incidents import events
from apps.incidents.models import Incident, MaintenanceWindow
from apps.postmortems.services import (
    credits_compute,
    overrun_credits_compute,
    review_create_for,
)

logger = logging.getLogger(__name__)
ACTOR = "Clarion"
EXTENDED_OUTAGE = "incident.extended_outage"  # emitted by apps.communications (cadence)


def on_resolved(event: DomainEvent) -> None:
    incident = Incident.objects.filter(pk=int(event.data["incident_id"])).first()
    if incident is None or incident.parent_id is not None:
        return  # a child's downtime counts in its parent's computation
    if incident.customer_impact_confirmed and not incident.false_alarm:
        credits_compute(incident=incident, actor=ACTOR)
    review_create_for(incident=incident, actor=ACTOR)


def on_extended_outage(event: DomainEvent) -> None:
    incident = Incident.objects.filter(pk=int(event.data["incident_id"])).first()
    if incident is None or not incident.customer_impact_confirmed or incident.parent_id:
        return
    credits_compute(incident=incident, pre_approve=True, actor=ACTOR)


def on_maintenance_completed(event: DomainEvent) -> None:
    window = MaintenanceWindow.objects.filter(pk=int(event.data["window_id"])).first()
    if window is None:
        return
    overrun_credits_compute(window=window, actor=ACTOR)


def connect() -> None:
    subscribe(events.INCIDENT_RESOLVED, on_resolved)
    subscribe(EXTENDED_OUTAGE, on_extended_outage)
    subscribe(events.MAINTENANCE_COMPLETED, on_maintenance_completed)
