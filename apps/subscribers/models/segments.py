"""Saved audiences (segments) and addresses that must never be sent to (suppressions)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from apps.incidents.models import Region, Service
from apps.subscribers.choices import CustomerTier, SubscriberChannel, SuppressionReason
from apps.subscribers.models.customers import Customer
from apps.subscribers.validators import URL_MAX


class Segment(models.Model):
    """A saved rule over subscribers: customer tiers in, regions in, services in, customers
    in. Each non-empty criterion must hold (any of its values); an empty one is no limit.
    `selectors.segment_members` evaluates it.

    Regions and services are deleted elsewhere (the incidents admin), which removes them
    from the segment too: `limits_regions` / `limits_services` remember that the criterion
    was chosen, so that one whose every target was deleted selects nobody instead of
    everyone. (A customer named by a segment cannot be deleted.)"""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    tiers = ArrayField(
        models.CharField(max_length=20, choices=CustomerTier.choices), default=list, blank=True
    )
    regions = models.ManyToManyField(Region, blank=True, related_name="+")
    services = models.ManyToManyField(Service, blank=True, related_name="+")
    customers = models.ManyToManyField(Customer, blank=True, related_name="segments")
    limits_regions = models.BooleanField(
        default=False, editable=False, help_text="Regions were chosen (set by the services)."
    )
    limits_services = models.BooleanField(
        default=False, editable=False, help_text="Services were chosen (set by the services)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Suppression(models.Model):
    """An address never sent to on its channel: an e-mail address for email, an E.164
    number for sms, a URL for webhook, slack and teams."""

    channel = models.CharField(max_length=20, choices=SubscriberChannel.choices)
    address = models.CharField(max_length=URL_MAX)
    reason = models.CharField(max_length=20, choices=SuppressionReason.choices)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=("channel", "address"), name="suppression_once")
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.get_channel_display()}, {self.get_reason_display()})"
