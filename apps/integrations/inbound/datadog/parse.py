"""Datadog's Webhooks integration, with the payload template of this folder's README.

Datadog's payload is whatever the webhook's template says; Clarion's template sends the
notification's `$ID`, the monitor's `$ALERT_ID`, `$ALERT_TRANSITION`, `$ALERT_SCOPE`,
`$TAGS`, `$ALERT_PRIORITY` and titles. An event is keyed `id|transition`; the alert is the
monitor and its scope (one per group of a multi-alert monitor), so its recovery resolves
what its trigger fired. `Triggered`, `Re-Triggered`, `Warn`, `No Data` (and their `Re-`
forms) and `Renotify` fire; `Recovered` resolves; anything else is ignored. Datadog's
default template (no transition field) is read from its `[Triggered]` title prefix.
"""

from __future__ import annotations

import re

from apps.integrations.choices import AlertStatus, Source
from apps.integrations.inbound.base import (
    JSON,
    Envelope,
    Headers,
    NormalizedAlert,
    PayloadInvalid,
    event_key,
    parse_time,
    severity_from,
    text,
)

FIRING = {"triggered", "re-triggered", "warn", "re-warn", "no data", "re-no data", "renotify"}
RESOLVED = {"recovered"}
ALERT_TYPE_SEVERITY = {"error": "P2", "warning": "P3", "info": "P4"}
_TITLE_PREFIX = re.compile(r"^\[(?P<transition>[A-Za-z -]+?)(?: on [^\]]*)?\]\s*")


def _transition(body: JSON) -> str:
    given = text(body.get("transition"))
    if given:
        return given
    found = _TITLE_PREFIX.match(text(body.get("title")))
    return found.group("transition") if found else ""


def _status(transition: str) -> str | None:
    word = transition.lower()
    if word in FIRING:
        return AlertStatus.FIRING
    if word in RESOLVED:
        return AlertStatus.RESOLVED
    return None


def tag_labels(raw: str) -> dict[str, str]:
    """Datadog tags ("env:prod, service:api, monitor") as labels; a bare tag maps to ''."""
    labels: dict[str, str] = {}
    for tag in raw.split(","):
        name, _, value = tag.strip().partition(":")
        if name:
            labels.setdefault(name.strip(), value.strip())
    return labels


def split(body: JSON, headers: Headers) -> list[Envelope]:
    notification_id = text(body.get("id"))
    if not notification_id:
        raise PayloadInvalid(
            "The Datadog payload has no 'id': use the payload template from Clarion's "
            "Datadog setup ($ID, $ALERT_ID, $ALERT_TRANSITION, ...)."
        )
    transition = _transition(body)
    status = _status(transition)
    return [
        Envelope(
            event_key(notification_id, transition),
            f"monitor.{transition.lower().replace(' ', '_') or 'unknown'}",
            body,
            ignored=status is None,
            reason=f"Datadog transition {transition!r} does not open or resolve alerts."
            if status is None
            else "",
        )
    ]


def parse(payload: JSON, headers: Headers) -> NormalizedAlert | None:
    transition = _transition(payload)
    status = _status(transition)
    if status is None:
        return None
    scope = text(payload.get("scope"))
    labels = tag_labels(text(payload.get("tags")))
    labels.update({k: v for k, v in tag_labels(scope).items() if v})
    hostname = text(payload.get("hostname"))
    if hostname:
        labels.setdefault("host", hostname)
    priority = text(payload.get("priority"))
    if priority:
        labels["priority"] = priority
    title = text(payload.get("alert_title")) or _TITLE_PREFIX.sub("", text(payload.get("title")))
    alert_id = text(payload.get("alert_id"))
    identity = f"{alert_id}|{scope}" if alert_id else f"title|{title}"
    when = parse_time(payload.get("date")) or parse_time(payload.get("last_updated"))
    return NormalizedAlert(
        source=Source.DATADOG,
        external_id=event_key(text(payload.get("id")), transition),
        dedup_key=event_key(identity),
        status=status,
        title=(title or f"Datadog monitor {alert_id}")[:200],
        description=text(payload.get("body")),
        severity_hint=severity_from(priority)
        or ALERT_TYPE_SEVERITY.get(text(payload.get("alert_type")).lower()),
        labels=labels,
        started_at=when if status == AlertStatus.FIRING else None,
        ended_at=when if status == AlertStatus.RESOLVED else None,
        links=tuple(u for u in (text(payload.get("link")),) if u),
    )
