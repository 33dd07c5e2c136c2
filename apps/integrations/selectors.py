"""Reads of the integrations app."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth

from apps.core.tenancy import current_schema
from apps.incidents.choices import ACTIVE_MAINTENANCE, OPEN_STATUSES
from apps.incidents.models import Incident, MaintenanceWindow, Region
from apps.integrations.choices import AlertStatus, EventStatus
from apps.integrations.models import AlertGroup, AlertState, InboundEvent, Integration, RoutingRule
from apps.integrations.models_support import HelpdeskTicketLink, TicketState


def integration_for_hook(*, source: str, token: str) -> Integration | None:
    """The integration a hook URL names (enabled or not), or None."""
    if not token or len(token) > 64:
        return None
    return Integration.objects.filter(source=source, token=token).first()


# (schema, source, token) -> (integration or None, until). Every delivery needs it and it
# rarely changes: a change clears it in the changing process, others see it within the TTL.
HOOK_TTL_SECONDS = 5.0
_HOOK_CACHE_MAX = 1000
_hook_cache: dict[tuple[str, str, str], tuple[Integration | None, float]] = {}


def integration_for_hook_cached(*, source: str, token: str) -> Integration | None:
    """`integration_for_hook`, remembered for a few seconds in this process."""
    key = (current_schema(), source, token)
    now = time.monotonic()
    hit = _hook_cache.get(key)
    if hit is None or hit[1] <= now:
        if len(_hook_cache) >= _HOOK_CACHE_MAX:  # unknown tokens must not grow it forever
            _hook_cache.clear()
        hit = (integration_for_hook(source=source, token=token), now + HOOK_TTL_SECONDS)
        _hook_cache[key] = hit
    return hit[0]


_integration_cache: dict[tuple[str, int], tuple[Integration | None, float]] = {}


def integration_cached(pk: int) -> Integration | None:
    """The integration with this id, remembered for a few seconds in this process (every
    processed event needs its settings)."""
    key = (current_schema(), pk)
    now = time.monotonic()
    hit = _integration_cache.get(key)
    if hit is None or hit[1] <= now:
        if len(_integration_cache) >= _HOOK_CACHE_MAX:
            _integration_cache.clear()
        hit = (Integration.objects.filter(pk=pk).first(), now + HOOK_TTL_SECONDS)
        _integration_cache[key] = hit
    return hit[0]


def hook_cache_clear() -> None:
    """Forget the integrations this process remembers (after one changed)."""
    _hook_cache.clear()
    _integration_cache.clear()


def integrations_list() -> QuerySet[Integration]:
    return Integration.objects.all()


@dataclass(frozen=True)
class RuleSpec:
    """A routing rule as the router reads it (plain values, no model instances)."""

    id: int
    name: str
    matchers: dict[str, str]
    component_status: str
    severity: str
    services: tuple[tuple[str, int], ...]  # (slug, id)
    regions: tuple[str, ...]


def routing_table(integration: Integration) -> list[RuleSpec]:
    """The enabled rules that apply to `integration`, in the order they are tried, with
    their service slugs and region codes. One query: it runs for every alert."""
    rows = (
        RoutingRule.objects.filter(enabled=True)
        .filter(Q(integration=integration) | Q(integration__isnull=True))
        .order_by("position", "id")
        .values_list(
            "id",
            "name",
            "matchers",
            "component_status",
            "severity",
            "services__slug",
            "services__id",
            "regions__code",
        )
    )
    specs: dict[int, tuple[tuple[Any, ...], dict[tuple[str, int], None], dict[str, None]]] = {}
    for pk, name, matchers, status, severity, service, service_id, region in rows:
        _head, services, regions = specs.setdefault(
            pk, ((pk, name, matchers or {}, status, severity), {}, {})
        )
        if service:
            services[(service, service_id)] = None
        if region:
            regions[region] = None
    return [
        RuleSpec(
            id=head[0],
            name=head[1],
            matchers=head[2],
            component_status=head[3],
            severity=head[4],
            services=tuple(services),
            regions=tuple(regions),
        )
        for head, services, regions in specs.values()
    ]


def region_codes(codes: Iterable[str]) -> list[str]:
    """The codes among `codes` that name one of the tenant's regions."""
    wanted = [c for c in codes if c]
    if not wanted:
        return []
    return list(Region.objects.filter(code__in=wanted).values_list("code", flat=True))


@dataclass(frozen=True)
class ActiveWindow:
    """An in-progress maintenance window as the router reads it."""

    id: int
    title: str
    service_ids: frozenset[int]
    regions: frozenset[str]  # empty: every region


def maintenance_active() -> list[ActiveWindow]:
    """The maintenance windows in progress (or verifying), earliest start first."""
    windows: dict[int, tuple[str, set[int], set[str]]] = {}
    rows = (
        MaintenanceWindow.objects.filter(status__in=ACTIVE_MAINTENANCE)
        .order_by("scheduled_start", "id")
        .values_list("id", "title", "services__id", "regions__code")
    )
    for pk, title, service_id, region in rows:
        _, services, regions = windows.setdefault(pk, (title, set(), set()))
        if service_id:
            services.add(service_id)
        if region:
            regions.add(region)
    return [
        ActiveWindow(pk, title, frozenset(services), frozenset(regions))
        for pk, (title, services, regions) in windows.items()
    ]


def incident_for_services(*, service_ids: Iterable[int], since: datetime) -> Incident | None:
    """The open incident on any of these services that is still gathering alerts: it
    received one, or was opened, since `since`. The latest opened wins."""
    ids = list(service_ids)
    if not ids:
        return None
    return (
        Incident.objects.filter(status__in=OPEN_STATUSES, affected__service_id__in=ids)
        .filter(Q(alert_group__last_alert_at__gte=since) | Q(detected_at__gte=since))
        .only("id", "status", "severity", "customer_impact_confirmed", "detected_at")
        .order_by("-detected_at", "-id")
        .first()
    )


def alert_states_firing(*, incident: Incident) -> QuerySet[AlertState]:
    return AlertState.objects.filter(incident=incident, status=AlertStatus.FIRING)


def alert_groups_quiet_candidates(*, now: datetime) -> QuerySet[AlertGroup]:
    """Groups whose alerts all recovered, on an open incident an alert opened and nobody
    confirmed: closed quietly once their integration's quiet period has passed."""
    return (
        AlertGroup.objects.filter(
            opened_by_alert=True,
            recovered_at__isnull=False,
            recovered_at__lte=now - timedelta(minutes=1),
            closed_quietly_at__isnull=True,
            incident__status__in=OPEN_STATUSES,
            incident__customer_impact_confirmed=False,
        )
        .select_related("integration", "incident")
        .order_by("recovered_at")
    )


def inbox() -> QuerySet[InboundEvent]:
    """Alerts no routing rule matched, newest first."""
    return InboundEvent.objects.filter(status=EventStatus.UNROUTED).select_related("integration")


# A task sent this long ago whose event is still unprocessed was lost; an event nobody
# queued this long after it arrived missed its dispatcher.
LOST_TASK_AFTER = timedelta(minutes=5)
UNQUEUED_AFTER = timedelta(minutes=1)


def events_unqueued() -> QuerySet[InboundEvent]:
    """Stored events whose processing task was not sent yet."""
    return InboundEvent.objects.filter(status=EventStatus.RECEIVED, queued_at__isnull=True)


def events_pending(*, now: datetime) -> QuerySet[InboundEvent]:
    """Events whose processing task was lost, or never sent, by now."""
    return InboundEvent.objects.filter(status=EventStatus.RECEIVED).filter(
        Q(queued_at__lte=now - LOST_TASK_AFTER)
        | Q(queued_at__isnull=True, received_at__lte=now - UNQUEUED_AFTER)
    )


def helpdesk_ticket_stats(first: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """Help-desk tickets flagged as about a known incident, and those Clarion solved, by
    month (UTC, "YYYY-MM") in [first, end): the analytics page's ticket figures."""
    stats: dict[str, dict[str, int]] = {}
    links = HelpdeskTicketLink.objects.all()
    for field, name, rows in (
        ("flagged_at", "flagged", links),
        ("closed_at", "auto_closed", links.filter(state=TicketState.SOLVED)),
    ):
        counted = (
            rows.filter(**{f"{field}__gte": first, f"{field}__lt": end})
            .annotate(month=TruncMonth(field))
            .values("month")
            .annotate(n=Count("id"))
        )
        for row in counted:
            month = row["month"].strftime("%Y-%m")
            stats.setdefault(month, {"flagged": 0, "auto_closed": 0})[name] = row["n"]
    return stats
