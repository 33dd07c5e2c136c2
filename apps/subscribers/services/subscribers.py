"""Subscriber use-cases: create, update, confirm, unsubscribe, delete."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.audit import Actor, audit_record
from apps.core.events import emit
from apps.core.exceptions import Conflict, ValidationFailed
from apps.incidents.models import Service
from apps.incidents.models.catalog import validate_time_zone
from apps.subscribers.choices import (
    CHANNEL_ADDRESS_FIELD,
    SubscriberChannel,
    SubscriberSource,
    SubscriptionKind,
    SuppressionReason,
)
from apps.subscribers.models import Subscriber, Subscription, Suppression
from apps.subscribers.services.common import (
    ALL,
    UNCHANGED,
    FieldErrors,
    Unchanged,
    changes,
    check,
    check_choices,
    printable,
    resolve_customer,
    resolve_region,
    resolve_services,
)
from apps.subscribers.validators import (
    normalize_email,
    normalize_locale,
    normalize_phone,
    validate_webhook_url,
)

NAME_MAX = 200
CONTACT_FIELDS = ("email", "phone", "webhook_url", "slack_webhook_url", "teams_webhook_url")
CHANNEL_NEEDS = {
    SubscriberChannel.EMAIL: "an e-mail address",
    SubscriberChannel.SMS: "a phone number",
    SubscriberChannel.WEBHOOK: "a webhook URL",
    SubscriberChannel.SLACK: "a Slack webhook URL",
    SubscriberChannel.TEAMS: "a Teams webhook URL",
}
Services = Sequence[str] | str


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _zone(value: str) -> str:
    validate_time_zone(value)
    return value


def _subscriber_fields(
    *,
    email: str | Unchanged,
    phone: str | Unchanged,
    name: str | Unchanged,
    customer: str | Unchanged | None,
    region: str | Unchanged | None,
    time_zone: str | Unchanged,
    locale: str | Unchanged,
    slack_webhook_url: str | Unchanged,
    teams_webhook_url: str | Unchanged,
    webhook_url: str | Unchanged,
) -> tuple[dict[str, Any], FieldErrors]:
    """The Subscriber fields given, validated and normalised; "" clears a field."""
    errors: FieldErrors = {}
    wanted: dict[str, Any] = {}
    if not isinstance(name, Unchanged):
        wanted["name"] = name.strip()
        if len(wanted["name"]) > NAME_MAX:
            errors["name"] = [f"Use at most {NAME_MAX} characters."]
    if not isinstance(email, Unchanged):
        wanted["email"] = check(errors, "email", normalize_email, email) if email.strip() else ""
    if not isinstance(phone, Unchanged):
        wanted["phone"] = check(errors, "phone", normalize_phone, phone) if phone.strip() else ""
    if not isinstance(customer, Unchanged):
        wanted["customer"] = resolve_customer(customer, errors)
    if not isinstance(region, Unchanged):
        wanted["region"] = resolve_region(region, errors)
    if not isinstance(time_zone, Unchanged):
        zone = time_zone.strip()
        wanted["time_zone"] = check(errors, "time_zone", _zone, zone) if zone else ""
    if not isinstance(locale, Unchanged):
        tag = locale.strip()
        wanted["locale"] = check(errors, "locale", normalize_locale, tag) if tag else ""
    for field, url, https_only in (
        ("slack_webhook_url", slack_webhook_url, True),
        ("teams_webhook_url", teams_webhook_url, True),
        ("webhook_url", webhook_url, False),
    ):
        if isinstance(url, Unchanged):
            continue
        if url.strip():

            def _url(value: str, https_only: bool = https_only) -> str:
                return validate_webhook_url(value, https_only=https_only)

            wanted[field] = check(errors, field, _url, url)
        else:
            wanted[field] = ""
    return wanted, errors


def _subscription_fields(
    *,
    contacts: dict[str, str],
    current_channels: list[str],
    services: Services | Unchanged,
    channels: Sequence[str] | Unchanged | None,
    kinds: Sequence[str] | Unchanged | None,
    errors: FieldErrors,
) -> dict[str, Any]:
    """The Subscription fields given (`services` as `all_services` + a list), validated
    against the subscriber's contact fields once the change is made (`contacts`)."""
    wanted: dict[str, Any] = {}
    if not isinstance(services, Unchanged):
        slugs = [services] if isinstance(services, str) else list(services)
        if ALL in slugs:
            wanted["all_services"], wanted["services"] = True, []
        elif not slugs:
            errors.setdefault("services", []).append(
                'Choose at least one service, or "all" for every service.'
            )
        else:
            wanted["all_services"] = False
            wanted["services"] = resolve_services(slugs, errors)
    if not isinstance(kinds, Unchanged):
        given = list(SubscriptionKind.values) if kinds is None else list(kinds)
        wanted["kinds"] = check_choices(given, SubscriptionKind.values, errors, "kinds", "kind")
    reachable = [c for c, field in CHANNEL_ADDRESS_FIELD.items() if contacts.get(field)]
    # An invalid contact detail is reported on its own field: do not also call it missing.
    contacts_valid = not any(field in errors for field in CONTACT_FIELDS)
    if not isinstance(channels, Unchanged):
        given = list(SubscriberChannel.values) if channels is None else list(channels)
        accepted = check_choices(given, SubscriberChannel.values, errors, "channels", "channel")
        if channels is not None and "channels" not in errors and contacts_valid:
            missing = [c for c in accepted if c not in reachable]
            if missing:
                errors["channels"] = [
                    f"{c} needs {CHANNEL_NEEDS[SubscriberChannel(c)]}." for c in missing
                ]
        wanted["channels"] = accepted
    accepted = wanted.get("channels", current_channels)
    if not contacts_valid:
        pass
    elif not any(contacts.values()):
        errors.setdefault("email", []).append(
            "Give an e-mail address, a phone number or a webhook URL to reach the subscriber."
        )
    elif "channels" not in errors and not set(accepted) & set(reachable):
        errors["channels"] = [
            f"None of the accepted channels ({', '.join(accepted)}) can reach this subscriber; "
            f"its contact details allow {', '.join(reachable)}."
        ]
    return wanted


def _check_unique(subscriber: Subscriber | None, wanted: dict[str, Any]) -> None:
    others = Subscriber.objects.exclude(pk=subscriber.pk) if subscriber else Subscriber.objects
    errors: FieldErrors = {}
    for field, label in (("email", "e-mail address"), ("phone", "phone number")):
        value = wanted.get(field)
        if value:
            holder = others.filter(**{field: value}).first()
            if holder is not None:
                errors[field] = [f"Subscriber #{holder.pk} already has this {label}."]
    if errors:
        raise Conflict("Another subscriber has these contact details.", fields=errors)


def _save_subscription(subscription: Subscription, wanted: dict[str, Any]) -> None:
    services: list[Service] | None = wanted.pop("services", None)
    for field, value in wanted.items():
        setattr(subscription, field, value)
    subscription.save()
    if services is not None:
        subscription.services.set(services)


def _subscription_snapshot(subscription: Subscription) -> dict[str, Any]:
    return {
        "all_services": subscription.all_services,
        "services": sorted(s.slug for s in subscription.services.all()),
        "channels": list(subscription.channels),
        "kinds": list(subscription.kinds),
    }


def subscriber_snapshot(subscriber: Subscriber) -> dict[str, Any]:
    """What a person can change about a subscriber, to tell whether a change changed it."""
    fields = {
        f: getattr(subscriber, f)
        for f in (*CONTACT_FIELDS, "name", "customer_id", "region_id", "time_zone", "locale")
    }
    state = {"confirmed": subscriber.confirmed_at is not None, **fields}
    subscription = Subscription.objects.filter(subscriber=subscriber).first()
    return state | (_subscription_snapshot(subscription) if subscription else {})


@transaction.atomic
def subscriber_create(
    *,
    email: str = "",
    phone: str = "",
    name: str = "",
    customer: str | None = None,
    region: str | None = None,
    time_zone: str = "",
    locale: str = "",
    services: Services = ALL,
    channels: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    slack_webhook_url: str = "",
    teams_webhook_url: str = "",
    webhook_url: str = "",
    source: str = SubscriberSource.SELF,
    confirmed: bool = False,
    actor: Actor,
) -> Subscriber:
    """Subscribe a person or endpoint.

    `customer` is the customer's external key, `region` a region code (empty = the
    customer's). `services` is "all" or service slugs; `channels` the channels accepted
    (default: every channel its contact details allow; naming one it cannot be reached on is
    an error); `kinds` incidents, maintenance and/or postmortems (default: all).
    `confirmed=True` skips the confirmation (the tenant vouches for consent); otherwise the
    subscriber receives nothing until `subscriber_confirm`. A webhook URL gets a new signing
    secret."""
    wanted, errors = _subscriber_fields(
        email=email,
        phone=phone,
        name=name,
        customer=customer,
        region=region,
        time_zone=time_zone,
        locale=locale,
        slack_webhook_url=slack_webhook_url,
        teams_webhook_url=teams_webhook_url,
        webhook_url=webhook_url,
    )
    if source not in SubscriberSource.values:
        errors["source"] = [f"Unknown source {source!r}."]
    contacts = {f: wanted[f] or "" for f in CONTACT_FIELDS}
    subscription = _subscription_fields(
        contacts=contacts,
        current_channels=[],
        services=services,
        channels=channels,
        kinds=kinds,
        errors=errors,
    )
    if errors:
        raise ValidationFailed("The subscriber cannot be created.", fields=errors)
    _check_unique(None, wanted)
    now = timezone.now()
    try:
        with transaction.atomic():
            subscriber = Subscriber.objects.create(
                **wanted,
                webhook_secret=new_webhook_secret() if wanted["webhook_url"] else "",
                source=source,
                confirmed_at=now if confirmed else None,
            )
    except IntegrityError as exc:
        raise Conflict(
            "A subscriber with these contact details was created at the same moment.",
            fields={"email": ["Created by another request just now; look it up."]},
        ) from exc
    _save_subscription(Subscription(subscriber=subscriber), subscription)
    audit_record(
        actor=actor,
        action="subscriber.created",
        obj=subscriber,
        details={
            "source": source,
            "confirmed": confirmed,
            "customer": subscriber.customer.external_key if subscriber.customer else None,
        },
    )
    emit("subscriber.created", subscriber_id=subscriber.pk, confirmed=confirmed)
    return subscriber


@transaction.atomic
def subscriber_update(
    *,
    subscriber: Subscriber,
    email: str | Unchanged = UNCHANGED,
    phone: str | Unchanged = UNCHANGED,
    name: str | Unchanged = UNCHANGED,
    customer: str | Unchanged | None = UNCHANGED,
    region: str | Unchanged | None = UNCHANGED,
    time_zone: str | Unchanged = UNCHANGED,
    locale: str | Unchanged = UNCHANGED,
    services: Services | Unchanged = UNCHANGED,
    channels: Sequence[str] | Unchanged | None = UNCHANGED,
    kinds: Sequence[str] | Unchanged | None = UNCHANGED,
    slack_webhook_url: str | Unchanged = UNCHANGED,
    teams_webhook_url: str | Unchanged = UNCHANGED,
    webhook_url: str | Unchanged = UNCHANGED,
    actor: Actor,
) -> Subscriber:
    """Change what is given (same rules as `subscriber_create`; "" clears a contact field,
    None for `customer` or `region` removes it). A new webhook URL gets a new secret and
    starts with no failures (turned on again if the old URL was disabled).
    Changing nothing writes nothing."""
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    subscription, _ = Subscription.objects.get_or_create(subscriber=subscriber)
    wanted, errors = _subscriber_fields(
        email=email,
        phone=phone,
        name=name,
        customer=customer,
        region=region,
        time_zone=time_zone,
        locale=locale,
        slack_webhook_url=slack_webhook_url,
        teams_webhook_url=teams_webhook_url,
        webhook_url=webhook_url,
    )
    contacts = {f: wanted.get(f, getattr(subscriber, f)) or "" for f in CONTACT_FIELDS}
    sub_wanted = _subscription_fields(
        contacts=contacts,
        current_channels=list(subscription.channels),
        services=services,
        channels=channels,
        kinds=kinds,
        errors=errors,
    )
    if errors:
        raise ValidationFailed("The subscriber cannot be changed.", fields=errors)
    _check_unique(subscriber, wanted)

    changed = changes(subscriber, wanted)
    before_subscription = _subscription_snapshot(subscription)
    details = {
        f: {"from": printable(getattr(subscriber, f)), "to": printable(v)}
        for f, v in changed.items()
    }
    if "webhook_url" in changed:
        changed["webhook_secret"] = new_webhook_secret() if changed["webhook_url"] else ""
        # A new endpoint starts afresh: the old one's failures say nothing about it.
        changed.update(webhook_disabled_at=None, webhook_disabled_reason="", webhook_failures=0)
    for field, value in changed.items():
        setattr(subscriber, field, value)
    if changed:
        subscriber.save(update_fields=[*changed, "updated_at"])
    if sub_wanted:
        _save_subscription(subscription, sub_wanted)
    after_subscription = _subscription_snapshot(subscription)
    for key, value in after_subscription.items():
        if before_subscription[key] != value:
            details[key] = {"from": before_subscription[key], "to": value}
    if details:
        audit_record(actor=actor, action="subscriber.updated", obj=subscriber, details=details)
    return subscriber


@transaction.atomic
def subscriber_webhook_enable(*, subscriber: Subscriber, actor: Actor) -> Subscriber:
    """Deliver to the webhook endpoint again after it was disabled for failing (its owner
    says it is fixed); the failure count starts from zero. Nothing to do is no error."""
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if not subscriber.webhook_url:
        raise Conflict(
            f"Subscriber #{subscriber.pk} has no webhook endpoint to turn on.",
            fields={"webhook_url": ["Set a webhook URL first."]},
        )
    if subscriber.webhook_disabled_at is None and not subscriber.webhook_failures:
        return subscriber
    subscriber.webhook_disabled_at = None
    subscriber.webhook_disabled_reason = ""
    subscriber.webhook_failures = 0
    subscriber.save(
        update_fields=["webhook_disabled_at", "webhook_disabled_reason", "webhook_failures"]
    )
    audit_record(actor=actor, action="subscriber.webhook_enabled", obj=subscriber)
    return subscriber


def _addresses(subscriber: Subscriber) -> list[tuple[str, str]]:
    """(channel, address) of the subscriber's e-mail address and phone number."""
    return [
        (channel, subscriber.address_for(channel))
        for channel in (SubscriberChannel.EMAIL, SubscriberChannel.SMS)
        if subscriber.address_for(channel)
    ]


@transaction.atomic
def subscriber_confirm(
    *, subscriber: Subscriber, actor: Actor, resubscribe: bool = False
) -> Subscriber:
    """The subscriber agreed to hear from the tenant: it receives news from now on.

    Someone who unsubscribed comes back only with `resubscribe=True`, which only the person
    may ask for (the public subscription page): then the `unsubscribed` suppressions of its
    addresses are lifted too (bounces and complaints stay). Staff and API keys cannot undo
    an unsubscribe."""
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.confirmed_at is not None and subscriber.unsubscribed_at is None:
        return subscriber
    if subscriber.unsubscribed_at is not None and not resubscribe:
        raise Conflict(
            f"{subscriber} unsubscribed on {subscriber.unsubscribed_at:%Y-%m-%d}; only they can "
            "subscribe again, from the status page.",
            code="unsubscribed",
        )
    was_unsubscribed = subscriber.unsubscribed_at is not None
    subscriber.confirmed_at = subscriber.confirmed_at or timezone.now()
    subscriber.unsubscribed_at = None
    subscriber.save(update_fields=["confirmed_at", "unsubscribed_at", "updated_at"])
    lifted = 0
    for channel, address in _addresses(subscriber):
        lifted += Suppression.objects.filter(
            channel=channel, address=address, reason=SuppressionReason.UNSUBSCRIBED
        ).delete()[0]
    audit_record(
        actor=actor,
        action="subscriber.confirmed",
        obj=subscriber,
        details={"resubscribed": was_unsubscribed, "suppressions_lifted": lifted},
    )
    emit("subscriber.confirmed", subscriber_id=subscriber.pk)
    return subscriber


@transaction.atomic
def subscriber_unsubscribe(*, subscriber: Subscriber, actor: Actor, note: str = "") -> Subscriber:
    """Stop every message to the subscriber, and suppress its e-mail address and phone
    number (reason `unsubscribed`) so that no other subscriber record reaches them either."""
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.unsubscribed_at is not None:
        return subscriber
    subscriber.unsubscribed_at = timezone.now()
    subscriber.save(update_fields=["unsubscribed_at", "updated_at"])
    for channel, address in _addresses(subscriber):
        Suppression.objects.get_or_create(
            channel=channel,
            address=address,
            defaults={"reason": SuppressionReason.UNSUBSCRIBED, "note": note[:500]},
        )
    audit_record(
        actor=actor, action="subscriber.unsubscribed", obj=subscriber, details={"note": note}
    )
    emit("subscriber.unsubscribed", subscriber_id=subscriber.pk)
    return subscriber


@transaction.atomic
def subscriber_delete(*, subscriber: Subscriber, actor: Actor) -> None:
    """Erase the subscriber and its subscription. Suppressions of its addresses stay, so an
    erased address that unsubscribed or bounced is still never sent to."""
    audit_record(actor=actor, action="subscriber.deleted", obj=subscriber)
    subscriber.delete()
