"""The values a message's templates are rendered with, frozen when it is drafted.

Stored as JSON on the message; times are ISO strings there and datetimes again (`decode`)
when rendered, so that `{{ started_at|local:time_zone }}` shows each recipient's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from apps.communications.choices import MessageKind
from apps.communications.models import Message
from apps.core.registry import Registry
from apps.core.tenancy import current_tenant
from apps.incidents.models import Incident, IncidentUpdate, MaintenanceWindow
from apps.incidents.selectors import policy_settings
from apps.subscribers.models import Subscriber
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


def every(interval: timedelta) -> str:
    """ "15 minutes", "1 hour", "2 hours", "90 minutes": an interval in words."""
    minutes = max(1, round(interval.total_seconds() / 60))
    if minutes % 60 == 0:
        hours = minutes // 60
        return "1 hour" if hours == 1 else f"{hours} hours"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


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
    if incident is not None and kind == MessageKind.EXTENDED_OUTAGE:
        context.update(_known_and_unknown(context))
        context["update_interval"] = every(policy_settings().extended_update_interval)
    if incident is not None and kind == MessageKind.RESOLUTION:
        context.update(_all_clear(incident))
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


def _known_and_unknown(context: dict[str, Any]) -> dict[str, str]:
    """The extended-outage wording's two paragraphs, from what the incident records: what
    is affected and the working theory; what is still open (the cause, the ETA)."""
    services = context.get("services") or []
    regions = context.get("regions") or []
    known = f"{', '.join(services) or 'Our service'} {'is' if len(services) <= 1 else 'are'}"
    known += f" affected in {', '.join(regions)}." if regions else " affected."
    if context.get("root_cause"):
        known += f" Our working theory: {context['root_cause']}."
    unknown = "When" if context.get("root_cause") else "The root cause, and when"
    unknown += " everything will be back to normal: we have no reliable estimate yet."
    return {"known": known, "unknown": unknown}


def _all_clear(incident: Incident) -> dict[str, str]:
    """The resolution's parts, as recorded when the incident was resolved."""
    happened = " ".join(
        part
        for part in (
            incident.what_was_affected,
            f"Root cause: {incident.root_cause}" if incident.root_cause else "",
        )
        if part
    )
    return {
        "what_was_affected": incident.what_was_affected,
        "what_happened": happened,
        "what_we_fixed": incident.what_we_fixed,
        "prevention": incident.prevention,
    }


# Values that differ per recipient beyond the name and links (e.g. the SLA credit of the
# recipient's customer). A provider takes the message and a batch's subscribers and returns
# {subscriber id: {placeholder: JSON-serialisable value}} for those it has values for; the
# fan-out renders one variant per distinct set. Apps register providers in `ready()`.
RecipientContextProvider = Callable[
    [Message, Sequence[Subscriber]], Mapping[int, Mapping[str, Any]]
]
recipient_context: Registry[RecipientContextProvider] = Registry("recipient context provider")


def recipient_values(
    message: Message, subscribers: Sequence[Subscriber]
) -> dict[int, dict[str, Any]]:
    """Every registered provider's per-recipient values for `subscribers` (one query per
    provider and batch)."""
    found: dict[int, dict[str, Any]] = {}
    for _, provider in recipient_context.items():
        for subscriber_id, values in provider(message, subscribers).items():
            found.setdefault(subscriber_id, {}).update(values)
    return found


def decode(context: dict[str, Any]) -> dict[str, Any]:
    """The stored context with its times as datetimes again."""
    return {
        key: datetime.fromisoformat(value) if key in TIME_KEYS and isinstance(value, str) else value
        for key, value in context.items()
    }
