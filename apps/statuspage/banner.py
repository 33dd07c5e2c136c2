"""In-app banners: what one customer of the tenant should see inside the tenant's product.

A banner is an open public incident whose severity policy uses the in-app channel, or a
maintenance window in progress or starting within a day, targeted like the notifications:
- region: incidents and windows limited to regions show only to customers in them (a
  customer whose region is unknown sees them too, as subscribers do; an unknown customer
  key sees only global ones);
- components: when every person of the customer chose services, only incidents touching
  one of those services show (an incident touches its children's services too);
- tier: banners go to every tier (SMS is the channel reserved to enterprise customers).

The text is the raw public update until a message's in-app broadcast is delivered; then it
is that message's `in_app` line, in the customer's time zone (`channels/in_app.py`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from apps.communications.channels.in_app import banner_lines
from apps.incidents.choices import ACTIVE_MAINTENANCE, OPEN_STATUSES, Channel, MaintenanceStatus
from apps.incidents.models import MaintenanceWindow
from apps.incidents.selectors import policies_by_level
from apps.statuspage import selectors
from apps.subscribers.models import Customer, Subscription

UPCOMING = timedelta(hours=24)


def _services_of(customer: Customer) -> set[int] | None:
    """The services the customer's people follow; None = everything."""
    subscriptions = Subscription.objects.filter(
        subscriber__customer=customer, subscriber__unsubscribed_at__isnull=True
    )
    if not subscriptions.exists() or subscriptions.filter(all_services=True).exists():
        return None
    return set(subscriptions.values_list("services", flat=True))


def _line(text: str, limit: int = 200) -> str:
    first = " ".join(text.split())
    return first if len(first) <= limit else first[: limit - 1] + "…"


def banners_for(
    customer_key: str | None, *, page_id: str, base_url: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The banners of the customer with `customer_key` (None: an unknown visitor) at `now`."""
    customer = (
        Customer.objects.filter(external_key=customer_key, active=True).first()
        if customer_key
        else None
    )
    region_id = customer.region_id if customer else None
    known = customer is not None
    services = _services_of(customer) if customer else None
    in_app = {level for level, p in policies_by_level().items() if Channel.IN_APP in p.channels}

    def region_ok(regions: set[int]) -> bool:
        if not regions:
            return True
        return known and (region_id is None or region_id in regions)

    result: list[dict[str, Any]] = []
    incidents = selectors.public_incidents().filter(status__in=OPEN_STATUSES, severity__in=in_app)
    for incident in incidents:
        regions = {r.pk for r in incident.regions.all()}
        touched = selectors.thread_service_ids(incident)
        if not region_ok(regions) or (services is not None and not touched & services):
            continue
        latest = incident.public_updates[0].body if incident.public_updates else ""
        result.append(
            {
                "id": f"incident-{incident.pk}",
                "kind": "incident",
                "title": incident.title,
                "message": _line(latest),
                "status": incident.status,
                "impact": selectors.IMPACT_BY_SEVERITY[incident.severity],
                "url": f"{base_url}incidents/{incident.pk}/",
                "updated_at": selectors.iso(incident.updated_at),
            }
        )
    soon = (now or timezone.now()) + UPCOMING
    windows = (
        MaintenanceWindow.objects.filter(
            Q(status__in=ACTIVE_MAINTENANCE)
            | Q(status=MaintenanceStatus.SCHEDULED, scheduled_start__lte=soon)
        )
        .prefetch_related("regions", "services")
        .order_by("scheduled_start")
    )
    for window in windows:
        regions = {r.pk for r in window.regions.all()}
        touched = {s.pk for s in window.services.all()}
        if not region_ok(regions) or (services is not None and not touched & services):
            continue
        result.append(
            {
                "id": f"maintenance-{window.pk}",
                "kind": "maintenance",
                "title": window.title,
                "message": _line(window.customer_action or window.description),
                "status": window.status,
                "impact": "maintenance",
                "url": f"{base_url}#maintenance-{window.pk}",
                "scheduled_for": selectors.iso(window.scheduled_start),
                "scheduled_until": selectors.iso(window.scheduled_end),
                "updated_at": selectors.iso(window.updated_at),
            }
        )
    # Once a message's in-app broadcast is delivered, its one line replaces the raw text.
    ids = {
        kind: [int(b["id"].split("-")[1]) for b in result if b["kind"] == kind]
        for kind in ("incident", "maintenance")
    }
    lines = banner_lines(
        incidents=ids["incident"],
        maintenances=ids["maintenance"],
        time_zone=customer.time_zone if customer else "UTC",
    )
    for banner in result:
        if lines.get(banner["id"]):
            banner["message"] = _line(lines[banner["id"]])
    return result
