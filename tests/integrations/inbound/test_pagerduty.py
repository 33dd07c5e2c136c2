"""PagerDuty webhooks v3: incident events, and the signature with a rotating secret."""

from __future__ import annotations

import json

import pytest

from apps.integrations.choices import EventStatus, Source
from apps.integrations.models import InboundEvent
from tests.integrations import signing
from tests.integrations.conftest import fixture_files, load_fixture
from tests.integrations.inbound.common import check, parsed

SOURCE = Source.PAGERDUTY
INCIDENT = {
    "dedup_key": "Q2MXN4YJ0K7T9A",
    "title": "Checkout API error budget burning fast",
    "link": "https://acme.pagerduty.com/incidents/Q2MXN4YJ0K7T9A",
}
EXPECTED = {
    "incident_triggered.json": [
        {
            **INCIDENT,
            "status": "firing",
            "severity": "P1",
            "labels": {"service": "Checkout API", "team": "Payments", "urgency": "high"},
            "started": "2026-11-26T18:02:41.212",
        }
    ],
    "incident_resolved.json": [
        {
            **INCIDENT,
            "status": "resolved",
            "severity": "P2",  # no priority any more: high urgency
            "ended": "2026-11-26T18:47:09.53",
        }
    ],
    "incident_acknowledged.json": [{"ignored": True}],
    "pagey_ping.json": [{"ignored": True}],
}


@pytest.mark.parametrize("path", fixture_files(SOURCE), ids=lambda p: p.name)
def test_fixture_parses_into_the_alerts_it_describes(path) -> None:
    check(SOURCE, path.name, EXPECTED[path.name])


def test_the_event_id_is_the_event_key() -> None:
    [(envelope, _)] = parsed(SOURCE, "incident_triggered.json")
    assert envelope.event_key == "01DVZ7Y0WQ4S2J7N3M8E5K1XQA"


def test_during_a_secret_rotation_any_listed_signature_may_match(hooks, make_integration) -> None:
    integration, secret = make_integration(SOURCE)
    raw = json.dumps(load_fixture(SOURCE, "incident_triggered.json")["body"]).encode()
    old = signing.pagerduty("the-previous-secret", raw)["X-PagerDuty-Signature"]
    headers = signing.pagerduty(secret, raw, extra=(old,))
    assert "," in headers["X-PagerDuty-Signature"]
    response = hooks.post(integration, secret, raw, headers, signed=False)
    assert response.status_code == 202


def test_a_ping_when_the_subscription_is_tested_is_accepted_and_ignored(
    hooks, make_integration
) -> None:
    integration, secret = make_integration(SOURCE)
    response = hooks.post_fixture(integration, secret, "pagey_ping.json")
    assert response.status_code == 202
    assert response.json() == {"status": "ignored", "events": 0}
    assert InboundEvent.objects.get().status == EventStatus.IGNORED


def test_without_the_vendor_secret_every_delivery_is_refused(hooks, make_integration) -> None:
    integration, _ = make_integration(SOURCE, secret=None)
    assert integration.secret == ""
    response = hooks.post_fixture(integration, "anything", "incident_triggered.json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "secret_missing"
    assert "PagerDuty" in response.json()["error"]["message"]
    assert not InboundEvent.objects.exists()
