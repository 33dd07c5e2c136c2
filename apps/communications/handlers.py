"""What the communications engine does when the incident domain announces something.

An update posted with `deliver_notifications` on a confirmed, top-level incident becomes a
message: the first one an initial alert, later ones progress updates, the resolution a
resolution. Messages that need no approval (P3/P4 by default) are published at once;
the others wait as drafts for a communications approver. A child incident never messages
customers by itself: its parent's thread speaks for it.
"""

from __future__ import annotations

import logging

from apps.communications.choices import MessageKind
from apps.communications.models import Message
from apps.communications.services import message_draft, message_publish
from apps.core.events import DomainEvent, subscribe
from apps.core.exceptions import ApplicationError
from apps.incidents import events
from apps.incidents.choices import IncidentStatus
from apps.incidents.models import IncidentUpdate

logger = logging.getLogger(__name__)
ACTOR = "Clarion"


def message_for_update(event: DomainEvent) -> None:
    update_id = event.data.get("update_id")
    if not update_id or event.data.get("deliver_notifications") is False:
        return
    update = IncidentUpdate.objects.select_related("incident").filter(pk=update_id).first()
    if update is None or not update.deliver_notifications or not update.is_public:
        return
    incident = update.incident
    if not incident.customer_impact_confirmed or incident.parent_id is not None:
        return
    if update.status == IncidentStatus.RESOLVED:
        kind = MessageKind.RESOLUTION
    elif Message.objects.filter(incident=incident).exists():
        kind = MessageKind.PROGRESS_UPDATE
    else:
        kind = MessageKind.INITIAL_ALERT
    try:
        message = message_draft(kind=kind, update=update, actor=ACTOR)
        if not message.requires_approval:
            message_publish(message=message, actor=ACTOR)
    except ApplicationError as exc:
        # The draft stays in the portal with its problem for a person to fix.
        logger.warning(
            "update %s: message not published: %s %s", update_id, exc.message, exc.fields
        )


def connect() -> None:
    subscribe(events.UPDATE_POSTED, message_for_update)
    subscribe(events.INCIDENT_RESOLVED, message_for_update)
