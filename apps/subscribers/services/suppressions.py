"""Suppression use-cases: never send to an address on a channel again, or lift that."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.core.audit import Actor, audit_record
from apps.core.exceptions import ValidationFailed
from apps.subscribers.choices import SubscriberChannel, SuppressionReason
from apps.subscribers.models import Suppression
from apps.subscribers.validators import URL_MAX, normalize_email, normalize_phone


def suppression_address(channel: str, address: str) -> str:
    """`address` as the channel's subscribers store it (lower-case e-mail, E.164 phone,
    trimmed URL); raises ValidationError if it is not one."""
    if channel == SubscriberChannel.EMAIL:
        return normalize_email(address)
    if channel == SubscriberChannel.SMS:
        return normalize_phone(address)
    url = address.strip()
    if not url or len(url) > URL_MAX:
        raise ValidationError(f"Give the URL (at most {URL_MAX} characters).")
    return url


@transaction.atomic
def suppression_add(
    *, channel: str, address: str, reason: str, actor: Actor, note: str = ""
) -> Suppression:
    """Never send to `address` on `channel` again. An address already suppressed keeps its
    first reason and is returned unchanged."""
    errors: dict[str, list[str]] = {}
    if channel not in SubscriberChannel.values:
        errors["channel"] = [
            f"Unknown channel {channel!r}: use one of {', '.join(SubscriberChannel.values)}."
        ]
    if reason not in SuppressionReason.values:
        errors["reason"] = [
            f"Unknown reason {reason!r}: use one of {', '.join(SuppressionReason.values)}."
        ]
    normalised = ""
    if not errors:
        try:
            normalised = suppression_address(channel, address)
        except ValidationError as exc:
            errors["address"] = [str(m) for m in exc.messages]
    if errors:
        raise ValidationFailed("The address cannot be suppressed.", fields=errors)
    suppression, created = Suppression.objects.get_or_create(
        channel=channel, address=normalised, defaults={"reason": reason, "note": note[:500]}
    )
    if created:
        audit_record(
            actor=actor,
            action="suppression.added",
            obj=suppression,
            details={"channel": channel, "reason": reason},
        )
    return suppression


@transaction.atomic
def suppression_remove(*, suppression: Suppression, actor: Actor) -> None:
    """Send to the address again (e.g. a bounce that was the provider's fault)."""
    audit_record(
        actor=actor,
        action="suppression.removed",
        obj=suppression,
        details={"channel": suppression.channel, "reason": suppression.reason},
    )
    suppression.delete()
