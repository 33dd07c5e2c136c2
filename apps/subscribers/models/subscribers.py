"""Subscribers (the people and endpoints that hear about incidents) and what each one
subscribed to."""

from __future__ import annotations

import secrets

from django.contrib.postgres.fields import ArrayField
from django.db import models

from apps.core.crypto import EncryptedTextField
from apps.incidents.models import Region, Service
from apps.incidents.models.catalog import validate_time_zone
from apps.subscribers.choices import (
    CHANNEL_ADDRESS_FIELD,
    SubscriberChannel,
    SubscriberSource,
    SubscriptionKind,
)
from apps.subscribers.models.customers import Customer
from apps.subscribers.validators import EMAIL_MAX, PHONE_MAX, URL_MAX


def new_manage_token() -> str:
    """The secret in a subscriber's manage and unsubscribe links (256 random bits)."""
    return secrets.token_urlsafe(32)


def all_kinds() -> list[str]:
    return list(SubscriptionKind.values)


def all_channels() -> list[str]:
    return list(SubscriberChannel.values)


class Subscriber(models.Model):
    """One person or endpoint. Its reachable channels come from its contact fields (an
    e-mail address -> email, a phone -> sms, ...) and are narrowed by its Subscription.

    Region, time zone and locale default to its customer's when left empty."""

    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="subscribers"
    )
    name = models.CharField(max_length=200, blank=True)
    email = models.CharField(max_length=EMAIL_MAX, blank=True, help_text="Stored in lower case.")
    phone = models.CharField(
        max_length=PHONE_MAX, blank=True, help_text="E.164, e.g. +14155550123."
    )
    region = models.ForeignKey(
        Region,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty = the customer's region.",
    )
    slack_webhook_url = models.URLField(max_length=URL_MAX, blank=True)
    teams_webhook_url = models.URLField(max_length=URL_MAX, blank=True)
    webhook_url = models.URLField(
        max_length=URL_MAX, blank=True, help_text="Receives signed JSON (Standard Webhooks)."
    )
    webhook_secret = EncryptedTextField(
        blank=True, editable=False, help_text="Signs the webhook payloads (whsec_...)."
    )
    time_zone = models.CharField(
        max_length=64, blank=True, validators=[validate_time_zone], help_text="Empty = inherit."
    )
    locale = models.CharField(max_length=20, blank=True, help_text="Empty = inherit.")
    confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the subscription was confirmed; empty = pending."
    )
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    manage_token = models.CharField(
        max_length=64, unique=True, default=new_manage_token, editable=False
    )
    source = models.CharField(
        max_length=10, choices=SubscriberSource.choices, default=SubscriberSource.SELF
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # A webhook endpoint that keeps failing is disabled (see
    # apps/communications/channels/endpoint_health.py) rather than retried for ever.
    webhook_failures = models.PositiveSmallIntegerField(
        default=0, help_text="Webhook deliveries failed in a row (reset by a success)."
    )
    webhook_disabled_at = models.DateTimeField(
        null=True, blank=True, help_text="When the webhook endpoint was disabled; empty = active."
    )
    webhook_disabled_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("email",), condition=~models.Q(email=""), name="subscriber_unique_email"
            ),
            models.UniqueConstraint(
                fields=("phone",), condition=~models.Q(phone=""), name="subscriber_unique_phone"
            ),
            models.CheckConstraint(
                condition=~models.Q(
                    email="", phone="", webhook_url="", slack_webhook_url="", teams_webhook_url=""
                ),
                name="subscriber_has_a_contact",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or f"Subscriber #{self.pk}"

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def reachable_channels(self) -> list[str]:
        """The channels its contact fields allow, whatever it accepts."""
        return [c for c, field in CHANNEL_ADDRESS_FIELD.items() if getattr(self, field)]

    def address_for(self, channel: str) -> str:
        return str(getattr(self, CHANNEL_ADDRESS_FIELD[channel]))


class Subscription(models.Model):
    """What a subscriber wants to hear about: which services (all, or a chosen set), which
    kinds of news and on which of its channels."""

    subscriber = models.OneToOneField(
        Subscriber, on_delete=models.CASCADE, primary_key=True, related_name="subscription"
    )
    all_services = models.BooleanField(
        default=True, help_text="Every service, including ones added later."
    )
    services = models.ManyToManyField(
        Service, blank=True, related_name="subscriptions", help_text="When not all services."
    )
    kinds = ArrayField(
        models.CharField(max_length=20, choices=SubscriptionKind.choices), default=all_kinds
    )
    channels = ArrayField(
        models.CharField(max_length=20, choices=SubscriberChannel.choices),
        default=all_channels,
        help_text="The channels it accepts (among those its contact fields allow).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Subscription of {self.subscriber}"
