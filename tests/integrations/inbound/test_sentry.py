"""Sentry's integration platform webhooks: issues, issue alerts, metric alerts."""

from __future__ import annotations

import pytest

from apps.integrations.choices import EventStatus, Source
from apps.integrations.models import InboundEvent
from tests.integrations.conftest import fixture_files
from tests.integrations.inbound.common import check, parsed

SOURCE = Source.SENTRY
ISSUE = {
    "dedup_key": "issue:4108772035",
    "title": "CardProcessorTimeout: processor did not answer within 10 s",
    "severity": "P2",
    "link": "https://acme.sentry.io/issues/4108772035/",
}
METRIC = {
    "dedup_key": "metric_alert:311",
    "link": "https://acme.sentry.io/alerts/rules/details/311/",
}
EXPECTED = {
    "issue_created.json": [
        {
            **ISSUE,
            "status": "firing",
            "labels": {"project": "payments-api", "level": "error"},
            "started": "2026-11-26T18:02:58.913",
        }
    ],
    "issue_resolved.json": [{**ISSUE, "status": "resolved"}],
    "event_alert_triggered.json": [
        {
            "status": "firing",
            "dedup_key": "issue:4108772035",
            "title": "CardProcessorTimeout: processor did not answer within 10 s",
            "severity": "P2",
            "labels": {"service": "payments", "region": "eu", "environment": "production"},
            "link": "https://acme.sentry.io/issues/4108772035/events/"
            "e1c0a9b8f7d64e5c8b3a2f1e0d9c8b7a/",
        }
    ],
    "metric_alert_critical.json": [
        {
            **METRIC,
            "status": "firing",
            "title": "Critical: Checkout error spike",
            "severity": "P1",
            "labels": {"project": "checkout-web", "rule": "Checkout error spike"},
            "started": "2026-11-26T18:06:40",
        }
    ],
    "metric_alert_resolved.json": [
        {
            **METRIC,
            "status": "resolved",
            "title": "Resolved: Checkout error spike",
            "ended": "2026-11-26T18:36:40",
        }
    ],
    "installation_created.json": [{"ignored": True}],
}


@pytest.mark.parametrize("path", fixture_files(SOURCE), ids=lambda p: p.name)
def test_fixture_parses_into_the_alerts_it_describes(path) -> None:
    check(SOURCE, path.name, EXPECTED[path.name])


def test_events_are_keyed_by_the_request_id() -> None:
    [(envelope, _)] = parsed(SOURCE, "issue_created.json")
    assert envelope.event_key == "request|5f0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"


def test_an_issue_alert_and_the_issue_resolving_are_one_alert() -> None:
    [(_, fired)] = parsed(SOURCE, "event_alert_triggered.json")
    [(_, resolved)] = parsed(SOURCE, "issue_resolved.json")
    assert fired is not None and resolved is not None
    assert fired.dedup_key == resolved.dedup_key


def test_installation_webhooks_are_accepted_and_ignored(hooks, make_integration) -> None:
    integration, secret = make_integration(SOURCE)
    response = hooks.post_fixture(integration, secret, "installation_created.json")
    assert response.status_code == 202
    assert InboundEvent.objects.get().status == EventStatus.IGNORED


def test_a_webhook_without_its_resource_header_is_refused_with_a_message(
    hooks, make_integration
) -> None:
    integration, secret = make_integration(SOURCE)
    response = hooks.post(integration, secret, {"action": "created", "data": {}}, {})
    assert response.status_code == 400
    assert "Sentry-Hook-Resource" in response.json()["error"]["message"]
    assert not InboundEvent.objects.exists()
