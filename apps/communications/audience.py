"""Who receives a message on a channel.

Normally the subscribers issue's `audience_for` the message's incident or maintenance
window, narrowed by the message's segment (an executive note goes to enterprise customers
only). A resolution also goes to everyone an earlier message about the incident reached on
that channel, even if the incident's services or regions were narrowed since, or its
severity lowered so that the policy no longer lists that channel (they were told of a
problem and must hear that it is over). A false alarm's apology is the
exception: it goes only to the subscribers an earlier message about the same incident
reached, or is still about to reach, on that channel. So does a maintenance window's
cancellation: only the people told of the window hear that it is off.
Deliveries still pending count as reached because the sweep will send them; failed ones do
not (the person never heard of the incident). Everyone else never heard of it, and an
apology would only confuse them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from apps.communications.choices import CLOSING_KINDS, DeliveryStatus, MessageKind
from apps.communications.models import Delivery, Message
from apps.subscribers.models import Subscriber
from apps.subscribers.selectors import audience_for

REACHED = (DeliveryStatus.SENT, DeliveryStatus.PENDING, DeliveryStatus.SENDING)


def reached_subscribers(
    *,
    channel: str,
    incident_id: int | None = None,
    maintenance_id: int | None = None,
    exclude_message_id: int | None = None,
) -> QuerySet[Delivery, Any]:
    """Ids (a subquery) of the subscribers a message about the incident (or the maintenance
    window) reached on `channel` (sent, or pending and still to be sent)."""
    if (incident_id is None) == (maintenance_id is None):
        raise ValueError("Give exactly one of incident_id and maintenance_id.")
    about = (
        Q(message__incident_id=incident_id)
        if incident_id
        else Q(message__maintenance_id=maintenance_id)
    )
    rows = Delivery.objects.filter(about, channel=channel, status__in=REACHED)
    if exclude_message_id is not None:
        rows = rows.exclude(message_id=exclude_message_id)
    return rows.values("subscriber_id")


def message_audience(message: Message, channel: str, *, kind: str) -> QuerySet[Subscriber]:
    """The subscribers `message` goes to on `channel` (`kind` is the subscription kind:
    incidents, maintenance or post-mortems). Unsubscribed and suppressed people are left
    out in every case, because the result is always within `audience_for`."""
    told = None
    if message.kind in CLOSING_KINDS and message.incident_id is not None:
        told = reached_subscribers(
            incident_id=message.incident_id, channel=channel, exclude_message_id=message.pk
        )
    if message.kind == MessageKind.MAINTENANCE_CANCELLED and message.maintenance_id is not None:
        told = reached_subscribers(
            maintenance_id=message.maintenance_id, channel=channel, exclude_message_id=message.pk
        )
    qs = audience_for(
        incident=message.incident,
        maintenance=message.maintenance,
        channel=channel,
        kind=kind,
        segment=message.segment,
        also=told,
    )
    if message.kind in (MessageKind.FALSE_ALARM, MessageKind.MAINTENANCE_CANCELLED):
        qs = qs.filter(pk__in=told)  # only who was told; `also` kept those since narrowed
    return qs
