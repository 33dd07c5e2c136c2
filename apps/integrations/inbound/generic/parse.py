"""Clarion's own alert webhook, for any tool that can send JSON: signed per the Standard
Webhooks spec and shaped like its payloads (`type`, `timestamp`, `data`):

    {"type": "alert.firing",            # or "alert.resolved"; other types are ignored
     "timestamp": "2026-11-26T18:03:01Z",
     "data": {"dedup_key": "db-primary-lag",   # the alert's identity (required)
              "title": "Replication lag above 30 s",
              "description": "...", "severity": "critical",   # or P1-P4, warning, info
              "labels": {"service": "api", "region": "eu"},
              "started_at": "...", "ended_at": "...", "links": ["https://..."]}}

An event is keyed by its `webhook-id` header, which the sender keeps across retries.
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
    header,
    items,
    obj,
    parse_time,
    require_dict,
    severity_from,
    string_labels,
    text,
)

STATUS_BY_TYPE = {"alert.firing": AlertStatus.FIRING, "alert.resolved": AlertStatus.RESOLVED}


def split(body: JSON, headers: Headers) -> list[Envelope]:
    webhook_id = header(headers, "webhook-id")
    event_type = text(body.get("type"))
    if not event_type:
        raise PayloadInvalid(
            "The payload has no 'type': send alert.firing or alert.resolved with a 'data' object."
        )
    ignored = event_type not in STATUS_BY_TYPE
    return [
        Envelope(
            event_key(webhook_id),
            event_type,
            body,
            ignored=ignored,
            reason=f"Event type {event_type!r} is not alert.firing or alert.resolved."
            if ignored
            else "",
        )
    ]


def parse(payload: JSON, headers: Headers) -> NormalizedAlert | None:
    status = STATUS_BY_TYPE.get(text(payload.get("type")))
    if status is None:
        return None
    data = require_dict(payload.get("data"), "'data'")
    dedup = text(data.get("dedup_key"))
    if not dedup:
        raise PayloadInvalid("data.dedup_key is required: the alert's identity across events.")
    links = items(data.get("links"))
    labels = obj(data.get("labels"))
    return NormalizedAlert(
        source=Source.GENERIC,
        external_id=header(headers, "webhook-id"),
        dedup_key=dedup[:255],
        status=status,
        title=(text(data.get("title")) or dedup)[:200],
        description=text(data.get("description")),
        severity_hint=severity_from(data.get("severity")),
        labels=string_labels(labels),
        started_at=parse_time(data.get("started_at")) or parse_time(payload.get("timestamp")),
        ended_at=parse_time(data.get("ended_at")),
        links=tuple(text(u) for u in links if isinstance(u, str) and u),
    )
