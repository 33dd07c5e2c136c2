"""Sentry's integration platform webhooks (an internal integration).

The resource is in the `Sentry-Hook-Resource` header, the change in the body's `action`:

- `issue`: `created` / `unresolved` fire, `resolved` / `ignored` / `archived` resolve,
  `assigned` is ignored;
- `event_alert` (an issue alert rule's action): `triggered` fires the alert of its issue;
- `metric_alert`: `critical` / `warning` fire, `resolved` resolves (one alert per rule);
- `installation`, `comment`, `error` and anything else are ignored.

An issue is one alert whether it arrives as `issue` or `event_alert`, so Sentry resolving
the issue recovers the alert its rule fired. Events are keyed by the `Request-ID` header,
else by resource, object id, action and `Sentry-Hook-Timestamp`.
"""

from __future__ import annotations

from typing import Any

from apps.integrations.choices import AlertStatus, Source
from apps.integrations.inbound.base import (
    JSON,
    Envelope,
    Headers,
    NormalizedAlert,
    PayloadInvalid,
    event_key,
    header,
    items,
    obj,
    parse_time,
    require_dict,
    severity_from,
    string_labels,
    text,
)

STATUS_BY_EVENT = {
    ("issue", "created"): AlertStatus.FIRING,
    ("issue", "unresolved"): AlertStatus.FIRING,
    ("issue", "resolved"): AlertStatus.RESOLVED,
    ("issue", "ignored"): AlertStatus.RESOLVED,
    ("issue", "archived"): AlertStatus.RESOLVED,
    ("event_alert", "triggered"): AlertStatus.FIRING,
    ("metric_alert", "critical"): AlertStatus.FIRING,
    ("metric_alert", "warning"): AlertStatus.FIRING,
    ("metric_alert", "resolved"): AlertStatus.RESOLVED,
}


def _resource(headers: Headers) -> str:
    return header(headers, "Sentry-Hook-Resource")


def _data(body: JSON) -> JSON:
    return obj(body.get("data"))


def _object_id(resource: str, data: JSON) -> str:
    found: Any = None
    if resource == "issue":
        found = obj(data.get("issue")).get("id")
    elif resource == "event_alert":
        found = obj(data.get("event")).get("issue_id")
    elif resource == "metric_alert":
        found = obj(data.get("metric_alert")).get("id")
    elif resource == "installation":
        found = obj(data.get("installation")).get("uuid")
    return text(found)


def split(body: JSON, headers: Headers) -> list[Envelope]:
    resource = _resource(headers)
    action = text(body.get("action"))
    if not resource:
        raise PayloadInvalid(
            "Missing Sentry-Hook-Resource header: point a Sentry internal integration's "
            "webhook (not a legacy plugin) at this URL."
        )
    request_id = header(headers, "Request-ID")
    key = (
        event_key("request", request_id)
        if request_id
        else event_key(
            resource,
            _object_id(resource, _data(body)),
            action,
            header(headers, "Sentry-Hook-Timestamp"),
        )
    )
    ignored = (resource, action) not in STATUS_BY_EVENT
    return [
        Envelope(
            key,
            f"{resource}.{action}",
            body,
            ignored=ignored,
            reason=f"Sentry {resource}.{action} does not open or resolve alerts."
            if ignored
            else "",
        )
    ]


def _issue_alert(issue: JSON, status: str, external_id: str) -> NormalizedAlert:
    project = obj(issue.get("project"))
    labels = {
        "project": text(project.get("slug")),
        "level": text(issue.get("level")),
        "platform": text(issue.get("platform")),
        "substatus": text(issue.get("substatus")),
    }
    short = text(issue.get("shortId"))
    return NormalizedAlert(
        source=Source.SENTRY,
        external_id=external_id,
        dedup_key=f"issue:{text(issue.get('id'))}",
        status=status,
        title=(text(issue.get("title")) or f"Sentry issue {short}")[:200],
        description=" ".join(p for p in (short, text(issue.get("culprit"))) if p),
        severity_hint=severity_from(issue.get("level")),
        labels={k: v for k, v in labels.items() if v},
        started_at=parse_time(issue.get("firstSeen")),
        ended_at=None,
        links=tuple(u for u in (text(issue.get("web_url")), text(issue.get("permalink"))) if u),
    )


def _event_alert(data: JSON, external_id: str) -> NormalizedAlert:
    event = require_dict(data.get("event"), "data.event")
    tags = items(event.get("tags"))
    labels = string_labels(
        {pair[0]: pair[1] for pair in tags if isinstance(pair, list) and len(pair) == 2}
    )
    labels.update(
        {
            k: v
            for k, v in {
                "level": text(event.get("level")),
                "platform": text(event.get("platform")),
                "environment": text(event.get("environment")),
                "rule": text(data.get("triggered_rule")),
            }.items()
            if v
        }
    )
    issue_id = text(event.get("issue_id"))
    if not issue_id:
        raise PayloadInvalid("The Sentry event alert names no issue_id.")
    return NormalizedAlert(
        source=Source.SENTRY,
        external_id=external_id,
        dedup_key=f"issue:{issue_id}",
        status=AlertStatus.FIRING,
        title=(text(event.get("title")) or text(data.get("triggered_rule")) or "Sentry alert")[
            :200
        ],
        description=text(event.get("culprit")),
        severity_hint=severity_from(event.get("level")),
        labels=labels,
        started_at=parse_time(event.get("datetime")),
        links=tuple(u for u in (text(event.get("web_url")),) if u),
    )


def _metric_alert(data: JSON, action: str, status: str, external_id: str) -> NormalizedAlert:
    metric = require_dict(data.get("metric_alert"), "data.metric_alert")
    rule = obj(metric.get("alert_rule"))
    rule_id = text(rule.get("id")) or text(metric.get("id"))
    projects = items(rule.get("projects"))
    labels = {
        "rule": text(rule.get("name")),
        "project": text(projects[0]) if projects else "",
        "environment": text(rule.get("environment")),
        "dataset": text(rule.get("dataset")),
    }
    return NormalizedAlert(
        source=Source.SENTRY,
        external_id=external_id,
        dedup_key=f"metric_alert:{rule_id}",
        status=status,
        title=(text(data.get("description_title")) or text(rule.get("name")) or "Sentry metric")[
            :200
        ],
        description=text(data.get("description_text")),
        severity_hint=severity_from(action) if status == AlertStatus.FIRING else None,
        labels={k: v for k, v in labels.items() if v},
        started_at=parse_time(metric.get("date_started")),
        ended_at=parse_time(metric.get("date_closed")),
        links=tuple(u for u in (text(data.get("web_url")),) if u),
    )


def parse(payload: JSON, headers: Headers) -> NormalizedAlert | None:
    resource, action = _resource(headers), text(payload.get("action"))
    status = STATUS_BY_EVENT.get((resource, action))
    if status is None:
        return None
    data = _data(payload)
    external_id = split(payload, headers)[0].event_key
    if resource == "issue":
        issue = require_dict(data.get("issue"), "data.issue")
        if not text(issue.get("id")):
            raise PayloadInvalid("The Sentry issue has no id.")
        return _issue_alert(issue, status, external_id)
    if resource == "event_alert":
        return _event_alert(data, external_id)
    return _metric_alert(data, action, status, external_id)
