"""Reads of the incident domain: policy, derived component status, clocks, what is due."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from apps.incidents.choices import (
    ACTIVE_MAINTENANCE,
    OPEN_STATUSES,
    ComponentStatus,
    worst_status,
)
from apps.incidents.models import (
    Incident,
    IncidentService,
    IncidentUpdate,
    MaintenanceWindow,
    PolicySettings,
    Region,
    Service,
    SeverityPolicy,
)
from apps.incidents.models.policy import WEEKDAYS

# --- policy -------------------------------------------------------------------------------


def policy_settings() -> PolicySettings:
    """The tenant's timers: the seeded row, or the defaults if it is missing."""
    found = PolicySettings.objects.filter(pk=PolicySettings.singleton_pk).first()
    return found or PolicySettings(pk=PolicySettings.singleton_pk)


def policy_for(severity: str) -> SeverityPolicy:
    return SeverityPolicy.objects.get(level=severity)


def policies_by_level() -> dict[str, SeverityPolicy]:
    return {p.level: p for p in SeverityPolicy.objects.all()}


# --- catalog ------------------------------------------------------------------------------


def services_list() -> QuerySet[Service]:
    """The tenant's services in status-page order, with their group and regions loaded."""
    return Service.objects.select_related("group").prefetch_related("regions")


def regions_list() -> QuerySet[Region]:
    return Region.objects.all()


# --- derived component status -------------------------------------------------------------


def service_statuses(
    *, services: Iterable[Service] | None = None, public: bool = True
) -> dict[int, str]:
    """Each service's current status: the worst of its open incidents' component statuses and
    `under_maintenance` for active maintenance; `operational` otherwise. Two queries.

    `public=True` counts only incidents customers may see (impact confirmed)."""
    ids = [s.pk for s in services] if services is not None else None
    incident_rows = IncidentService.objects.filter(incident__status__in=OPEN_STATUSES)
    if public:
        incident_rows = incident_rows.filter(incident__customer_impact_confirmed=True)
    maintenance_rows = MaintenanceWindow.services.through.objects.filter(
        maintenancewindow__status__in=ACTIVE_MAINTENANCE
    )
    if ids is not None:
        incident_rows = incident_rows.filter(service_id__in=ids)
        maintenance_rows = maintenance_rows.filter(service_id__in=ids)
    found: defaultdict[int, list[str]] = defaultdict(list)
    for service_id, status in incident_rows.values_list("service_id", "component_status"):
        found[service_id].append(status)
    for service_id in maintenance_rows.values_list("service_id", flat=True):
        found[service_id].append(ComponentStatus.UNDER_MAINTENANCE)
    all_ids = ids if ids is not None else Service.objects.order_by().values_list("pk", flat=True)
    return {pk: worst_status(found.get(pk, [])) for pk in all_ids}


# --- incidents ----------------------------------------------------------------------------


def incidents_list(
    *,
    status: str | None = None,
    severity: str | None = None,
    service: str | None = None,
    region: str | None = None,
) -> QuerySet[Incident]:
    """Incidents, newest first, filtered by status (`open` for every open status), severity,
    service slug or region code."""
    qs = Incident.objects.all()
    if status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    if severity:
        qs = qs.filter(severity=severity)
    if service:
        qs = qs.filter(affected__service__slug=service)
    if region:
        # An incident with no region affects every region.
        qs = qs.filter(Q(regions__code=region) | Q(regions__isnull=True))
    return (
        qs.distinct()
        .select_related("commander", "parent")
        .prefetch_related("affected__service", "regions")
    )


@dataclass(frozen=True)
class IncidentClocks:
    """The timers the portal shows and the cadence work acts on."""

    assessment_due: datetime | None
    assessment_overdue: bool
    next_update_due: datetime | None
    update_overdue: bool
    extended_outage: bool
    extended_since: datetime | None
    target_resolution_due: datetime | None
    target_resolution_overdue: bool


def incident_clocks(
    incident: Incident,
    *,
    now: datetime | None = None,
    settings: PolicySettings | None = None,
    policy: SeverityPolicy | None = None,
) -> IncidentClocks:
    now = now or timezone.now()
    settings = settings or policy_settings()
    policy = policy or policy_for(incident.severity)
    is_open = incident.status in OPEN_STATUSES
    assessment_due = (
        incident.detected_at + settings.assessment_due if incident.assessed_at is None else None
    )
    extended_since = (
        incident.eta_unknown_since + settings.extended_outage_after
        if is_open and incident.eta is None and incident.eta_unknown_since
        else None
    )
    target = incident.started_at + policy.target_resolution if policy.target_resolution else None
    return IncidentClocks(
        assessment_due=assessment_due if is_open else None,
        assessment_overdue=bool(is_open and assessment_due and now > assessment_due),
        next_update_due=incident.next_update_due if is_open else None,
        update_overdue=bool(
            is_open and incident.next_update_due and now > incident.next_update_due
        ),
        extended_outage=bool(extended_since and now >= extended_since),
        extended_since=extended_since,
        target_resolution_due=target if is_open else None,
        target_resolution_overdue=bool(is_open and target and now > target),
    )


def incidents_update_due(*, now: datetime | None = None, within: timedelta) -> QuerySet[Incident]:
    """Open, customer-facing incidents whose next update falls due within `within` (and is not
    overdue yet): the commander gets a reminder."""
    now = now or timezone.now()
    return Incident.objects.filter(
        status__in=OPEN_STATUSES,
        customer_impact_confirmed=True,
        next_update_due__gt=now,
        next_update_due__lte=now + within,
    )


def incidents_update_overdue(*, now: datetime | None = None) -> QuerySet[Incident]:
    now = now or timezone.now()
    return Incident.objects.filter(
        status__in=OPEN_STATUSES, customer_impact_confirmed=True, next_update_due__lte=now
    )


def incidents_assessment_overdue(*, now: datetime | None = None) -> QuerySet[Incident]:
    now = now or timezone.now()
    return Incident.objects.filter(
        status__in=OPEN_STATUSES,
        assessed_at__isnull=True,
        detected_at__lt=now - policy_settings().assessment_due,
    )


def incidents_extended_outage(*, now: datetime | None = None) -> QuerySet[Incident]:
    """Open incidents that have had no ETA for longer than the extended-outage threshold."""
    now = now or timezone.now()
    return Incident.objects.filter(
        status__in=OPEN_STATUSES,
        eta__isnull=True,
        eta_unknown_since__lte=now - policy_settings().extended_outage_after,
    )


def incident_public_updates(incident: Incident) -> QuerySet:  # type: ignore[type-arg]
    """The timeline customers may see: entries with a public body, newest first."""
    return incident.updates.exclude(body="").order_by(F("display_at").desc(), "-id")


def incident_updates(incident: Incident) -> QuerySet[IncidentUpdate]:
    """The whole timeline for staff, internal notes included, newest first, with the
    messages each update produced (the communications app's reverse relation)."""
    return (
        incident.updates.select_related("author")
        .prefetch_related("messages")
        .order_by(F("display_at").desc(), "-id")
    )


# --- maintenance --------------------------------------------------------------------------


def maintenances_list(*, status: str | None = None) -> QuerySet[MaintenanceWindow]:
    """Maintenance windows, latest start first, optionally of one status."""
    qs = MaintenanceWindow.objects.all()
    if status:
        qs = qs.filter(status=status)
    return qs.prefetch_related("services", "regions")


@dataclass(frozen=True)
class SuggestedWindow:
    start: datetime
    end: datetime
    buffered_duration: timedelta
    reason: str


def maintenance_suggest_window(
    *, duration: timedelta, now: datetime | None = None, horizon: timedelta = timedelta(days=14)
) -> SuggestedWindow:
    """A window for work estimated at `duration`: the estimate plus the tenant's buffer
    (50% by default), starting on the hour with the least traffic in the next 14 days by the
    tenant's hourly traffic profile (UTC), or tomorrow at 02:00 UTC without a profile."""
    now = now or timezone.now()
    settings = policy_settings()
    buffered = duration * (100 + settings.maintenance_buffer_pct) / 100
    first = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    profile = settings.traffic_profile or {}
    if not profile:
        start = (now + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
        return SuggestedWindow(
            start,
            start + buffered,
            buffered,
            "No traffic profile: tomorrow 02:00 UTC. Add one in the policy "
            "settings to get the quietest hour.",
        )

    def traffic(at: datetime) -> float:
        return float(profile[WEEKDAYS[at.weekday()]][at.hour])

    def cost(start: datetime) -> float:
        total, at, left = 0.0, start, buffered
        while left > timedelta(0):
            share = min(left, timedelta(hours=1)) / timedelta(hours=1)
            total += traffic(at) * share
            at += timedelta(hours=1)
            left -= timedelta(hours=1)
        return total

    candidates = [first + timedelta(hours=h) for h in range(int(horizon / timedelta(hours=1)))]
    best = min(candidates, key=cost)  # min keeps the earliest of equal costs
    return SuggestedWindow(
        best,
        best + buffered,
        buffered,
        f"Quietest start in the next {horizon.days} days by the traffic "
        f"profile ({cost(best):g} requests expected during the window).",
    )
