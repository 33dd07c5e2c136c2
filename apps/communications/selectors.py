"""Reads of messages and their deliveries."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, QuerySet

from apps.communications.choices import DeliveryStatus
from apps.communications.models import Delivery, Message

FAILURES_SHOWN = 50


def messages_for_incident(incident_id: int) -> QuerySet[Message]:
    return Message.objects.filter(incident_id=incident_id).order_by("-created_at", "-id")


def delivery_counts(message: Message) -> dict[str, dict[str, int]]:
    """Channel -> status -> number of deliveries (one query)."""
    counts: defaultdict[str, dict[str, int]] = defaultdict(dict)
    rows = (
        Delivery.objects.filter(message=message)
        .values("channel", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[row["channel"]][row["status"]] = row["n"]
    return dict(counts)


def delivery_failures(message: Message) -> list[dict[str, Any]]:
    """The failed deliveries with their reasons (the first 50)."""
    rows = (
        Delivery.objects.filter(message=message, status=DeliveryStatus.FAILED)
        .select_related("subscriber")
        .order_by("id")[:FAILURES_SHOWN]
    )
    return [
        {
            "subscriber": row.subscriber_id,
            "channel": row.channel,
            "attempts": row.attempts,
            "error": row.error,
        }
        for row in rows
    ]
