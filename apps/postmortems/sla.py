"""Downtime and uptime per customer and month: the arithmetic behind SLA credits.

An incident's timeline says, per affected service, which component status it was in and
when (the status it was opened with, then every recorded change, until it was resolved).
A customer is down while a service it uses is in a weighted status in its region; two
incidents at once count once, at the heavier weight (the weighted time is the integral of
the largest weight in force, not a sum). A child incident (a cascading failure) counts as
its parent's: customers heard of it through the parent. Maintenance counts per the policy:
by default only its overrun past the end announced before it began (its `planned_end`).

Months are calendar months in UTC. Uptime is measured against the whole month, so that a
month-to-date figure is the contract figure if nothing else happens this month.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Prefetch, Q

from apps.incidents.choices import ComponentStatus, ExpectedImpact
from apps.incidents.models import Incident, IncidentUpdate, MaintenanceWindow
from apps.postmortems.choices import MaintenanceCounting
from apps.postmortems.models import CustomerSlaPolicy, SlaPolicy, TierSlaPolicy
from apps.subscribers.models import Customer, Subscription

ALL_REGIONS: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Outage:
    """Services in one status, in some regions (none = all), over [start, end)."""

    service_id: int
    regions: frozenset[int]
    start: datetime
    end: datetime
    status: str
    incident_id: int | None = None
    announced_end: datetime | None = None  # maintenance: the end planned before it began
    maintenance_id: int | None = None


@dataclass(frozen=True)
class Scope:
    """What a customer uses: its services (None = all) and its region (None = unknown)."""

    services: frozenset[int] | None
    region_id: int | None

    def covers(self, outage: Outage) -> bool:
        if self.services is not None and outage.service_id not in self.services:
            return False
        # A customer of unknown region heard about every regional incident; it counts too.
        return not outage.regions or self.region_id is None or self.region_id in outage.regions


@dataclass(frozen=True)
class Uptime:
    month: datetime
    downtime: timedelta
    uptime_pct: Decimal


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def months_between(start: datetime, end: datetime) -> list[datetime]:
    """The first instants of the months [start, end] touches."""
    months, current = [], month_start(start)
    while current <= end:
        months.append(current)
        current = next_month(current)
    return months


# --- outages --------------------------------------------------------------------------------


def _incident_outages(incident: Incident, *, now: datetime) -> list[Outage]:
    """Per affected service, the stretches in each status, rebuilt from the timeline.

    The statuses an incident is opened with hold from its start (monitoring often detects an
    outage after it began); every later change holds from the moment it was displayed."""
    end = incident.resolved_at or now
    regions = frozenset(r.pk for r in incident.regions.all())
    changes: dict[str, list[tuple[datetime, str, str]]] = {}
    for update in sorted(incident.updates.all(), key=lambda u: (u.display_at, u.pk)):
        at = incident.started_at if update.display_at <= incident.detected_at else update.display_at
        for change in update.component_changes or []:
            changes.setdefault(change.get("service", ""), []).append(
                (at, str(change.get("old_status")), str(change.get("new_status")))
            )
    outages = []
    for row in incident.affected.all():
        own = changes.get(row.service.slug, [])
        status = own[0][1] if own else row.component_status
        since = incident.started_at
        for at, _, new in [*own, (end, "", "")]:
            at = min(max(at, incident.started_at), end)
            if at > since and status != ComponentStatus.OPERATIONAL:
                outages.append(
                    Outage(row.service_id, regions, since, at, status, incident_id=incident.pk)
                )
            status, since = new, max(since, at)
    return outages


def planned_end(window: MaintenanceWindow) -> datetime:
    """The end customers were told before the window began: an extension while it runs is
    an overrun, not a new plan (the cadence tick moves `scheduled_end` 30 minutes before it,
    for as long as the work goes on). Extensions before the start are a longer plan."""
    return window.planned_end or window.scheduled_end


def outages_between(start: datetime, end: datetime, *, now: datetime) -> list[Outage]:
    """Every outage that overlaps [start, end) of a customer-confirmed incident or a child of
    one (not a false alarm), and of every started maintenance window."""
    incidents = (
        Incident.objects.filter(false_alarm=False, started_at__lt=end)
        .filter(
            Q(customer_impact_confirmed=True)
            | Q(parent__customer_impact_confirmed=True, parent__false_alarm=False)
        )
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=start))
        .prefetch_related(
            Prefetch(
                "updates",
                queryset=IncidentUpdate.objects.only(
                    "id", "incident_id", "display_at", "component_changes"
                ),
            ),
            "affected__service",
            "regions",
        )
    )
    outages = [o for i in incidents for o in _incident_outages(i, now=now)]
    windows = list(
        MaintenanceWindow.objects.filter(actual_start__isnull=False, actual_start__lt=end)
        .exclude(expected_impact=ExpectedImpact.NONE)
        .filter(Q(actual_end__isnull=True) | Q(actual_end__gt=start))
        .prefetch_related("services", "regions")
    )
    for window in windows:
        assert window.actual_start is not None  # filtered above
        regions = frozenset(r.pk for r in window.regions.all())
        for service in window.services.all():
            outages.append(
                Outage(
                    service.pk,
                    regions,
                    window.actual_start,
                    window.actual_end or now,
                    ComponentStatus.UNDER_MAINTENANCE,
                    announced_end=planned_end(window),
                    maintenance_id=window.pk,
                )
            )
    return outages


# --- weighing ------------------------------------------------------------------------------


def weighted_downtime(segments: Iterable[tuple[datetime, datetime, Decimal]]) -> timedelta:
    """The time covered by `segments` (start, end, weight 0-1), each instant counted once
    at the largest weight in force there."""
    events: list[tuple[datetime, int, Decimal]] = []
    for start, end, weight in segments:
        if end > start and weight > 0:
            events += [(start, 1, weight), (end, -1, weight)]
    events.sort(key=lambda e: (e[0], e[1]))
    active: Counter[Decimal] = Counter()
    total = Decimal(0)
    previous: datetime | None = None
    for at, step, weight in events:
        if previous is not None and active:
            total += Decimal((at - previous).total_seconds()) * max(active)
        active[weight] += step
        if active[weight] == 0:
            del active[weight]
        previous = at
    return timedelta(seconds=float(total))


def _counted(outage: Outage, policy: SlaPolicy) -> Outage | None:
    """The part of `outage` the policy counts (maintenance: all, overrun only, or none)."""
    if outage.announced_end is None or policy.maintenance == MaintenanceCounting.ALL:
        return outage
    if policy.maintenance == MaintenanceCounting.NONE or outage.end <= outage.announced_end:
        return None
    return Outage(
        outage.service_id,
        outage.regions,
        max(outage.start, outage.announced_end),
        outage.end,
        outage.status,
        incident_id=outage.incident_id,
        announced_end=outage.announced_end,
        maintenance_id=outage.maintenance_id,
    )


def counts(
    outage: Outage, *, policy: SlaPolicy, scope: Scope, start: datetime, end: datetime
) -> bool:
    """Whether `outage` is downtime of a customer with this policy and scope in [start,
    end): it reaches the customer and the policy counts some of it then (maintenance: per
    `policy.maintenance`)."""
    counted = _counted(outage, policy) if scope.covers(outage) else None
    return counted is not None and counted.start < end and counted.end > start


def month_uptime(
    *,
    policy: SlaPolicy,
    scope: Scope,
    outages: Sequence[Outage],
    month: datetime,
    until: datetime,
) -> Uptime:
    """The customer's uptime over `month`, counting downtime up to `until`."""
    end = min(next_month(month), until)
    segments = []
    for outage in outages:
        counted = _counted(outage, policy) if scope.covers(outage) else None
        if counted is None:
            continue
        start, stop = max(counted.start, month), min(counted.end, end)
        segments.append((start, stop, policy.weight(counted.status)))
    down = weighted_downtime(segments)
    length = Decimal((next_month(month) - month).total_seconds())
    share = Decimal(down.total_seconds()) / length
    uptime = (100 * (1 - share)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return Uptime(month=month, downtime=down, uptime_pct=uptime)


# --- customers -----------------------------------------------------------------------------


def customer_scopes(customers: Sequence[Customer]) -> dict[int, Scope]:
    """What each customer uses: the services its subscribers chose, or every service when
    none of them narrowed it (or it has no subscribers: a customer without a choice)."""
    chosen: dict[int, set[int]] = {}
    everything: set[int] = set()
    subscriptions = (
        Subscription.objects.filter(
            subscriber__customer__in=customers, subscriber__unsubscribed_at__isnull=True
        )
        .select_related("subscriber")
        .prefetch_related("services")
    )
    for subscription in subscriptions:
        customer_id = subscription.subscriber.customer_id
        assert customer_id is not None  # filtered above
        if subscription.all_services:
            everything.add(customer_id)
        else:
            chosen.setdefault(customer_id, set()).update(s.pk for s in subscription.services.all())
    return {
        c.pk: Scope(
            services=None if c.pk in everything or c.pk not in chosen else frozenset(chosen[c.pk]),
            region_id=c.region_id,
        )
        for c in customers
    }


def policies_for(customers: Sequence[Customer]) -> dict[int, SlaPolicy]:
    """Each customer's SLA policy: its own override, else its tier's default (customers
    with neither have no SLA and are left out)."""
    overrides = {
        o.customer_id: o.policy
        for o in CustomerSlaPolicy.objects.filter(customer__in=customers).select_related("policy")
    }
    by_tier = {t.tier: t.policy for t in TierSlaPolicy.objects.select_related("policy")}
    found = {}
    for customer in customers:
        policy = overrides.get(customer.pk) or by_tier.get(customer.tier)
        if policy is not None:
            found[customer.pk] = policy
    return found
