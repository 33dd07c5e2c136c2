"""What the public may see, in Atlassian Statuspage's shapes (API v2).

Mapping of Clarion onto Statuspage:
- services are components and service groups are group components (`group: true`, child
  ids in `components`); component statuses are the same enum;
- incident severity -> `impact`: P1 critical, P2 major, P3 minor, P4 none;
- incident status is the same enum (`triage` is never public); a public post-mortem
  turns a resolved incident's status into `postmortem`;
- maintenance statuses are the same enum (`scheduled`, `in_progress`, `verifying`,
  `completed`; `cancelled` windows are left out); their impact is `maintenance`;
- the page indicator is the worst impact among unresolved incidents, else `maintenance`
  while a window is in progress, else `none`.

Only customer-confirmed, top-level incidents are public (a child's parent speaks for it);
internal titles and internal notes never appear here. A child's affected services count
under its parent: in the parent's `components` and in the uptime bars, named by the parent.

Components are one shape everywhere (components.json, and an incident's or a maintenance's
`components`): the component object with its current status, as Statuspage's API gives it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

from django.db.models import Max, Prefetch, Q
from django.utils import timezone

from apps.incidents.choices import (
    ACTIVE_MAINTENANCE,
    OPEN_STATUSES,
    ComponentStatus,
    MaintenanceStatus,
    Severity,
    worst_status,
)
from apps.incidents.models import (
    Incident,
    IncidentService,
    IncidentUpdate,
    MaintenanceUpdate,
    MaintenanceWindow,
    Service,
    ServiceGroup,
)
from apps.incidents.selectors import service_statuses
from apps.postmortems.selectors import public_review
from apps.statuspage.models import PageBranding

IMPACT_BY_SEVERITY = {
    Severity.P1: "critical",
    Severity.P2: "major",
    Severity.P3: "minor",
    Severity.P4: "none",
}
IMPACT_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}
INDICATOR_DESCRIPTION = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
    "maintenance": "Service Under Maintenance",
}
# Share of a day counted as down, per component status (for the uptime bars).
DOWNTIME_WEIGHT = {
    ComponentStatus.MAJOR_OUTAGE: 1.0,
    ComponentStatus.PARTIAL_OUTAGE: 0.5,
    ComponentStatus.DEGRADED_PERFORMANCE: 0.0,
}
UPTIME_DAYS = 90


def iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def page_branding() -> PageBranding:
    """The tenant's logo, accent colour and footer links (the defaults when never set)."""
    found = PageBranding.objects.filter(pk=PageBranding.singleton_pk).first()
    return found or PageBranding(pk=PageBranding.singleton_pk)


def group_id(group: ServiceGroup) -> str:
    return f"group-{group.pk}"


# --- reads ----------------------------------------------------------------------------------


def public_incidents() -> Any:
    """Public incidents with their public timeline, affected services (their children's
    too) and regions, newest first."""
    return (
        Incident.objects.public()
        .order_by("-started_at", "-id")
        .prefetch_related(
            Prefetch(
                "updates",
                queryset=IncidentUpdate.objects.exclude(body="").order_by("-display_at", "-id"),
                to_attr="public_updates",
            ),
            Prefetch("affected", queryset=IncidentService.objects.select_related("service")),
            Prefetch(
                "children",
                queryset=Incident.objects.filter(false_alarm=False).prefetch_related("affected"),
                to_attr="thread_children",
            ),
            "regions",
            "postmortem",
        )
    )


def thread_service_ids(incident: Incident) -> set[int]:
    """The services an incident affects, its children's included: customers hear of those
    through it (as the audience of its messages does)."""
    children = getattr(incident, "thread_children", None)
    if children is None:
        children = list(incident.children.filter(false_alarm=False).prefetch_related("affected"))
    return {row.service_id for row in incident.affected.all()} | {
        row.service_id for child in children for row in child.affected.all()
    }


def public_maintenances() -> Any:
    return (
        MaintenanceWindow.objects.exclude(status=MaintenanceStatus.CANCELLED)
        .order_by("-scheduled_start", "-id")
        .prefetch_related(
            Prefetch(
                "updates",
                queryset=MaintenanceUpdate.objects.order_by("-created_at", "-id"),
                to_attr="ordered_updates",
            ),
            "services",
            "regions",
        )
    )


def last_change() -> datetime | None:
    """When anything on the page last changed (for `updated_at` and Last-Modified)."""
    stamps = [
        Incident.objects.public().aggregate(m=Max("updated_at"))["m"],
        MaintenanceWindow.objects.aggregate(m=Max("updated_at"))["m"],
        Service.objects.aggregate(m=Max("updated_at"))["m"],
        ServiceGroup.objects.aggregate(m=Max("updated_at"))["m"],
    ]
    known = [s for s in stamps if s is not None]
    return max(known) if known else None


# --- Statuspage shapes ----------------------------------------------------------------------


def page_json(*, page_id: str, name: str, url: str, updated_at: datetime | None) -> dict[str, Any]:
    return {
        "id": page_id,
        "name": name,
        "url": url,
        "time_zone": "Etc/UTC",
        "updated_at": iso(updated_at or timezone.now()),
    }


def component_json(service: Service, status: str, page_id: str) -> dict[str, Any]:
    """One service as a Statuspage component object, in its current `status`."""
    return {
        "id": service.slug,
        "name": service.name,
        "status": status,
        "created_at": iso(service.created_at),
        "updated_at": iso(service.updated_at),
        "position": service.position,
        "description": service.description or None,
        "showcase": service.showcase,
        "start_date": iso(service.start_date),
        "group_id": f"group-{service.group_id}" if service.group_id is not None else None,
        "page_id": page_id,
        "group": False,
        "only_show_if_degraded": service.only_show_if_degraded,
    }


def _services_in_page_order() -> Any:
    return Service.objects.select_related("group").order_by("group__position", "position", "name")


def components_by_service(
    page_id: str, service_ids: Iterable[int] | None = None
) -> dict[int, dict[str, Any]]:
    """Service pk -> its component object (current status), in page order; every service,
    or those of `service_ids`. Three queries."""
    services = _services_in_page_order()
    if service_ids is not None:
        services = services.filter(pk__in=list(service_ids))
    services = list(services)
    statuses = service_statuses(services=services, public=True)
    return {s.pk: component_json(s, statuses[s.pk], page_id) for s in services}


def _components_of(
    service_ids: set[int], page_id: str, components: Mapping[int, dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """The component objects of `service_ids`, in page order (from `components` when the
    caller already has every service's, else read)."""
    if not service_ids:
        return []
    if components is None:
        components = components_by_service(page_id, service_ids)
    return [c for pk, c in components.items() if pk in service_ids]


def components_json(
    page_id: str, by_service: Mapping[int, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Every component object, then the groups'. `by_service`: what `components_by_service`
    gave the caller already (the statuses are not read again)."""
    services = list(_services_in_page_order())
    if by_service is None:
        statuses = service_statuses(services=services, public=True)
        by_service = {s.pk: component_json(s, statuses[s.pk], page_id) for s in services}
    groups = {s.group.pk: s.group for s in services if s.group is not None}
    children: defaultdict[int, list[str]] = defaultdict(list)
    rows: list[dict[str, Any]] = []
    for service in services:
        if service.group_id is not None:
            children[service.group_id].append(service.slug)
        rows.append(by_service[service.pk])
    for group in groups.values():
        member_statuses = [by_service[s.pk]["status"] for s in services if s.group_id == group.pk]
        rows.append(
            {
                "id": group_id(group),
                "name": group.name,
                "status": worst_status(member_statuses),
                "created_at": iso(group.created_at),
                "updated_at": iso(group.updated_at),
                "position": group.position,
                "description": group.description or None,
                "showcase": False,
                "start_date": None,
                "group_id": None,
                "page_id": page_id,
                "group": True,
                "only_show_if_degraded": False,
                "components": children[group.pk],
            }
        )
    return rows


def incident_json(
    incident: Incident,
    page_id: str,
    base_url: str,
    *,
    components: Mapping[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A public incident in Statuspage's shape. `components`: every service's component
    object (`components_by_service`), when rendering many incidents at once."""
    updates = getattr(incident, "public_updates", None)
    if updates is None:
        updates = list(incident.updates.exclude(body="").order_by("-display_at", "-id"))
    review = public_review(incident)  # its public parts only, once published
    return {
        "id": str(incident.pk),
        "name": incident.title,
        "status": "postmortem" if review else incident.status,
        "created_at": iso(incident.started_at),
        "updated_at": iso(incident.updated_at),
        "monitoring_at": iso(incident.monitoring_at),
        "resolved_at": iso(incident.resolved_at),
        "impact": IMPACT_BY_SEVERITY[Severity(incident.severity)],
        "shortlink": f"{base_url}incidents/{incident.pk}/",
        "started_at": iso(incident.started_at),
        "page_id": page_id,
        "incident_updates": [
            {
                "id": str(update.pk),
                "status": update.status,
                "body": update.body,
                "incident_id": str(incident.pk),
                "created_at": iso(update.created_at),
                "updated_at": iso(update.created_at),
                "display_at": iso(update.display_at),
                "affected_components": [
                    {
                        "code": c["service"],
                        "name": c["name"],
                        "old_status": c["old_status"],
                        "new_status": c["new_status"],
                    }
                    for c in update.component_changes
                ]
                or None,
                "deliver_notifications": update.deliver_notifications,
                "custom_tweet": None,
                "tweet_id": None,
            }
            for update in updates
        ],
        "components": _components_of(thread_service_ids(incident), page_id, components),
        "regions": [r.code for r in incident.regions.all()],
        "postmortem_body": review.markdown if review else None,
        "postmortem_published_at": iso(review.published_at) if review else None,
    }


def maintenance_json(
    window: MaintenanceWindow,
    page_id: str,
    base_url: str,
    *,
    components: Mapping[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A maintenance window as a Statuspage scheduled maintenance (`components` as for
    `incident_json`)."""
    updates = getattr(window, "ordered_updates", None) or list(window.updates.all())
    return {
        "id": f"m{window.pk}",
        "name": window.title,
        "status": window.status,
        "created_at": iso(window.created_at),
        "updated_at": iso(window.updated_at),
        "monitoring_at": None,
        "resolved_at": iso(window.actual_end),
        "impact": "maintenance",
        "shortlink": f"{base_url}#maintenance-{window.pk}",
        "started_at": iso(window.actual_start or window.scheduled_start),
        "page_id": page_id,
        "scheduled_for": iso(window.scheduled_start),
        "scheduled_until": iso(window.scheduled_end),
        "incident_updates": [
            {
                "id": f"mu{update.pk}",
                "status": update.status,
                "body": update.body,
                "incident_id": f"m{window.pk}",
                "created_at": iso(update.created_at),
                "updated_at": iso(update.created_at),
                "display_at": iso(update.created_at),
                "affected_components": None,
                "deliver_notifications": True,
                "custom_tweet": None,
                "tweet_id": None,
            }
            for update in updates
        ],
        "components": _components_of({s.pk for s in window.services.all()}, page_id, components),
        "regions": [r.code for r in window.regions.all()],
    }


def status_json(
    incidents: Iterable[dict[str, Any]], maintenances: Iterable[dict[str, Any]]
) -> dict[str, str]:
    impacts = [i["impact"] for i in incidents if i["status"] in OPEN_STATUSES]
    if impacts:
        indicator = max(impacts, key=IMPACT_RANK.__getitem__)
    elif any(m["status"] in ACTIVE_MAINTENANCE for m in maintenances):
        indicator = "maintenance"
    else:
        indicator = "none"
    return {"indicator": indicator, "description": INDICATOR_DESCRIPTION[indicator]}


# --- uptime ---------------------------------------------------------------------------------


def _weighted_cover(spans: list[tuple[datetime, datetime, float]]) -> timedelta:
    """The time covered by `spans`, each instant weighted by the heaviest span over it (a
    parent and its child down at once count once)."""
    edges = sorted({t for begin, end, _ in spans for t in (begin, end)})
    total = timedelta(0)
    for left, right in pairwise(edges):
        weights = [w for begin, end, w in spans if begin <= left and end >= right]
        if weights:
            total += (right - left) * max(weights)
    return total


def uptime_by_service(
    *, days: int = UPTIME_DAYS, now: datetime | None = None
) -> dict[int, list[dict[str, Any]]]:
    """Per service, one entry per day (oldest first): worst status that day, the share of the
    day counted as down, and the public incidents that touched it. One query.

    A child incident counts for the services it affects, by its own times, under its
    parent's title (its own title is internal); a false alarm does not count."""
    now = now or timezone.now()
    today = now.date()
    first_day = today - timedelta(days=days - 1)
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    public_head = Q(
        incident__parent__isnull=True,
        incident__customer_impact_confirmed=True,
    ) | Q(
        incident__parent__customer_impact_confirmed=True,
        incident__parent__false_alarm=False,
    )
    rows = (
        IncidentService.objects.filter(public_head)
        .filter(incident__false_alarm=False, incident__started_at__lt=now)
        .filter(Q(incident__resolved_at__isnull=True) | Q(incident__resolved_at__gt=start))
        .select_related("incident__parent")
        .order_by("incident__started_at", "id")
    )
    by_service: defaultdict[int, dict[date, dict[str, Any]]] = defaultdict(dict)
    spans: defaultdict[tuple[int, date], list[tuple[datetime, datetime, float]]] = defaultdict(list)
    for row in rows:
        incident = row.incident
        title = (incident.parent or incident).title
        weight = DOWNTIME_WEIGHT.get(ComponentStatus(row.component_status), 0.0)
        begin = max(incident.started_at, start)
        end = min(incident.resolved_at or now, now)
        day = begin.date()
        while day <= end.date() and day <= today:
            day_start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            entry = by_service[row.service_id].setdefault(
                day, {"status": ComponentStatus.OPERATIONAL, "down": 0.0, "incidents": []}
            )
            entry["status"] = worst_status([entry["status"], row.component_status])
            spans[(row.service_id, day)].append(
                (max(begin, day_start), min(end, day_start + timedelta(days=1)), weight)
            )
            if title not in entry["incidents"]:
                entry["incidents"].append(title)
            day += timedelta(days=1)
    for (service_id, day), day_spans in spans.items():
        by_service[service_id][day]["down"] = _weighted_cover(day_spans) / timedelta(days=1)
    result: dict[int, list[dict[str, Any]]] = {}
    for service_id in Service.objects.order_by().values_list("pk", flat=True):
        known = by_service.get(service_id, {})
        result[service_id] = [
            {
                "date": d,
                **known.get(
                    d, {"status": ComponentStatus.OPERATIONAL, "down": 0.0, "incidents": []}
                ),
            }
            for d in (first_day + timedelta(days=i) for i in range(days))
        ]
    return result


def uptime_percent(days: list[dict[str, Any]]) -> float:
    if not days:
        return 100.0
    down = sum(min(d["down"], 1.0) for d in days)
    return round(100 * (1 - down / len(days)), 2)
