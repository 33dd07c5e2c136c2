"""Grafana unified alerting's webhook contact point (and its legacy format, ignored)."""

from __future__ import annotations

import pytest

from apps.integrations.choices import EventStatus, Source
from apps.integrations.models import InboundEvent
from tests.integrations.conftest import fixture_files
from tests.integrations.inbound.common import check

SOURCE = Source.GRAFANA
EXPECTED = {
    "firing.json": [
        {
            "status": "firing",
            "dedup_key": "5c1d0e8f9a7b3c21",
            "title": "Dashboard 5xx ratio: Dashboard errors above 5%",
            "severity": "P1",
            "labels": {"service": "dashboard", "region": "eu", "grafana_folder": "Production"},
            "started": "2026-11-26T09:14:00.118604",
            "link": "https://grafana.example.com/d/web-overview?orgId=1&viewPanel=4",
        },
        {
            "status": "firing",
            "dedup_key": "a93f0b6d2e184c57",
            "title": "Dashboard 5xx ratio: Dashboard errors above 5%",
            "severity": "P1",
            "labels": {"service": "dashboard", "region": "us"},
        },
    ],
    "resolved.json": [
        {
            "status": "resolved",
            "dedup_key": "5c1d0e8f9a7b3c21",
            "title": "Dashboard 5xx ratio: Dashboard errors above 5%",
            "severity": "P1",
            "ended": "2026-11-26T09:31:00.118604",
        }
    ],
    "legacy_alerting.json": [{"ignored": True}],
}


@pytest.mark.parametrize("path", fixture_files(SOURCE), ids=lambda p: p.name)
def test_fixture_parses_into_the_alerts_it_describes(path) -> None:
    check(SOURCE, path.name, EXPECTED[path.name])


def test_a_legacy_dashboard_alert_is_accepted_and_recorded_as_ignored(
    hooks, make_integration
) -> None:
    integration, secret = make_integration(SOURCE)
    response = hooks.post_fixture(integration, secret, "legacy_alerting.json")
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    event = InboundEvent.objects.get()
    assert event.status == EventStatus.IGNORED
    assert "Grafana Alerting" in event.reason
