"""The resolution message's SLA paragraph, per recipient: a recipient context provider
(apps.communications.context.recipient_context) giving `sla_credit` - the amount in the
customer's currency - to the people of customers this incident earned a credit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from apps.communications.choices import MessageKind
from apps.communications.models import Message
from apps.postmortems.choices import CreditState
from apps.postmortems.models import SlaCredit
from apps.subscribers.models import Subscriber


def money(amount: Decimal, currency: str) -> str:
    """`EUR 1,250.50`: the ISO code, so that every currency reads the same way."""
    return f"{currency} {amount:,.2f}"


def sla_credit_values(
    message: Message, subscribers: Sequence[Subscriber]
) -> Mapping[int, Mapping[str, Any]]:
    if message.kind != MessageKind.RESOLUTION or message.incident_id is None:
        return {}
    customer_ids = {s.customer_id for s in subscribers if s.customer_id is not None}
    if not customer_ids:
        return {}
    totals = (
        SlaCredit.objects.filter(incident_id=message.incident_id, customer_id__in=customer_ids)
        .exclude(state=CreditState.WAIVED)
        .values("customer_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    text = {
        row["customer_id"]: money(row["total"], row["currency"])
        for row in totals
        if row["total"] and row["total"] > 0
    }
    return {s.pk: {"sla_credit": text[s.customer_id]} for s in subscribers if s.customer_id in text}
