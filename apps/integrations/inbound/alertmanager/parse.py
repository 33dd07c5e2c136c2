"""Prometheus Alertmanager's webhook (`webhook_configs`, payload version 4).

One notification carries a group of alerts (`alerts[]`), each with its own `status`,
`fingerprint` (a hash of its labels: the alert's identity) and `startsAt`. Each alert is
stored as its own event, keyed `groupKey|fingerprint|startsAt|status`: Alertmanager repeats
a group's notification every `repeat_interval` and retries failed deliveries, and both
arrive with the same keys. Grafana's unified alerting sends the same shape (see
`inbound/grafana`), which is why the functions here take the source's key.
"""

from __future__ import annotations

import hashlib

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
    string_labels,
    text,
)

# The group's fields kept with each alert (everything but the other alerts).
GROUP_FIELDS = (
    "receiver",
    "status",
    "groupLabels",
    "commonLabels",
    "commonAnnotations",
    "externalURL",
    "version",
    "groupKey",
    "truncatedAlerts",
    "orgId",
    "title",
    "state",
)
STATUSES = (AlertStatus.FIRING, AlertStatus.RESOLVED)


def fingerprint(alert: JSON) -> str:
    """The alert's own fingerprint, or one computed from its labels (old senders)."""
    given = text(alert.get("fingerprint"))
    if given:
        return given
    labels = string_labels(alert.get("labels") if isinstance(alert.get("labels"), dict) else {})
    canonical = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return "labels:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def alert_key(body: JSON, alert: JSON) -> str:
    return event_key(
        text(body.get("groupKey")),
        fingerprint(alert),
        text(alert.get("startsAt")),
        text(alert.get("status")),
    )


def split_alerts(body: JSON, *, tool: str) -> list[Envelope]:
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadInvalid(
            f"A {tool} webhook carries an 'alerts' list; this body has none. Point a webhook "
            "receiver (not another integration) at this URL."
        )
    context = {name: body[name] for name in GROUP_FIELDS if name in body}
    envelopes: dict[str, Envelope] = {}
    for alert in alerts:
        alert = require_dict(alert, "Each entry of 'alerts'")
        status = text(alert.get("status"))
        key = alert_key(body, alert)
        payload = {**context, "alerts": [alert]}
        if status in STATUSES:
            envelopes[key] = Envelope(key, f"alert.{status}", payload)
        else:
            envelopes[key] = Envelope(
                key,
                f"alert.{status or 'unknown'}",
                payload,
                ignored=True,
                reason=f"Alert status {status!r} is neither firing nor resolved.",
            )
    return list(envelopes.values())


def parse_alert(payload: JSON, *, source: str) -> NormalizedAlert | None:
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or len(alerts) != 1:
        raise PayloadInvalid("A stored alert event holds exactly one alert.")
    alert = require_dict(alerts[0], "The alert")
    status = text(alert.get("status"))
    if status not in STATUSES:
        return None
    labels = string_labels(alert.get("labels") if isinstance(alert.get("labels"), dict) else {})
    annotations = string_labels(
        alert.get("annotations") if isinstance(alert.get("annotations"), dict) else {}
    )
    name = labels.get("alertname", "")
    summary = annotations.get("summary") or annotations.get("message", "")
    if name and summary:
        title = f"{name}: {summary}"
    else:
        title = name or summary or f"{source.title()} alert {fingerprint(alert)}"
    links = tuple(
        url
        for url in (
            text(alert.get("generatorURL")),
            text(alert.get("dashboardURL")),
            text(alert.get("panelURL")),
            annotations.get("runbook_url", ""),
            text(payload.get("externalURL")),
        )
        if url
    )
    return NormalizedAlert(
        source=source,
        external_id=alert_key(payload, alert),
        dedup_key=fingerprint(alert),
        status=status,
        title=title[:200],
        description=annotations.get("description", ""),
        severity_hint=severity_from(labels.get("severity") or labels.get("priority")),
        labels=labels,
        started_at=parse_time(alert.get("startsAt")),
        ended_at=parse_time(alert.get("endsAt")) if status == AlertStatus.RESOLVED else None,
        links=links,
    )


def split(body: JSON, headers: Headers) -> list[Envelope]:
    return split_alerts(body, tool="Alertmanager")


def parse(payload: JSON, headers: Headers) -> NormalizedAlert | None:
    return parse_alert(payload, source=Source.ALERTMANAGER)
