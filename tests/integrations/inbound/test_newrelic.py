"""New Relic workflows' webhook destination: default payload and Clarion's labels."""

from __future__ import annotations

import pytest

from apps.integrations.choices import Source
from tests.integrations.conftest import fixture_files
from tests.integrations.inbound.common import check, parsed

SOURCE = Source.NEWRELIC
ISSUE = {
    "dedup_key": "4b2f9e0c-7d1a-4c36-9e85-0a3b6f2d1c47",
    "title": "checkout-web query result is > 5.0 for 5 minutes on 'Checkout error rate'",
    "severity": "P1",
    "link": "https://radar-api.service.newrelic.com/accounts/3302117/issues/"
    "4b2f9e0c-7d1a-4c36-9e85-0a3b6f2d1c47?notifier=WEBHOOK",
}
EXPECTED = {
    "issue_activated.json": [
        {
            **ISSUE,
            "status": "firing",
            "labels": {
                "service": "payments",
                "region": "us",
                "entity": "checkout-web",
                "policy": "Checkout golden signals",
                "condition": "Checkout error rate",
            },
            "started": "2026-11-26T",
        }
    ],
    "issue_closed.json": [{**ISSUE, "status": "resolved", "ended": "2026-11-26T"}],
    "issue_acknowledged_default_payload.json": [{"ignored": True}],
    "issue_created_default_payload.json": [
        {
            "status": "firing",
            "dedup_key": "e07c2d1b-9a3f-4e58-b6c4-2d8f0a1e3b95",
            "title": "Synthetic monitor 'Login page' failed in 3 locations",
            "severity": "P2",
            "labels": {"entity": "Login page", "policy": "Synthetics"},
        }
    ],
}


@pytest.mark.parametrize("path", fixture_files(SOURCE), ids=lambda p: p.name)
def test_fixture_parses_into_the_alerts_it_describes(path) -> None:
    check(SOURCE, path.name, EXPECTED[path.name])


def test_each_state_change_is_its_own_event_of_one_alert() -> None:
    [(activated, fired)] = parsed(SOURCE, "issue_activated.json")
    [(closed, resolved)] = parsed(SOURCE, "issue_closed.json")
    assert activated.event_key != closed.event_key
    assert fired is not None and resolved is not None
    assert fired.dedup_key == resolved.dedup_key
