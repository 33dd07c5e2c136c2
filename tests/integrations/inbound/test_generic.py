"""Clarion's generic webhook, signed per the Standard Webhooks spec."""

from __future__ import annotations

import pytest

from apps.integrations.choices import EventStatus, Source
from apps.integrations.models import InboundEvent
from tests.integrations.conftest import fixture_files
from tests.integrations.inbound.common import check, parsed

SOURCE = Source.GENERIC
EXPECTED = {
    "alert_firing.json": [
        {
            "status": "firing",
            "dedup_key": "db-primary-replication-lag",
            "title": "Replication lag above 30 s on the primary database",
            "severity": "P1",
            "labels": {"service": "api", "region": "eu", "team": "data"},
            "started": "2026-11-26T17:58:30",
            "link": "https://status-checks.example.com/checks/db-lag",
        }
    ],
    "alert_resolved.json": [
        {
            "status": "resolved",
            "dedup_key": "db-primary-replication-lag",
            "title": "Replication lag above 30 s on the primary database",
            "severity": "P1",
            "ended": "2026-11-26T18:19:40",
        }
    ],
    "check_heartbeat.json": [{"ignored": True}],
}


@pytest.mark.parametrize("path", fixture_files(SOURCE), ids=lambda p: p.name)
def test_fixture_parses_into_the_alerts_it_describes(path) -> None:
    check(SOURCE, path.name, EXPECTED[path.name])


def test_events_are_keyed_by_the_webhook_id() -> None:
    [(envelope, _)] = parsed(SOURCE, "alert_firing.json")
    assert envelope.event_key == "msg_2nVqT0dXz7kY3bR1aQ8pLm4W"


def test_the_secret_is_a_standard_webhooks_whsec_key(make_integration) -> None:
    _, secret = make_integration(SOURCE)
    assert secret.startswith("whsec_")


def test_a_retry_with_the_same_webhook_id_is_stored_once(hooks, make_integration) -> None:
    integration, secret = make_integration(SOURCE)
    first = hooks.post_fixture(integration, secret, "alert_firing.json")
    again = hooks.post_fixture(integration, secret, "alert_firing.json")  # new timestamp
    assert first.json()["status"] == "accepted"
    assert again.json()["status"] == "duplicate"
    assert InboundEvent.objects.filter(status=EventStatus.RECEIVED).count() == 1
