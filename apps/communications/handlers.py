"""What the communications engine does when the incident domain announces something.

An update posted with `deliver_notifications` on a confirmed, top-level incident becomes a
message: the first one an initial alert, later ones progress updates, the resolution a
resolution. Messages that need no approval (P3/P4 by default) are published at once;
the others wait as drafts for a communications approver. A child incident never messages
customers by itself: its parent's thread speaks for it (and the audience of a message is
one delivery per subscriber and channel, however many children affect that subscriber).

The first progress message of an extended outage (no ETA for longer than the threshold)
uses the extended-outage wording: what we know, and what we don't know yet.

A false alarm that customers heard of gets a `false_alarm` apology, sent only to the
subscribers who received something about it, on the channels they received it on (see
`apps.communications.audience`); whatever about it had not gone out yet is cancelled.
Maintenance events are handled in `apps.communications.maintenance`.
"""

from __future__ import annotations

import logging

from apps.communications import maintenance
from apps.communications.choices import MessageKind, MessageState, ReminderKind
from apps.communications.models import Message, Reminder
from apps.communications.services import (
    message_cancel,
    message_draft,
    message_publish,
    told_channels,
)
from apps.core.events import DomainEvent, subscribe
from apps.core.exceptions import ApplicationError
from apps.incidents import events
from apps.incidents.choices import IncidentStatus
from apps.incidents.models import Incident, IncidentUpdate
from apps.incidents.selectors import incident_clocks

logger = logging.getLogger(__name__)
ACTOR = "Clarion"
THREAD_KINDS = (
    MessageKind.INITIAL_ALERT,
    MessageKind.PROGRESS_UPDATE,
    MessageKind.EXTENDED_OUTAGE,
)


def _extended_wording(incident: Incident) -> bool:
    """Still no ETA, the outage is extended (the tick marked it, or its clock says so) and
    no message in the extended-outage wording went out for it yet."""
    if incident.eta is not None:
        return False
    already = Message.objects.filter(incident=incident, kind=MessageKind.EXTENDED_OUTAGE)
    if already.exclude(state=MessageState.CANCELLED).exists():
        return False
    marked = Reminder.objects.filter(incident=incident, kind=ReminderKind.EXTENDED_OUTAGE)
    return marked.exists() or incident_clocks(incident).extended_outage


def _publish(message: Message) -> None:
    if not message.requires_approval:
        message_publish(message=message, actor=ACTOR)


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
    elif Message.objects.filter(incident=incident, kind__in=THREAD_KINDS).exists():
        kind = MessageKind.PROGRESS_UPDATE
        if _extended_wording(incident):
            kind = MessageKind.EXTENDED_OUTAGE
    else:
        kind = MessageKind.INITIAL_ALERT
    try:
        _publish(message_draft(kind=kind, update=update, actor=ACTOR))
    except ApplicationError as exc:
        # The draft stays in the portal with its problem for a person to fix.
        logger.warning(
            "update %s: message not published: %s %s", update_id, exc.message, exc.fields
        )


def apology_for_false_alarm(event: DomainEvent) -> None:
    if not event.data.get("was_public"):
        return  # customers never heard of it
    incident_id = event.data.get("incident_id")
    incident = Incident.objects.filter(pk=incident_id).first() if incident_id else None
    if incident is None:
        return
    for waiting in Message.objects.filter(
        incident=incident, state__in=(MessageState.DRAFT, MessageState.APPROVED)
    ):
        message_cancel(message=waiting, actor=ACTOR)
    chosen = told_channels(incident)  # wherever they heard of it, whatever the policy now
    if not chosen:
        return  # nothing went out: nobody to apologise to
    try:
        _publish(
            message_draft(
                kind=MessageKind.FALSE_ALARM, incident=incident, channels=chosen, actor=ACTOR
            )
        )
    except ApplicationError as exc:
        logger.warning(
            "incident %s: false alarm apology not published: %s %s",
            incident.pk,
            exc.message,
            exc.fields,
        )


def connect() -> None:
    subscribe(events.UPDATE_POSTED, message_for_update)
    subscribe(events.INCIDENT_RESOLVED, message_for_update)
    subscribe(events.INCIDENT_FALSE_ALARM, apology_for_false_alarm)
    maintenance.connect()
