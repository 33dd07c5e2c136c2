"""Enumerations of the integrations app."""

from django.db import models


class Source(models.TextChoices):
    """Monitoring tools that send alerts to `/hooks/<source>/<token>/`. The values are the
    incidents' `IncidentSource` values, so an incident says which tool opened it."""

    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana"
    PAGERDUTY = "pagerduty", "PagerDuty"
    SENTRY = "sentry", "Sentry"
    DATADOG = "datadog", "Datadog"
    NEWRELIC = "newrelic", "New Relic"
    GENERIC = "generic", "Generic webhook (Standard Webhooks)"


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received, not processed yet"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (an event type Clarion does not use)"
    UNROUTED = "unrouted", "Unrouted (no routing rule matched: in the inbox)"
    SUPPRESSED = "suppressed", "Suppressed (services under maintenance)"
    FAILED = "failed", "Failed"


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"
