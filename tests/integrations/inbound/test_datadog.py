"""Datadog's Webhooks integration with Clarion's payload template (and Datadog's default)."""

from __future__ import annotations

import pytest

from apps.integrations.choices import Source
from apps.integrations.inbound.datadog.parse import tag_labels
from tests.integrations.conftest import fixture_files
from tests.integrations.inbound.common import check, parsed

SOURCE = Source.DATADOG
MONITOR = {
    "dedup_key": "148221907|region:eu,service:api",
    "title": "API p99 latency above 2 s",
    "severity": "P2",
    "labels": {"service": "api", "region": "eu", "team": "platform", "env": "prod"},
}
EXPECTED = {
    "monitor_triggered.json": [
        {
            **MONITOR,
            "status": "firing",
            "started": "2026-11-26T18:02:00",
            "link": "https://app.datadoghq.eu/event/event?id=7581830154472340112",
        }
    ],
    "monitor_recovered.json": [{**MONITOR, "status": "resolved", "ended": "2026-11-26T18:33:00"}],
    "default_payload_warn.json": [
        {
            "status": "firing",
            "dedup_key": "title|Database disk almost full",
            "title": "Database disk almost full",
            "severity": None,
        }
    ],
    "monitor_edited.json": [{"ignored": True}],
}


@pytest.mark.parametrize("path", fixture_files(SOURCE), ids=lambda p: p.name)
def test_fixture_parses_into_the_alerts_it_describes(path) -> None:
    check(SOURCE, path.name, EXPECTED[path.name])


def test_events_are_keyed_by_notification_id_and_transition() -> None:
    [(envelope, _)] = parsed(SOURCE, "monitor_triggered.json")
    assert envelope.event_key == "7581830154472340112|Triggered"


def test_tags_become_labels() -> None:
    assert tag_labels("env:prod, monitor,service:api, url:https://x") == {
        "env": "prod",
        "monitor": "",
        "service": "api",
        "url": "https://x",
    }


def test_a_form_encoded_payload_is_refused_with_a_message(hooks, make_integration) -> None:
    integration, secret = make_integration(SOURCE)
    response = hooks.post(
        integration, secret, b"id=1&title=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "application/json" in response.json()["error"]["message"]
