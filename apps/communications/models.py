"""Templates, messages and the delivery ledger.

Every notification that must go out is a `Delivery` row, written before any provider is
called and unique per (message, subscriber, channel): that row is what makes a send
exactly-once. `DeliveryAttempt` records each provider call.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from apps.communications.choices import (
    AttemptOutcome,
    ChannelKey,
    DeliveryStatus,
    MessageKind,
    MessageState,
    ReminderKind,
    StaffChannel,
    TemplatePart,
)
from apps.incidents.choices import Severity


class MessageTemplate(models.Model):
    """The tenant's approved wording of one part of one channel for one kind."""

    kind = models.CharField(max_length=30, choices=MessageKind.choices)
    channel = models.CharField(max_length=20, choices=ChannelKey.choices)
    part = models.CharField(max_length=10, choices=TemplatePart.choices, default=TemplatePart.TEXT)
    locale = models.CharField(max_length=20, default="en")
    source = models.TextField(help_text="Django template syntax: {{ placeholder }}, {% if %}.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("kind", "channel", "part", "locale")
        constraints = [
            models.UniqueConstraint(
                fields=("kind", "channel", "part", "locale"), name="template_once_per_part"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} / {self.get_channel_display()} / {self.part}"


class Message(models.Model):
    """What an incident update or maintenance event says, on which channels, to whom."""

    kind = models.CharField(max_length=30, choices=MessageKind.choices)
    state = models.CharField(
        max_length=12, choices=MessageState.choices, default=MessageState.DRAFT, db_index=True
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
    )
    update = models.ForeignKey(
        "incidents.IncidentUpdate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    maintenance = models.ForeignKey(
        "incidents.MaintenanceWindow",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
    )
    channels = ArrayField(models.CharField(max_length=20, choices=ChannelKey.choices))
    context = models.JSONField(
        default=dict, help_text="The values the templates are rendered with (frozen at draft)."
    )
    rendered = models.JSONField(
        default=dict, help_text="Channel -> part -> text, for the default variant (preview)."
    )
    audience = models.JSONField(default=dict, help_text="Channel -> recipient count at fan-out.")
    segment = models.ForeignKey(
        "subscribers.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Narrows the audience to the segment's members (e.g. an executive note).",
    )
    requires_approval = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by_label = models.CharField(max_length=200, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    fanout_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("update", "kind"),
                condition=models.Q(update__isnull=False),
                name="message_once_per_update_and_kind",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} ({self.state})"


class Delivery(models.Model):
    """One message to one subscriber on one channel. Written before sending; the unique
    key makes a second fan-out, a re-queued task or a second worker create or send nothing
    new."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.ForeignKey(
        "subscribers.Subscriber", on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=20, choices=ChannelKey.choices)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Why it failed (last error).")
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("message", "subscriber", "channel"), name="delivery_once"
            )
        ]
        indexes = [
            models.Index(fields=("message", "channel", "status")),
            models.Index(
                # OR rather than IN: PostgreSQL prints an IN list back in a form that does not
                # reparse to the same text, which would make cloned schemas differ.
                fields=("queued_at",),
                condition=models.Q(status="pending") | models.Q(status="sending"),
                name="delivery_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id}:{self.subscriber_id}:{self.channel} {self.status}"

    @property
    def idempotency_key(self) -> str:
        return f"clarion-{self.message_id}-{self.subscriber_id}-{self.channel}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=10, choices=AttemptOutcome.choices)
    provider_id = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-at", "-id")

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.outcome} at {self.at:%H:%M:%S}"


def _default_reminder_hours() -> list[int]:
    return [72, 24, 1]


class CadenceSettings(models.Model):
    """Who staff reminders reach and when maintenance reminders go out. Exactly one row
    (pk 1); `staff.cadence_settings()` returns the defaults while it is missing."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    staff_slack_webhook_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="Slack incoming webhook of the staff channel: reminders, escalations and "
        "overrun alerts are posted there too.",
    )
    staff_emails = ArrayField(
        models.EmailField(),
        default=list,
        blank=True,
        help_text="Staff told about maintenance overruns (besides the window's creator).",
    )
    executive_name = models.CharField(
        max_length=200,
        blank=True,
        help_text="Who signs the executive note to enterprise customers, e.g. 'Jane Doe, CEO'.",
    )
    maintenance_reminder_hours = ArrayField(
        models.PositiveIntegerField(),
        default=_default_reminder_hours,
        blank=True,
        help_text="Remind subscribers this many hours before a maintenance window starts.",
    )
    maintenance_overrun_lead = models.DurationField(
        default=timedelta(minutes=30),
        help_text="This long before the planned end of a window still in progress, staff and "
        "subscribers hear that it runs late.",
    )

    singleton_pk: ClassVar[int] = 1

    class Meta:
        verbose_name = "cadence settings"
        verbose_name_plural = "cadence settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="cadencesettings_single_row")
        ]

    def __str__(self) -> str:
        return "Cadence settings"


class ResponseContact(models.Model):
    """A person the severity policy's internal response calls in: escalations of overdue
    updates and assessments, and extended outages, of the listed severities reach them."""

    name = models.CharField(max_length=200)
    email = models.EmailField()
    severities = ArrayField(
        models.CharField(max_length=2, choices=Severity.choices),
        default=list,
        help_text="The severities this person is escalated to.",
    )

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return f"{self.name} <{self.email}> ({', '.join(self.severities)})"


class Reminder(models.Model):
    """Something the cadence tick does once per due time: remind, escalate, switch an
    outage to extended, remind of or report an overrunning maintenance. The unique `key`
    (kind, object and due time) is what makes overlapping ticks do it once."""

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=30, choices=ReminderKind.choices)
    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reminders",
    )
    maintenance = models.ForeignKey(
        "incidents.MaintenanceWindow",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reminders",
    )
    due_at = models.DateTimeField()
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.key})"


class StaffAlert(models.Model):
    """One reminder to one staff address (an e-mail or the staff Slack webhook); sent by
    the tick, retried on the next tick after a transient error."""

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="alerts")
    channel = models.CharField(max_length=10, choices=StaffChannel.choices)
    address = models.CharField(max_length=500)
    subject = models.CharField(max_length=300, blank=True)
    text = models.TextField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(
                fields=("reminder", "channel", "address"), name="staff_alert_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reminder_id} {self.channel}:{self.address} {self.status}"

    @property
    def idempotency_key(self) -> str:
        return f"clarion-staff-{self.pk}"
