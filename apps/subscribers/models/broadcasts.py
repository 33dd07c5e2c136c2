"""The delivery ledger of the broadcast channels (in-app banner, status page, social).

A broadcast reaches the tenant's whole audience at once, not one subscriber, so it has no
row in `communications.Delivery` (keyed by subscriber). It gets its own row instead: one
per (message, channel, target), where the target is the provider that carries it (`banner`,
`page`, `x`, `linkedin`, `log`, ...). The unique key is what makes a second fan-out or a
re-queued task post nothing twice; the row's status and error say what happened, like a
Delivery's. The model lives here because this app owns the audience a broadcast stands for.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.communications.choices import DeliveryStatus


class BroadcastDelivery(models.Model):
    message = models.ForeignKey(
        "communications.Message", on_delete=models.CASCADE, related_name="broadcasts"
    )
    channel = models.CharField(max_length=20)
    target = models.CharField(
        max_length=30, help_text="The provider that carries it: banner, page, x, linkedin, log."
    )
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Why it failed (last error).")
    provider_id = models.CharField(max_length=200, blank=True)
    content = models.JSONField(default=dict, blank=True, help_text="What was posted (parts).")
    attempt_log = models.JSONField(
        default=list, blank=True, help_text="Every provider call: at, outcome, id, error, ms."
    )
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(
                fields=("message", "channel", "target"), name="broadcast_delivery_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_id}:{self.channel}/{self.target} {self.status}"

    @property
    def idempotency_key(self) -> str:
        return f"clarion-{self.message_id}-{self.channel}-{self.target}"
