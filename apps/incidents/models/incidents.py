"""Incidents and their updates."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone

from apps.incidents.choices import (
    OPEN_STATUSES,
    ComponentStatus,
    IncidentSource,
    IncidentStatus,
    Severity,
)
from apps.incidents.models.catalog import Region, Service


class IncidentQuerySet(models.QuerySet["Incident"]):
    def open(self) -> IncidentQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def public(self) -> IncidentQuerySet:
        """What customers may see: impact confirmed, not a child (its parent speaks for it)."""
        return self.filter(customer_impact_confirmed=True, parent__isnull=True)


class Incident(models.Model):
    title = models.CharField(max_length=200, help_text="Customer-facing, in customer terms.")
    internal_title = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=2, choices=Severity.choices)
    status = models.CharField(
        max_length=20, choices=IncidentStatus.choices, default=IncidentStatus.TRIAGE, db_index=True
    )
    false_alarm = models.BooleanField(default=False)
    customer_impact_confirmed = models.BooleanField(default=False)
    services: models.ManyToManyField[Service, IncidentService] = models.ManyToManyField(
        Service, through="IncidentService", related_name="incidents"
    )
    regions = models.ManyToManyField(
        Region, blank=True, related_name="incidents", help_text="None = all regions."
    )
    impact_scope_pct = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
        help_text="Share of customers affected, in %.",
    )
    root_cause_hypothesis = models.TextField(blank=True)
    # The all-clear: what customers are told on resolve (required once impact is confirmed).
    what_was_affected = models.TextField(
        blank=True, help_text="All-clear: what was affected, in customer terms."
    )
    root_cause = models.TextField(blank=True, help_text="All-clear: the brief root cause.")
    what_we_fixed = models.TextField(blank=True, help_text="All-clear: what was fixed.")
    prevention = models.TextField(
        blank=True, help_text="All-clear: what prevents it from happening again."
    )
    eta = models.DateTimeField(null=True, blank=True)
    eta_unknown_since = models.DateTimeField(
        null=True, blank=True, help_text="Since when no ETA has been given (extended outage clock)."
    )
    next_update_due = models.DateTimeField(null=True, blank=True, db_index=True)
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="commanded_incidents",
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    started_at = models.DateTimeField(default=timezone.now)
    detected_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    assessed_at = models.DateTimeField(null=True, blank=True)
    impact_confirmed_at = models.DateTimeField(null=True, blank=True)
    monitoring_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(
        max_length=20, choices=IncidentSource.choices, default=IncidentSource.MANUAL
    )
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ("-started_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("source", "external_id"),
                condition=~models.Q(external_id=""),
                name="incident_unique_source_external_id",
            ),
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("id")), name="incident_not_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class IncidentService(models.Model):
    """A service an incident affects, with the status it puts that service in."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="affected")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    component_status = models.CharField(
        max_length=25, choices=ComponentStatus.choices, default=ComponentStatus.MAJOR_OUTAGE
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("incident", "service"), name="incident_service_once")
        ]

    def __str__(self) -> str:
        return f"{self.service}: {self.component_status}"


class IncidentUpdate(models.Model):
    """One entry of an incident's timeline. `body` is public (markdown); `internal_note`
    never leaves the portal. An entry with an empty body is internal only."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=20, choices=IncidentStatus.choices)
    body = models.TextField(blank=True)
    internal_note = models.TextField(blank=True)
    eta = models.DateTimeField(null=True, blank=True)
    next_update_at = models.DateTimeField(null=True, blank=True)
    component_changes = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"service": slug, "name": ..., "old_status": ..., "new_status": ...}]',
    )
    deliver_notifications = models.BooleanField(default=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    display_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-display_at", "-id")

    def __str__(self) -> str:
        return f"{self.incident_id} {self.status} at {self.display_at:%Y-%m-%d %H:%M}"

    @property
    def is_public(self) -> bool:
        return bool(self.body.strip())
