"""Bounces and complaints from the e-mail provider, through anymail's tracking webhooks.

The provider posts its events to `https://<tenant host>/anymail/<esp>/tracking/` (e.g.
`/anymail/sendgrid/tracking/`, `/anymail/postmark/tracking/`), with HTTP basic auth
`ANYMAIL_WEBHOOK_SECRET` ("user:password") in the URL it is given. anymail checks the auth,
normalises the event and sends its `tracking` signal; `tracking_event_record` then:

- suppresses the address on the e-mail channel (bounced, complained; an ESP rejection for a
  bad or bouncing address counts as a bounce, one for spam as a complaint), so that no
  later message goes to it; a bounce the provider calls temporary (a soft bounce) fails
  the delivery but does not suppress the address;
- fails the delivery the event is about (found by the provider's message id in the attempt
  log) with the reason, when it bounced or was rejected: it never arrived;
- fails every still-pending e-mail delivery to that address, so nothing queued is sent.

Deliveries, other events (delivered, opened, deferred...) and unknown addresses change
nothing. The URLs are mounted by the tenant URLconf through this module (`urlpatterns`),
which also connects the signal: no event can arrive before the receiver is connected.
Without a secret configured the URLs answer 403, since anyone could otherwise suppress
addresses.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from anymail import urls as anymail_urls
from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import URLPattern, path

from apps.communications.choices import AttemptOutcome, ChannelKey, DeliveryStatus
from apps.communications.models import Delivery, DeliveryAttempt
from apps.core.audit import audit_record
from apps.core.exceptions import ValidationFailed
from apps.core.tenancy import current_schema
from apps.subscribers.choices import SuppressionReason
from apps.subscribers.services.suppressions import suppression_add

logger = logging.getLogger(__name__)

_REJECTED_AS = {
    RejectReason.BOUNCED: SuppressionReason.BOUNCED,
    RejectReason.INVALID: SuppressionReason.BOUNCED,
    RejectReason.SPAM: SuppressionReason.COMPLAINED,
    RejectReason.UNSUBSCRIBED: SuppressionReason.UNSUBSCRIBED,
}


# Bounces the provider itself calls temporary (Postmark's `SoftBounce`, SendGrid's `blocked`
# bounce type): the delivery failed, but the address stays usable.
_SOFT_BOUNCES = {("Type", "SoftBounce"), ("type", "blocked")}


def soft_bounce(esp_event: Any) -> bool:
    if not isinstance(esp_event, dict):
        return False
    return any(esp_event.get(key) == value for key, value in _SOFT_BOUNCES)


def _suppression_reason(event_type: str, reject_reason: str | None, soft: bool) -> str | None:
    if soft:
        return None
    if event_type == EventType.BOUNCED:
        return SuppressionReason.BOUNCED
    if event_type == EventType.COMPLAINED:
        return SuppressionReason.COMPLAINED
    if event_type == EventType.REJECTED:
        return _REJECTED_AS.get(reject_reason or "")
    return None


@transaction.atomic
def tracking_event_record(
    *,
    event_type: str,
    recipient: str | None,
    message_id: str | None,
    description: str = "",
    reject_reason: str | None = None,
    soft: bool = False,
    esp: str = "",
) -> dict[str, Any]:
    """Apply one provider event; returns what it changed (for logs and tests)."""
    if event_type not in (EventType.BOUNCED, EventType.COMPLAINED, EventType.REJECTED):
        return {}
    actor = f"{esp or 'E-mail provider'} tracking webhook"
    words = {EventType.BOUNCED: "bounced", EventType.COMPLAINED: "complaint"}
    label = words.get(event_type, f"rejected ({reject_reason or 'other'})")
    if soft:
        label = "soft bounce"
    reason_text = f"{label}: {description}".strip().rstrip(":")[:500]
    done: dict[str, Any] = {"suppressed": None, "failed": []}
    reason = _suppression_reason(event_type, reject_reason, soft)
    if reason and recipient:
        try:
            suppression = suppression_add(
                channel=ChannelKey.EMAIL,
                address=recipient,
                reason=reason,
                note=f"{esp} {reason_text}"[:500],
                actor=actor,
            )
            done["suppressed"] = suppression.address
            recipient = suppression.address
        except ValidationFailed as exc:
            logger.warning("tracking event for %r not suppressed: %s", recipient, exc.fields)
    failed: list[int] = []
    if message_id and event_type != EventType.COMPLAINED:  # a complaint was delivered
        ids = DeliveryAttempt.objects.filter(
            provider_id=message_id,
            outcome=AttemptOutcome.SENT,
            delivery__channel=ChannelKey.EMAIL,
        ).values_list("delivery_id", flat=True)
        matched = Delivery.objects.filter(pk__in=list(ids)).exclude(status=DeliveryStatus.FAILED)
        failed += list(matched.values_list("pk", flat=True))
        matched.update(status=DeliveryStatus.FAILED, error=reason_text)
    if reason and recipient:
        still_open = Delivery.objects.filter(
            channel=ChannelKey.EMAIL,
            status=DeliveryStatus.PENDING,
            subscriber__email=recipient,
        )
        failed += list(still_open.values_list("pk", flat=True))
        still_open.update(
            status=DeliveryStatus.FAILED,
            error=f"not sent: {recipient} is suppressed ({reason_text})"[:500],
        )
    done["failed"] = failed
    if failed:
        audit_record(
            actor=actor,
            action="delivery.failed_by_provider",
            details={"deliveries": failed, "reason": reason_text, "message_id": message_id},
        )
    return done


def on_tracking(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    """anymail's `tracking` signal, in the tenant schema of the request's host."""
    if current_schema() == "public":
        return
    description = event.mta_response or event.description or ""
    result = tracking_event_record(
        event_type=event.event_type,
        recipient=event.recipient,
        message_id=event.message_id,
        description=str(description),
        reject_reason=event.reject_reason,
        soft=soft_bounce(event.esp_event),
        esp=esp_name,
    )
    if result:
        logger.info("%s %s for %s: %s", esp_name, event.event_type, event.recipient, result)


tracking.connect(on_tracking, dispatch_uid="clarion-communications-tracking")


def _secret_configured() -> bool:
    anymail = getattr(settings, "ANYMAIL", {}) or {}
    return bool(anymail.get("WEBHOOK_SECRET") or getattr(settings, "ANYMAIL_WEBHOOK_SECRET", ""))


def _guarded(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)  # keeps the view's csrf_exempt
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not _secret_configured():
            return HttpResponseForbidden(
                "Set ANYMAIL_WEBHOOK_SECRET (user:password) to receive provider events."
            )
        return view(request, *args, **kwargs)

    return wrapped


# anymail's tracking URLs (not its inbound-mail ones), each behind the secret check.
urlpatterns: list[URLPattern] = [
    path(str(p.pattern), _guarded(p.callback), name=p.name or "")
    for p in anymail_urls.urlpatterns
    if isinstance(p, URLPattern) and str(p.pattern).endswith("/tracking/")
]
