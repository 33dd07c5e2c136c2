"""`/hooks/<source>/<token>/` as a monitoring tool sees it: 202 fast, 401 for strangers,
400 with a reason for bad bodies, and a redelivery that stores and queues nothing."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client

from apps.integrations.choices import EventStatus, Source
from apps.integrations.inbound.base import inbound_sources
from apps.integrations.models import InboundEvent, Integration
from apps.integrations.services import inbound_events_store, integration_update
from tests.conftest import OTHER_HOST, TEST_HOST
from tests.integrations.conftest import Hooks, am_alert, am_payload, load_fixture


def test_a_new_alert_is_accepted_stored_and_queued_once(
    hooks, alertmanager, django_capture_on_commit_callbacks
) -> None:
    integration, secret = alertmanager
    data = load_fixture(Source.ALERTMANAGER, "firing.json")
    with django_capture_on_commit_callbacks() as queued:
        response = hooks.post(integration, secret, data["body"], data["headers"])
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "events": 1}
    assert len(queued) == 1
    event = InboundEvent.objects.get()
    assert event.status == EventStatus.RECEIVED
    assert event.payload["alerts"][0]["fingerprint"] == "d57b551ea5cc5dcd"
    assert event.headers == {"User-Agent": "Alertmanager/0.25.0"}  # never the credentials


def test_a_redelivery_stores_nothing_and_queues_nothing(
    hooks, alertmanager, django_capture_on_commit_callbacks
) -> None:
    integration, secret = alertmanager
    data = load_fixture(Source.ALERTMANAGER, "firing.json")
    with django_capture_on_commit_callbacks() as queued:
        first = hooks.post(integration, secret, data["body"], data["headers"])
        again = hooks.post(integration, secret, data["body"], data["headers"])
    assert first.json()["status"] == "accepted"
    assert again.status_code == 202
    assert again.json() == {"status": "duplicate", "events": 0}
    assert InboundEvent.objects.count() == 1
    assert len(queued) == 1


def test_each_alert_of_a_group_is_its_own_event_and_only_new_ones_are_queued(
    hooks, alertmanager, django_capture_on_commit_callbacks
) -> None:
    integration, secret = alertmanager
    with django_capture_on_commit_callbacks() as queued:
        hooks.post(integration, secret, am_payload(am_alert("f1"), am_alert("f2")))
        response = hooks.post(
            integration, secret, am_payload(am_alert("f1"), am_alert("f2"), am_alert("f3"))
        )
    assert response.json() == {"status": "accepted", "events": 1}
    assert InboundEvent.objects.count() == 3
    assert len(queued) == 2  # one on_commit per delivery with new events
    assert sorted(e.payload["alerts"][0]["fingerprint"] for e in InboundEvent.objects.all()) == [
        "f1",
        "f2",
        "f3",
    ]


def test_the_database_refuses_a_second_event_with_the_same_key(alertmanager) -> None:
    """Concurrent redeliveries race to insert: the unique constraint lets one win."""
    integration, _ = alertmanager
    envelopes = inbound_sources[Source.ALERTMANAGER].split(am_payload(am_alert("f1")), {})
    first = inbound_events_store(integration=integration, envelopes=envelopes, headers={})
    second = inbound_events_store(integration=integration, envelopes=envelopes, headers={})
    assert len(first.queued) == 1 and first.duplicates == 0
    assert second.queued == () and second.duplicates == 1
    existing = InboundEvent.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        InboundEvent.objects.create(
            integration=integration,
            event_key=existing.event_key,
            received_at=existing.received_at,
        )


def test_the_prepared_insert_stores_in_the_schema_of_each_tenant(
    other_tenant, make_integration
) -> None:
    """The hooks' insert is prepared once per connection; the same statement, run for
    another tenant on the same connection, must land in that tenant's table."""
    test_tenant = connection.tenant
    integration, _ = make_integration(Source.ALERTMANAGER)
    payload = inbound_sources[Source.ALERTMANAGER].split(am_payload(am_alert("mine")), {})
    inbound_events_store(integration=integration, envelopes=payload, headers={})
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement ~ 'INSERT'")
        assert cursor.fetchone()[0] >= 1  # prepared, not bound on the client
    connection.set_tenant(other_tenant)
    theirs, _ = make_integration(Source.ALERTMANAGER)
    payload = inbound_sources[Source.ALERTMANAGER].split(am_payload(am_alert("theirs")), {})
    inbound_events_store(integration=theirs, envelopes=payload, headers={})
    assert [e.payload["alerts"][0]["fingerprint"] for e in InboundEvent.objects.all()] == ["theirs"]
    connection.set_tenant(test_tenant)
    assert Integration.objects.get() == integration
    assert [e.payload["alerts"][0]["fingerprint"] for e in InboundEvent.objects.all()] == ["mine"]


def test_without_prepared_statements_the_insert_works_alike(alertmanager) -> None:
    """DATABASE_PREPARED_STATEMENTS=false (behind an old PgBouncer)."""
    integration, _ = alertmanager
    raw = connection.connection
    saved, raw.prepare_threshold = raw.prepare_threshold, None
    try:
        envelopes = inbound_sources[Source.ALERTMANAGER].split(am_payload(am_alert("f1")), {})
        first = inbound_events_store(integration=integration, envelopes=envelopes, headers={})
        again = inbound_events_store(integration=integration, envelopes=envelopes, headers={})
    finally:
        raw.prepare_threshold = saved
    assert len(first.queued) == 1 and again.duplicates == 1
    assert InboundEvent.objects.get().status == EventStatus.RECEIVED


def test_an_unknown_token_gets_401_and_nothing_is_stored(hooks, alertmanager) -> None:
    integration, secret = alertmanager
    response = hooks.post(
        integration, secret, am_payload(am_alert("f1")), path="/hooks/alertmanager/nope/"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unknown_token"
    assert not InboundEvent.objects.exists()


def test_a_token_used_with_another_source_gets_401(hooks, alertmanager) -> None:
    integration, secret = alertmanager
    response = hooks.post(
        integration,
        secret,
        am_payload(am_alert("f1")),
        path=f"/hooks/grafana/{integration.token}/",
    )
    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_an_unknown_source_gets_404_naming_the_known_ones(hooks, alertmanager) -> None:
    integration, secret = alertmanager
    response = hooks.post(integration, secret, {}, path=f"/hooks/nagios/{integration.token}/")
    assert response.status_code == 404
    assert "alertmanager" in response.json()["error"]["message"]


def test_a_disabled_integration_refuses_deliveries(hooks, alertmanager) -> None:
    integration, secret = alertmanager
    integration_update(integration=integration, enabled=False, actor="pytest")
    response = hooks.post(integration, secret, am_payload(am_alert("f1")))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "integration_disabled"
    assert not InboundEvent.objects.exists()


def test_the_hook_is_only_on_its_own_tenants_host(hooks, alertmanager) -> None:
    integration, secret = alertmanager
    hooks.client = Client(HTTP_HOST=OTHER_HOST)
    response = hooks.post(integration, secret, am_payload(am_alert("f1")))
    assert response.status_code == 401  # the other tenant has no such token
    hooks.client = Client(HTTP_HOST="localhost")  # the platform itself
    assert hooks.post(integration, secret, am_payload(am_alert("f1"))).status_code == 404


def test_malformed_json_gets_400_with_the_reason(hooks, alertmanager) -> None:
    integration, secret = alertmanager
    response = hooks.post(integration, secret, b'{"alerts": [')
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert "not valid JSON" in response.json()["error"]["message"]
    assert not InboundEvent.objects.exists()


def test_a_wrong_content_type_gets_400(hooks, alertmanager) -> None:
    integration, secret = alertmanager
    response = hooks.post(
        integration, secret, am_payload(am_alert("f1")), content_type="text/plain"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_content_type"
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"receiver": "clarion"}', b'{"alerts": [1]}'])
def test_json_that_is_not_the_tools_payload_gets_400(hooks, alertmanager, body) -> None:
    integration, secret = alertmanager
    response = hooks.post(integration, secret, body)
    assert response.status_code == 400
    assert response.json()["error"]["message"]
    assert not InboundEvent.objects.exists()


def test_only_post_is_accepted(hooks, alertmanager) -> None:
    integration, _ = alertmanager
    response = hooks.client.get(integration.hook_path)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_hooks_need_no_csrf_token(alertmanager) -> None:
    integration, secret = alertmanager
    hooks = Hooks(Client(HTTP_HOST=TEST_HOST, enforce_csrf_checks=True))
    assert hooks.post(integration, secret, am_payload(am_alert("f1"))).status_code == 202
