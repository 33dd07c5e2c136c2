"""PagerDuty webhooks v3 (a webhook subscription on a service or account).

Each delivery carries one event: `{"event": {"id", "event_type", "resource_type",
"occurred_at", "data": {incident}}}`, keyed by the event's own `id` (redeliveries reuse it).
`incident.triggered` and `incident.reopened` fire the alert, `incident.resolved` resolves
it; the incident's id is the alert's identity. Every other type (`pagey.ping` when the
subscription is tested, `incident.acknowledged`, `incident.annotated`, service events, ...)
is accepted and ignored.
"""

from __future__ import annotations

from apps.integrations.choices import AlertStatus, Source
from apps.integrations.inbound.base import (
    JSON,
    Envelope,
    Headers,
    NormalizedAlert,
    PayloadInvalid,
    event_key,
    parse_time,
    require_dict,
    severity_from,
    text,
)

STATUS_BY_TYPE = {
    "incident.triggered": AlertStatus.FIRING,
    "incident.reopened": AlertStatus.FIRING,
    "incident.resolved": AlertStatus.RESOLVED,
}
URGENCY_SEVERITY = {"high": "P2", "low": "P4"}


def _event(body: JSON) -> JSON:
    event = body.get("event")
    if not isinstance(event, dict) or not text(event.get("id")):
        raise PayloadInvalid(
            "A PagerDuty v3 webhook has an 'event' object with an 'id'; this body has none. "
            "Use a Generic Webhook (v3) subscription."
        )
    return event


def split(body: JSON, headers: Headers) -> list[Envelope]:
    event = _event(body)
    event_type = text(event.get("event_type"))
    ignored = event_type not in STATUS_BY_TYPE
    return [
        Envelope(
            event_key(text(event.get("id"))),
            event_type or "unknown",
            body,
            ignored=ignored,
            reason=f"PagerDuty event type {event_type!r} does not open or resolve alerts."
            if ignored
            else "",
        )
    ]


def _summary(value: object) -> str:
    return text(value.get("summary")) if isinstance(value, dict) else ""


def parse(payload: JSON, headers: Headers) -> NormalizedAlert | None:
    event = _event(payload)
    status = STATUS_BY_TYPE.get(text(event.get("event_type")))
    if status is None:
        return None
    incident = require_dict(event.get("data"), "The event's 'data'")
    incident_id = text(incident.get("id"))
    if not incident_id:
        raise PayloadInvalid("The PagerDuty incident has no id.")
    priority = _summary(incident.get("priority"))
    urgency = text(incident.get("urgency")).lower()
    teams = incident.get("teams") if isinstance(incident.get("teams"), list) else []
    labels = {
        "service": _summary(incident.get("service")),
        "service_id": text((incident.get("service") or {}).get("id"))
        if isinstance(incident.get("service"), dict)
        else "",
        "escalation_policy": _summary(incident.get("escalation_policy")),
        "team": _summary(teams[0]) if teams else "",
        "urgency": urgency,
        "priority": priority,
    }
    occurred = parse_time(event.get("occurred_at"))
    number = text(incident.get("number"))
    title = text(incident.get("title")) or f"PagerDuty incident {number or incident_id}"
    return NormalizedAlert(
        source=Source.PAGERDUTY,
        external_id=text(event.get("id")),
        dedup_key=incident_id,
        status=status,
        title=title[:200],
        description=f"PagerDuty incident #{number}" if number else "",
        severity_hint=severity_from(priority) or URGENCY_SEVERITY.get(urgency),
        labels={k: v for k, v in labels.items() if v},
        started_at=occurred if status == AlertStatus.FIRING else None,
        ended_at=occurred if status == AlertStatus.RESOLVED else None,
        links=tuple(u for u in (text(incident.get("html_url")),) if u),
    )
