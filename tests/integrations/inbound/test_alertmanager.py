"""Prometheus Alertmanager: the project's real payloads and a mixed group; bearer auth."""

from __future__ import annotations

import base64

import pytest

from apps.integrations.choices import Source
from apps.integrations.models import InboundEvent
from tests.integrations.conftest import am_alert, am_payload, fixture_files
from tests.integrations.inbound.common import check, parsed

SOURCE = Source.ALERTMANAGER
EXPECTED = {
    "firing.json": [
        {
            "status": "firing",
            "dedup_key": "d57b551ea5cc5dcd",
            "title": "HighErrorRate: 5xx above 20% on api in eu",
            "severity": "P1",
            "labels": {"service": "api", "region": "eu", "alertname": "HighErrorRate"},
            "started": "2026-11-26T18:03:01",
            "link": "http://prometheus.local/graph",
        }
    ],
    "resolved.json": [
        {
            "status": "resolved",
            "dedup_key": "d57b551ea5cc5dcd",
            "title": "HighErrorRate: 5xx above 20% on api in eu",
            "severity": "P1",
            "labels": {"service": "api"},
            "started": "2026-11-26T18:03:01",
            "ended": "2026-11-26T18:03:07",
        }
    ],
    "group_mixed.json": [
        {
            "status": "firing",
            "dedup_key": "0f2a9c7d31b6e5a4",
            "title": "PaymentsLatencyHigh: Payments p95 latency above 1 s",
            "severity": "P3",
            "labels": {"service": "payments", "region": "us", "instance": "payments-7f9c:9102"},
            "started": "2026-11-26T17:41:12.508",
            "link": "https://runbooks.example.com/payments/latency",
        },
        {
            "status": "resolved",
            "dedup_key": "8d1e44b0c9a2f713",
            "title": "PaymentsLatencyHigh: Payments p95 latency above 1 s",
            "severity": "P3",
            "ended": "2026-11-26T17:52:02.114",
        },
    ],
}


@pytest.mark.parametrize("path", fixture_files(SOURCE), ids=lambda p: p.name)
def test_fixture_parses_into_the_alerts_it_describes(path) -> None:
    check(SOURCE, path.name, EXPECTED[path.name])


def test_firing_and_resolution_of_one_alert_are_different_events_of_one_alert() -> None:
    [(fired, firing)] = parsed(SOURCE, "firing.json")
    [(resolved, resolution)] = parsed(SOURCE, "resolved.json")
    assert fired.event_key != resolved.event_key
    assert firing is not None and resolution is not None
    assert firing.dedup_key == resolution.dedup_key


def test_basic_auth_with_the_secret_as_password_is_accepted(hooks, alertmanager) -> None:
    integration, secret = alertmanager
    credentials = base64.b64encode(f"alertmanager:{secret}".encode()).decode()
    response = hooks.post(
        integration,
        secret,
        am_payload(am_alert("a1")),
        {"Authorization": f"Basic {credentials}"},
        signed=False,
    )
    assert response.status_code == 202
    assert InboundEvent.objects.count() == 1


def test_a_bearer_token_of_another_scheme_is_refused(hooks, alertmanager) -> None:
    integration, secret = alertmanager
    response = hooks.post(
        integration, secret, am_payload(am_alert("a1")), {"Authorization": secret}, signed=False
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_invalid"
    assert not InboundEvent.objects.exists()
