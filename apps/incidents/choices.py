"""Enumerations of the incident domain. Component statuses and maintenance statuses use
Atlassian Statuspage's values so that the public API can expose them unchanged."""

from django.db import models


class Severity(models.TextChoices):
    P1 = "P1", "P1 Critical"
    P2 = "P2", "P2 High"
    P3 = "P3", "P3 Medium"
    P4 = "P4", "P4 Low"


class IncidentStatus(models.TextChoices):
    TRIAGE = "triage", "Triage (impact not confirmed)"
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


OPEN_STATUSES = (
    IncidentStatus.TRIAGE,
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING,
)
# Statuses an update may move an open incident to (resolving has its own use-case).
UPDATE_STATUSES = (
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING,
)


class ComponentStatus(models.TextChoices):
    OPERATIONAL = "operational", "Operational"
    UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"
    DEGRADED_PERFORMANCE = "degraded_performance", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"


# Worse statuses rank higher; a service shows the worst status that applies to it.
COMPONENT_STATUS_RANK = {status: rank for rank, status in enumerate(ComponentStatus.values)}


def worst_status(statuses: "list[str] | tuple[str, ...]") -> str:
    return max(statuses, key=COMPONENT_STATUS_RANK.__getitem__, default=ComponentStatus.OPERATIONAL)


class MaintenanceStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    VERIFYING = "verifying", "Verifying"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_MAINTENANCE = (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)


class ExpectedImpact(models.TextChoices):
    NONE = "none", "None expected"
    DEGRADED = "degraded", "Degraded performance"
    UNAVAILABLE = "unavailable", "Unavailable"


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    IN_APP = "in_app", "In-app banner"
    STATUS_PAGE = "status_page", "Status page"
    SMS = "sms", "SMS (enterprise customers)"
    SOCIAL = "social", "Social"


class PostmortemVisibility(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    NONE = "none", "None"


class IncidentSource(models.TextChoices):
    MANUAL = "manual", "Opened by a person"
    API = "api", "API"
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    DATADOG = "datadog", "Datadog"
    PAGERDUTY = "pagerduty", "PagerDuty"
    SENTRY = "sentry", "Sentry"
    NEWRELIC = "newrelic", "New Relic"
    GRAFANA = "grafana", "Grafana"
    GENERIC = "generic", "Generic webhook"
