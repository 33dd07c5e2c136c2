"""Demo data for the incident domain: Acme Cloud's services, regions, last week's resolved
P2 with its whole timeline, and next week's maintenance."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.incidents.models import (
    Incident,
    IncidentUpdate,
    MaintenanceWindow,
    Region,
    Service,
    ServiceGroup,
)
from apps.incidents.services import (
    incident_assess,
    incident_open,
    incident_post_update,
    incident_resolve,
    maintenance_schedule,
)

ACTOR = "demo seed"
REGIONS = [
    ("us", "United States", "America/New_York"),
    ("eu", "Europe", "Europe/Paris"),
    ("apac", "Asia Pacific", "Asia/Singapore"),
]
CATALOG = {
    "Platform": [
        ("api", "API", "REST and GraphQL endpoints"),
        ("login", "Login", "Sign-in, SSO and two-factor authentication"),
        ("webhooks", "Webhooks", "Event deliveries to your endpoints"),
    ],
    "Product": [
        ("dashboard", "Dashboard", "The web application"),
        ("search", "Search", "Search across your workspace"),
        ("reporting", "Reporting", "Scheduled and on-demand reports"),
    ],
    "Payments and notifications": [
        ("payments", "Payment processing", "Card and bank payments"),
        ("mobile-push", "Mobile push", "Push notifications to the mobile apps"),
    ],
}


def seed() -> None:
    for code, name, tz in REGIONS:
        Region.objects.get_or_create(code=code, defaults={"name": name, "time_zone": tz})
    for group_position, (group_name, services) in enumerate(CATALOG.items()):
        group, _ = ServiceGroup.objects.get_or_create(
            name=group_name, defaults={"position": group_position}
        )
        for position, (slug, name, description) in enumerate(services):
            Service.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "description": description,
                    "group": group,
                    "position": position,
                },
            )
    if not Incident.objects.exists():
        _last_weeks_incident()
    if not MaintenanceWindow.objects.exists():
        _next_weeks_maintenance()


def _last_weeks_incident() -> None:
    incident = incident_open(
        title="Delayed webhook deliveries in Europe",
        internal_title="webhook-dispatcher queue backlog (eu-west)",
        severity="P2",
        services={"webhooks": "partial_outage", "api": "degraded_performance"},
        regions=["eu"],
        impact_scope_pct=18,
        body="We are investigating delays of up to 20 minutes in webhook deliveries for "
        "customers in Europe. API requests may be slower than usual.",
        actor=ACTOR,
    )
    incident_assess(
        incident=incident,
        hypothesis="Dispatcher workers stuck on a slow customer endpoint",
        eta=timezone.now() + timedelta(hours=1),
        actor=ACTOR,
    )
    incident_post_update(
        incident=incident,
        status="identified",
        body="We found the cause: a backlog in our delivery queue. We are adding capacity; "
        "delayed webhooks will be delivered, none are lost.",
        internal_note="Scaled dispatcher from 6 to 18 workers; per-endpoint timeout lowered.",
        actor=ACTOR,
    )
    incident_post_update(
        incident=incident,
        status="monitoring",
        body="Deliveries are back to normal speed and the backlog is draining. We are monitoring.",
        component_changes={"api": "operational", "webhooks": "degraded_performance"},
        actor=ACTOR,
    )
    incident_resolve(
        incident=incident,
        body="Webhook deliveries in Europe have been back to normal since 15:50 UTC. Every "
        "delayed event was delivered. We are adding per-endpoint isolation so one slow "
        "endpoint cannot hold up the queue again.",
        what_was_affected="Webhook deliveries in Europe were delayed by up to 40 minutes.",
        root_cause="One slow customer endpoint held up the shared delivery queue.",
        what_we_fixed="We added dispatcher capacity and lowered the per-endpoint timeout.",
        prevention="Per-endpoint isolation, so one slow endpoint cannot hold up the queue.",
        actor=ACTOR,
    )
    # The use-cases stamp "now"; move the story to last week, 14:05 UTC, step by step.
    start = (timezone.now() - timedelta(days=7)).replace(hour=14, minute=5, second=0, microsecond=0)
    offsets = [0, 25, 80, 105]  # investigating, identified, monitoring, resolved
    for update, minutes in zip(incident.updates.order_by("created_at", "id"), offsets, strict=True):
        at = start + timedelta(minutes=minutes)
        IncidentUpdate.objects.filter(pk=update.pk).update(
            created_at=at,
            display_at=at,
            next_update_at=at + timedelta(hours=1) if minutes < 105 else None,
        )
    Incident.objects.filter(pk=incident.pk).update(
        started_at=start - timedelta(minutes=4),
        detected_at=start - timedelta(minutes=2),
        acknowledged_at=start + timedelta(minutes=3),
        assessed_at=start + timedelta(minutes=9),
        impact_confirmed_at=start,
        monitoring_at=start + timedelta(minutes=80),
        resolved_at=start + timedelta(minutes=105),
        eta=start + timedelta(hours=2),
    )


def _next_weeks_maintenance() -> None:
    start = (timezone.now() + timedelta(days=7)).replace(hour=2, minute=0, second=0, microsecond=0)
    maintenance_schedule(
        title="Search and reporting database upgrade",
        description="We are upgrading the database behind search and reporting to a new "
        "major version.",
        services=["search", "reporting"],
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
        expected_impact="degraded",
        customer_action="Scheduled reports due during the window will run when it ends; "
        "no action is needed.",
        contact_by=start - timedelta(days=2),
        actor=ACTOR,
    )
