"""Grafana's webhook contact point (unified alerting, Grafana 8 and later).

The body is Alertmanager's webhook shape (`alerts[]` with `status`, `labels`, `annotations`,
`fingerprint`, `startsAt`; `groupKey`) plus Grafana's `dashboardURL`, `panelURL`, `values`,
`title`, `state` and `message`, so it is read by the Alertmanager parser. The legacy
dashboard-alerting body (`ruleId`, `evalMatches`, no `alerts`) is accepted and ignored.
"""

from __future__ import annotations

from apps.integrations.choices import Source
from apps.integrations.inbound.alertmanager.parse import parse_alert, split_alerts
from apps.integrations.inbound.base import (
    JSON,
    Envelope,
    Headers,
    NormalizedAlert,
    event_key,
    text,
)


def split(body: JSON, headers: Headers) -> list[Envelope]:
    if "alerts" not in body and "ruleId" in body:
        return [
            Envelope(
                event_key("legacy", text(body.get("ruleId")), text(body.get("state"))),
                "legacy." + (text(body.get("state")) or "unknown"),
                body,
                ignored=True,
                reason="Legacy Grafana dashboard alert: switch to Grafana Alerting (8+).",
            )
        ]
    return split_alerts(body, tool="Grafana")


def parse(payload: JSON, headers: Headers) -> NormalizedAlert | None:
    return parse_alert(payload, source=Source.GRAFANA)
