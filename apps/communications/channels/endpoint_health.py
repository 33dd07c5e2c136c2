"""Subscriber webhook endpoints that keep failing are disabled, and their owner is told.

Every webhook delivery that ends `failed` (a permanent refusal, or transient errors until
the retries ran out) adds one to the subscriber's `webhook_failures`; a delivered one resets
it to zero. At `CLARION_WEBHOOK_DISABLE_AFTER` failed deliveries in a row (default 5) the
endpoint is disabled: `webhook_disabled_at` is set, the subscriber is told by e-mail (when
it has an address; the reason says so when it has none) and the audit log records it.

A disabled endpoint gets no new deliveries: the fan-out still writes its Delivery row (so the
message page counts it) but marks it `failed` at once with the reason, and nothing is
posted. `subscriber_webhook_enable()` (apps.subscribers.services) turns it back on: the
subscriber from the manage page the notice links to, staff from the admin or the API; a new
webhook URL starts afresh too.
"""

from __future__ import annotations

import logging
import smtplib
from collections import Counter
from collections.abc import Sequence

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.communications.choices import ChannelKey, DeliveryStatus
from apps.communications.context import subscriber_links
from apps.communications.models import Delivery
from apps.core.audit import audit_record
from apps.core.tenancy import current_tenant
from apps.subscribers.models import Subscriber

logger = logging.getLogger(__name__)
ACTOR = "Clarion (webhook health)"
DISABLED_REASON = (
    "The webhook endpoint is disabled after repeated failures; the subscriber turns it back "
    "on from the subscription page."
)


def disable_after() -> int:
    return max(1, int(getattr(settings, "CLARION_WEBHOOK_DISABLE_AFTER", 5)))


def skip_disabled(message_id: int) -> int:
    """Fail the message's pending webhook deliveries to disabled endpoints (none is sent)."""
    return Delivery.objects.filter(
        message_id=message_id,
        channel=ChannelKey.WEBHOOK,
        status=DeliveryStatus.PENDING,
        subscriber__webhook_disabled_at__isnull=False,
    ).update(status=DeliveryStatus.FAILED, error=DISABLED_REASON)


def record(channel: str, delivery_ids: Sequence[int]) -> list[int]:
    """Count the final outcomes of these webhook deliveries; return the subscribers whose
    endpoint this disabled."""
    if channel != ChannelKey.WEBHOOK or not delivery_ids:
        return []
    rows = list(
        Delivery.objects.filter(pk__in=delivery_ids)
        .exclude(error=DISABLED_REASON)
        .values_list("subscriber_id", "status", "error")
    )
    delivered = {s for s, status, _ in rows if status == DeliveryStatus.SENT}
    failed = Counter(s for s, status, _ in rows if status == DeliveryStatus.FAILED)
    last_error = {s: error for s, status, error in rows if status == DeliveryStatus.FAILED}
    if delivered:
        Subscriber.objects.filter(pk__in=delivered).update(webhook_failures=0)
    for subscriber_id, n in failed.items():
        Subscriber.objects.filter(pk=subscriber_id).update(
            webhook_failures=F("webhook_failures") + n
        )
    due = Subscriber.objects.filter(
        pk__in=list(failed),
        webhook_failures__gte=disable_after(),
        webhook_disabled_at__isnull=True,
    ).values_list("pk", flat=True)
    return [pk for pk in due if _disable(pk, last_error.get(pk, ""))]


@transaction.atomic
def _disable(subscriber_id: int, error: str) -> bool:
    now = timezone.now()
    subscriber = Subscriber.objects.select_for_update().filter(pk=subscriber_id).first()
    if subscriber is None or subscriber.webhook_disabled_at is not None:
        return False  # another worker disabled it first
    reason = f"{subscriber.webhook_failures} deliveries failed in a row; last: {error}"[:500]
    subscriber.webhook_disabled_at = now
    subscriber.webhook_disabled_reason = reason
    subscriber.save(update_fields=["webhook_disabled_at", "webhook_disabled_reason"])
    audit_record(
        actor=ACTOR,
        action="subscriber.webhook_disabled",
        obj=subscriber,
        details={"url": subscriber.webhook_url, "reason": reason},
    )
    transaction.on_commit(lambda: notify_disabled(subscriber_id))
    return True


def notify_disabled(subscriber_id: int) -> bool:
    """E-mail the subscriber that its endpoint is disabled, and how to turn it back on."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None or subscriber.webhook_disabled_at is None:
        return False
    if not subscriber.email:
        Subscriber.objects.filter(pk=subscriber_id).update(
            webhook_disabled_reason=(
                f"{subscriber.webhook_disabled_reason[:440]} (no e-mail address to tell)"
            )
        )
        return False
    company = current_tenant().name
    links = subscriber_links(subscriber.manage_token)
    body = (
        f"Hello{' ' + subscriber.name if subscriber.name else ''},\n\n"
        f"{company} could not deliver status notifications to your webhook endpoint\n"
        f"{subscriber.webhook_url}\n\n"
        f"Why: {subscriber.webhook_disabled_reason}\n\n"
        "We have stopped sending to it. Once it answers again, turn it back on here:\n"
        f"{links['manage']}\n\n{company}"
    )
    try:
        send_mail(
            f"{company}: your webhook endpoint is disabled",
            body,
            settings.DEFAULT_FROM_EMAIL,
            [subscriber.email],
        )
    except (OSError, smtplib.SMTPException):
        logger.exception("subscriber %s: the webhook-disabled notice was not sent", subscriber_id)
        return False
    return True
