"""The tenant's severity policy: one row per level, plus tenant-wide timers. Seeded with the
default table (see migrations) and edited in the admin; code reads policy only from here."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models

from apps.incidents.choices import Channel, PostmortemVisibility, Severity

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def validate_traffic_profile(value: object) -> None:
    """{} (no profile) or seven weekdays of 24 non-negative hourly numbers."""
    if value in ({}, None):
        return
    if not isinstance(value, dict) or set(value) != set(WEEKDAYS):
        raise ValidationError(
            f"The traffic profile needs one entry per weekday: {', '.join(WEEKDAYS)}."
        )
    for day in WEEKDAYS:
        hours = value[day]
        if (
            not isinstance(hours, list)
            or len(hours) != 24
            or not all(isinstance(h, int | float) and h >= 0 for h in hours)
        ):
            raise ValidationError(
                f"Traffic for {day!r} must be 24 non-negative numbers, one per hour (UTC)."
            )


class SeverityPolicy(models.Model):
    level = models.CharField(max_length=2, choices=Severity.choices, unique=True)
    name = models.CharField(max_length=50)
    criteria = models.TextField()
    channels = ArrayField(
        models.CharField(max_length=20, choices=Channel.choices), default=list, blank=True
    )
    update_interval = models.DurationField(
        null=True, blank=True, help_text="How often customers get an update; empty = no cadence."
    )
    internal_response = models.TextField(blank=True)
    target_resolution = models.DurationField(
        null=True, blank=True, help_text="Empty = no clock (e.g. 'next release')."
    )
    target_resolution_label = models.CharField(max_length=100, blank=True)
    postmortem_visibility = models.CharField(
        max_length=10, choices=PostmortemVisibility.choices, default=PostmortemVisibility.NONE
    )
    postmortem_deadline = models.DurationField(null=True, blank=True)

    class Meta:
        ordering = ("level",)
        verbose_name_plural = "severity policies"

    def __str__(self) -> str:
        return f"{self.level} {self.name}"

    def clean(self) -> None:
        unknown = set(self.channels) - set(Channel.values)
        if unknown:
            raise ValidationError({"channels": f"Unknown channels: {', '.join(sorted(unknown))}."})
        if self.postmortem_visibility != PostmortemVisibility.NONE and not self.postmortem_deadline:
            raise ValidationError(
                {"postmortem_deadline": "Give a deadline, or set the post-mortem to none."}
            )


class PolicySettings(models.Model):
    """Tenant-wide timers. Exactly one row (pk 1)."""

    assessment_due = models.DurationField(default=timedelta(minutes=15))
    extended_outage_after = models.DurationField(
        default=timedelta(hours=4), help_text="Without an ETA for this long, an outage is extended."
    )
    extended_update_interval = models.DurationField(default=timedelta(minutes=15))
    update_reminder_lead = models.DurationField(
        default=timedelta(minutes=5),
        help_text="Remind the commander this long before an update is due.",
    )
    maintenance_buffer_pct = models.PositiveSmallIntegerField(default=50)
    traffic_profile = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_traffic_profile],
        help_text='Hourly traffic per weekday (UTC): {"mon": [24 numbers], ..., "sun": [...]}.',
    )

    singleton_pk: ClassVar[int] = 1

    class Meta:
        verbose_name = "policy settings"
        verbose_name_plural = "policy settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="policysettings_single_row")
        ]

    def __str__(self) -> str:
        return "Policy settings"
