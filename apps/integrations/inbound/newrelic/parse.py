"""New Relic alerts workflows, through a Webhook destination.

The workflow's default webhook payload works as is: `id` (the issue), `state`, `priority`,
`title`, `issueUrl`, `impactedEntities`, `alertPolicyNames`, `alertConditionNames`,
`createdAt`, `updatedAt`. The template in this folder's README adds a `labels` object
(from the issue's `accumulations.tag.*`) so routing rules can match on your tags. An event is
keyed `id|state|updatedAt`; the issue is the alert. `ACTIVATED` and `CREATED` fire,
`CLOSED` resolves, `ACKNOWLEDGED` and anything else are ignored.
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
    parse_time,
    severity_from,
    string_labels,
    text,
)

STATUS_BY_STATE = {
    "ACTIVATED": AlertStatus.FIRING,
    "CREATED": AlertStatus.FIRING,
    "CLOSED": AlertStatus.RESOLVED,
}


def _key(body: JSON) -> str:
    return event_key(text(body.get("id")), text(body.get("state")), text(body.get("updatedAt")))


def split(body: JSON, headers: Headers) -> list[Envelope]:
    if not text(body.get("id")) or not text(body.get("state")):
        raise PayloadInvalid(
            "A New Relic workflow webhook has the issue's 'id' and 'state'; this body lacks "
            "them. Keep those fields in the destination's payload template."
        )
    state = text(body.get("state")).upper()
    ignored = state not in STATUS_BY_STATE
    return [
        Envelope(
            _key(body),
            f"issue.{state.lower()}",
            body,
            ignored=ignored,
            reason=f"New Relic issue state {state!r} does not open or resolve alerts."
            if ignored
            else "",
        )
    ]


def _first(value: Any) -> str:
    if isinstance(value, list):
        return text(value[0]) if value else ""
    return text(value)


def parse(payload: JSON, headers: Headers) -> NormalizedAlert | None:
    status = STATUS_BY_STATE.get(text(payload.get("state")).upper())
    if status is None:
        return None
    labels: dict[str, str] = {}
    for name in ("tags", "labels"):
        if isinstance(payload.get(name), dict):
            labels.update(string_labels(payload[name]))
    extra = {
        "entity": _first(payload.get("impactedEntities")),
        "policy": _first(payload.get("alertPolicyNames")),
        "condition": _first(payload.get("alertConditionNames")),
        "priority": text(payload.get("priority")),
        "workflow": text(payload.get("workflowName")),
    }
    for name, value in extra.items():
        if value:
            labels.setdefault(name, value)
    issue_id = text(payload.get("id"))
    closed = parse_time(payload.get("closedAt")) or parse_time(payload.get("updatedAt"))
    return NormalizedAlert(
        source=Source.NEWRELIC,
        external_id=_key(payload),
        dedup_key=issue_id,
        status=status,
        title=(text(payload.get("title")) or f"New Relic issue {issue_id}")[:200],
        description=", ".join(
            text(e) for e in payload.get("impactedEntities") or [] if isinstance(e, str)
        ),
        severity_hint=severity_from(payload.get("priority")),
        labels=labels,
        started_at=parse_time(payload.get("createdAt")),
        ended_at=closed if status == AlertStatus.RESOLVED else None,
        links=tuple(u for u in (text(payload.get("issueUrl")),) if u),
    )
