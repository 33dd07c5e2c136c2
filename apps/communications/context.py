"""The values a message's templates are rendered with, frozen when it is drafted.

Stored as JSON on the message; times are ISO strings there and datetimes again (`decode`)
when rendered, so that `{{ started_at|local:time_zone }}` shows each recipient's zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings

from apps.core.tenancy import current_tenant
from apps.incidents.models import Incident, IncidentUpdate, MaintenanceWindow
from apps.subscribers.tokens import manage_token_sign
from apps.tenants.selectors import tenant_url

TIME_KEYS = frozenset(
    {
        "started_at",
        "next_update_at",
        "eta",
        "resolved_at",
        "window_start",
        "window_end",
        "contact_by",
        "revised_end",
        "previous_start",
    }
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def status_page_url() -> str:
    port = settings.CLARION_PUBLIC_PORT
    return tenant_url(
        current_tenant(), scheme=settings.CLARION_PUBLIC_SCHEME, port=int(port) if port else None
    )


def subscriber_links(token: str) -> dict[str, str]:
    """A subscriber's own links: manage the subscription, unsubscribe in one click. They
    carry the manage token signed for the current tenant (`apps.subscribers.tokens`)."""
    base = status_page_url()
    signed = manage_token_sign(token)
    return {
        "manage": f"{base}subscriptions/{signed}/",
        "unsubscribe": f"{base}unsubscribe/{signed}/",
    }


def context_for(
    *,
    kind: str,
    incident: Incident | None = None,
    update: IncidentUpdate | None = None,
    maintenance: MaintenanceWindow | None = None,
) -> dict[str, Any]:
    url = status_page_url()
    context: dict[str, Any] = {
        "company": current_tenant().name,
        "status_page_url": url,
        "time_zone": "UTC",
    }
    if incident is not None:
        affected = incident.affected.select_related("service").order_by("service__name")
        context.update(
            {
                "incident": {"id": incident.pk, "title": incident.title},
                "severity": incident.severity,
                "status": incident.get_status_display(),
                "services": [row.service.name for row in affected],
                "regions": [r.name for r in incident.regions.order_by("name")],
                "started_at": _iso(incident.started_at),
                "impact_pct": incident.impact_scope_pct,
                "next_update_at": _iso(incident.next_update_due),
                "eta": _iso(incident.eta),
                "root_cause": incident.root_cause_hypothesis,
                "resolved_at": _iso(incident.resolved_at),
                "status_page_url": f"{url}incidents/{incident.pk}/",
            }
        )
    if update is not None:
        context.update(
            {
                "update": update.body,
                "status": update.get_status_display(),
                "next_update_at": _iso(update.next_update_at),
                "eta": _iso(update.eta),
            }
        )
    if maintenance is not None:
        context.update(
            {
                "maintenance": {"id": maintenance.pk, "title": maintenance.title},
                "services": [s.name for s in maintenance.services.order_by("name")],
                "regions": [r.name for r in maintenance.regions.order_by("name")],
                "window_start": _iso(maintenance.scheduled_start),
                "window_end": _iso(maintenance.scheduled_end),
                "expected_impact": maintenance.get_expected_impact_display(),
                "what_to_do": maintenance.customer_action,
                "contact_by": _iso(maintenance.contact_by),
                "details_url": f"{url}#maintenance-{maintenance.pk}",
            }
        )
    return context


def decode(context: dict[str, Any]) -> dict[str, Any]:
    """The stored context with its times as datetimes again."""
    return {
        key: datetime.fromisoformat(value) if key in TIME_KEYS and isinstance(value, str) else value
        for key, value in context.items()
    }
