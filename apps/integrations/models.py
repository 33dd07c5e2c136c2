"""Monitoring integrations: where alerts come from (Integration), the raw events they sent
(InboundEvent), what an alert is about (RoutingRule), and the state of each alert and of the
incidents alerts opened (AlertState, AlertGroup)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core.crypto import EncryptedTextField
from apps.incidents.choices import ComponentStatus, Severity
from apps.incidents.models import Incident, MaintenanceWindow, Region, Service
from apps.integrations.choices import AlertStatus, EventStatus, Source


class Integration(models.Model):
    """One monitoring tool of the tenant: its hook URL token and the secret that proves a
    request comes from it (a bearer token, a shared header or an HMAC signing key)."""

    source = models.CharField(max_length=20, choices=Source.choices)
    name = models.CharField(max_length=100)
    token = models.CharField(
        max_length=64, unique=True, editable=False, help_text="The last part of the hook URL."
    )
    secret = EncryptedTextField(
        help_text="Bearer token, shared header value or signing secret; stored encrypted."
    )
    enabled = models.BooleanField(
        default=True, help_text="A disabled integration refuses deliveries (401)."
    )
    default_severity = models.CharField(
        max_length=2,
        choices=Severity.choices,
        default=Severity.P3,
        help_text="When neither the routing rule nor the alert says how severe it is.",
    )
    grouping_window_minutes = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text="A firing alert joins an open incident on the same services that received "
        "an alert (or was opened) within this many minutes, instead of opening another.",
    )
    quiet_period_minutes = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)],
        help_text="A triage incident whose alerts all recovered, and whose customer impact was "
        "never confirmed, is closed quietly after this many minutes.",
    )
    flapping_threshold = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="An alert that fires more than this many times within the flapping window "
        "is flapping: recorded, but it no longer reopens incidents.",
    )
    flapping_window_minutes = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ("source",)
        constraints = [
            models.UniqueConstraint(fields=("source",), name="integration_one_per_source")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_source_display()})"

    @property
    def hook_path(self) -> str:
        return f"/hooks/{self.source}/{self.token}/"

    @property
    def actor(self) -> str:
        """How the incident timeline and the audit log name this integration."""
        return f"integration {self.name}"


class InboundEvent(models.Model):
    """One event a monitoring tool sent, stored once under the tool's own id (`event_key`),
    so that a redelivery stores and processes nothing. A webhook carrying several alerts
    (Alertmanager, Grafana) is stored as one event per alert."""

    # Indexed by the unique (integration, event_key) constraint, whose first column it is.
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    event_key = models.CharField(max_length=255, help_text="The source's own id of the event.")
    event_type = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField(db_index=True)
    headers = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    # Indexed (partially, see below) only while waiting to be processed.
    status = models.CharField(
        max_length=20, choices=EventStatus.choices, default=EventStatus.RECEIVED
    )
    reason = models.TextField(blank=True, help_text="Why it was ignored, unrouted or failed.")
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When its processing task was sent to the broker."
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    dedup_key = models.CharField(max_length=255, blank=True, help_text="The alert it is about.")
    alert_status = models.CharField(max_length=10, choices=AlertStatus.choices, blank=True)
    title = models.CharField(max_length=200, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    # Indexed (partially) by (incident, received_at) below.
    incident = models.ForeignKey(
        Incident,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alert_events",
        db_index=False,
    )
    # Indexed (partially, see below) only where set: hooks insert rows without one.
    maintenance = models.ForeignKey(
        MaintenanceWindow,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alert_events",
        db_index=False,
    )
    flapping = models.BooleanField(default=False)

    class Meta:
        ordering = ("-received_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "event_key"), name="inboundevent_once_per_key"
            )
        ]
        indexes = [
            # The dispatcher's and the sweep's: events waiting to be processed, oldest
            # first. Nothing else filters on the status often enough to index it whole
            # (each index costs every hook's INSERT).
            models.Index(
                fields=("queued_at", "id"),
                condition=models.Q(status=EventStatus.RECEIVED),
                name="inboundevent_unprocessed",
            ),
            # Partial: a hook's INSERT (no incident, no maintenance yet) skips them.
            models.Index(
                fields=("incident", "received_at"),
                condition=models.Q(incident__isnull=False),
                name="inboundevent_incident",
            ),
            models.Index(
                fields=("maintenance",),
                condition=models.Q(maintenance__isnull=False),
                name="inboundevent_maintenance",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.integration.source} {self.event_type or 'event'} {self.event_key[:40]}"


class UnroutedEvent(InboundEvent):
    """The inbox: alerts no routing rule matched (see the admin)."""

    class Meta:
        proxy = True
        verbose_name = "inbox alert"
        verbose_name_plural = "alert inbox"


def validate_matchers(value: Any) -> None:
    """`{"label": "value"}`: every label must equal its value; a value starting with `~` is
    a regular expression the whole label value must match. `{}` matches every alert."""
    if not isinstance(value, dict):
        raise ValidationError('Matchers are a JSON object such as {"service": "api"}.')
    for label, expected in value.items():
        if not isinstance(label, str) or not label.strip():
            raise ValidationError("Every matcher needs a label name.")
        if not isinstance(expected, str):
            raise ValidationError(
                f"The matcher for {label!r} must be a string (use '~' for a regular expression)."
            )
        if expected.startswith("~"):
            try:
                re.compile(expected[1:])
            except re.error as exc:
                raise ValidationError(
                    f"The regular expression for {label!r} is not valid: {exc}."
                ) from exc


class RoutingRule(models.Model):
    """What an alert is about: the first enabled rule (by position) whose matchers all match
    the alert's labels decides its services, component status, regions and severity. An
    alert no rule matches goes to the inbox."""

    name = models.CharField(max_length=100)
    integration = models.ForeignKey(
        Integration,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rules",
        help_text="Empty: alerts from every integration.",
    )
    position = models.PositiveIntegerField(default=0, help_text="Lower positions are tried first.")
    enabled = models.BooleanField(default=True)
    matchers = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_matchers],
        help_text='Labels the alert must have, e.g. {"service": "api", "region": "~eu-.*"} '
        "('~' starts a regular expression). {} matches every alert.",
    )
    services = models.ManyToManyField(Service, related_name="+")
    component_status = models.CharField(
        max_length=25, choices=ComponentStatus.choices, default=ComponentStatus.MAJOR_OUTAGE
    )
    regions = models.ManyToManyField(
        Region,
        blank=True,
        related_name="+",
        help_text="Empty: the region named by the alert's 'region' label, else every region.",
    )
    severity = models.CharField(
        max_length=2,
        choices=Severity.choices,
        blank=True,
        help_text="Empty: the alert's own severity, else the integration's default.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("position", "id")

    def __str__(self) -> str:
        return self.name


class AlertState(models.Model):
    """Where one alert (one dedup key of one integration) stands: firing or recovered, the
    incident or maintenance it belongs to, its recent firings (flapping) and its latest
    recovery."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="alerts")
    dedup_key = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=AlertStatus.choices)
    title = models.CharField(max_length=200, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    services = models.JSONField(default=list, blank=True, help_text="Service slugs, routed.")
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="alert_states"
    )
    maintenance = models.ForeignKey(
        MaintenanceWindow, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    incidents_opened = models.PositiveIntegerField(default=0)
    firings = models.JSONField(
        default=list, blank=True, help_text="Recent times it started firing (ISO 8601)."
    )
    flapping_since = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_event_at = models.DateTimeField()
    last_changed_at = models.DateTimeField()
    recovered_at = models.DateTimeField(null=True, blank=True)
    # Its latest recovery: a firing notification Clarion received before it (processed
    # late: a retry, another worker) is over already, unless the tool says that firing
    # started after this recovery ended.
    ended_at = models.DateTimeField(
        null=True, blank=True, help_text="When its latest recovery happened, as the tool says."
    )
    recovery_received_at = models.DateTimeField(
        null=True, blank=True, help_text="When Clarion received its latest recovery."
    )

    class Meta:
        ordering = ("-last_changed_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "dedup_key"), name="alertstate_once_per_key"
            )
        ]
        indexes = [models.Index(fields=("incident", "status"))]

    def __str__(self) -> str:
        return f"{self.title or self.dedup_key} ({self.status})"


class AlertGroup(models.Model):
    """The alerts of one incident, as a whole: when the last one arrived (grouping window),
    when all recovered, whether resolution was proposed and whether it was closed quietly."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="alert_group")
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_by_alert = models.BooleanField(
        default=False, help_text="An alert opened the incident (a person did not)."
    )
    last_alert_at = models.DateTimeField()
    recovered_at = models.DateTimeField(null=True, blank=True)
    resolution_proposed_at = models.DateTimeField(null=True, blank=True)
    closed_quietly_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=("recovered_at",))]

    def __str__(self) -> str:
        return f"alerts of incident #{self.incident_id}"


# Support coordination (help desk, chat, canned responses): its own module, same app.
from apps.integrations.models_support import (  # noqa: E402, F401
    CannedResponse,
    CannedResponseTemplate,
    ChatInstallation,
    ChatPost,
    HelpdeskAction,
    HelpdeskInstallation,
    HelpdeskProblem,
    HelpdeskTicketLink,
    HelpdeskWebhookDelivery,
    WarRoom,
)
