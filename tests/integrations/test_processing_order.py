"""Alerts whose events do not arrive as a tidy firing-then-resolved pair: a recovery that
no longer matches a routing rule, a recovery processed before its firing, and an alert of
a re-created integration whose earlier incident is still open."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.incidents.choices import IncidentStatus
from apps.incidents.models import Incident
from apps.integrations.choices import AlertStatus, EventStatus, Source
from apps.integrations.models import AlertGroup, AlertState, InboundEvent, Integration, RoutingRule
from apps.integrations.services import inbound_event_process, triage_close_quiet
from tests.integrations.conftest import (
    add_rule,
    am_alert,
    am_payload,
    load_fixture,
    process_pending,
)

Store = Callable[..., InboundEvent]


@pytest.fixture
def rules(catalog) -> None:
    add_rule("API", {"service": "api"}, ["api"], position=10)
    add_rule("Payments", {"service": "payments"}, ["payments"], position=20)


@pytest.fixture
def store(hooks, django_capture_on_commit_callbacks) -> Store:
    """Deliver a webhook through the hook (stored, not processed); return its event."""

    def post(integration: Integration, secret: str, body: Any, headers: Any = None) -> Any:
        with django_capture_on_commit_callbacks(execute=False):
            response = hooks.post(integration, secret, body, headers)
        assert response.status_code == 202, response.content
        return InboundEvent.objects.filter(integration=integration).latest("pk")

    return post


def sentry_fixture(name: str) -> tuple[dict[str, Any], dict[str, str]]:
    data = load_fixture(Source.SENTRY, name)
    return data["body"], data["headers"]


def notes(incident: Incident) -> list[str]:
    return list(incident.updates.exclude(internal_note="").values_list("internal_note", flat=True))


def closes_quietly(incident: Incident) -> bool:
    triage_close_quiet(now=timezone.now() + timedelta(minutes=31))
    incident.refresh_from_db()
    return incident.status == IncidentStatus.RESOLVED


# --- a recovery needs no routing rule ----------------------------------------------------


def test_a_sentry_issue_resolved_recovers_the_alert_its_rule_fired(
    catalog, make_integration, store
) -> None:
    sentry, secret = make_integration(Source.SENTRY)
    add_rule("Payments", {"service": "payments"}, ["payments"])
    store(sentry, secret, *sentry_fixture("event_alert_triggered.json"))
    process_pending()
    incident = Incident.objects.get()
    # "issue resolved" carries only project, level and platform: no rule matches them.
    store(sentry, secret, *sentry_fixture("issue_resolved.json"))
    [event] = process_pending()
    assert event.status == EventStatus.PROCESSED
    assert event.incident == incident
    assert f"every alert of incident #{incident.pk} has recovered" in event.reason
    assert AlertState.objects.get().status == AlertStatus.RESOLVED
    assert any("resolution proposed" in note for note in notes(incident))
    assert closes_quietly(incident)


def test_an_alert_recovers_after_its_routing_rule_was_disabled(rules, fire) -> None:
    fire(am_alert("f1", service="api"))
    incident = Incident.objects.get()
    rule = RoutingRule.objects.get(name="API")
    rule.enabled = False
    rule.save()
    [event] = fire(am_alert("f1", service="api", status="resolved"))
    assert event.status == EventStatus.PROCESSED
    assert event.incident == incident
    assert AlertGroup.objects.get(incident=incident).resolution_proposed_at is not None
    assert closes_quietly(incident)


def test_a_recovery_of_an_alert_never_seen_is_recorded_not_sent_to_the_inbox(rules, fire) -> None:
    [event] = fire(am_alert("f1", service="billing", status="resolved"))
    assert event.status == EventStatus.PROCESSED
    assert "never seen firing" in event.reason


# --- a recovery processed before its firing ----------------------------------------------


def test_a_firing_processed_after_its_recovery_opens_nothing(rules, alertmanager, store) -> None:
    integration, secret = alertmanager
    firing = store(integration, secret, am_payload(am_alert("f1", service="api")))
    resolved = store(
        integration, secret, am_payload(am_alert("f1", service="api", status="resolved"))
    )
    # The firing's batch lost a deadlock and is retried alone, after the recovery.
    inbound_event_process(event_id=resolved.pk)
    late = inbound_event_process(event_id=firing.pk)
    assert late is not None
    assert late.status == EventStatus.PROCESSED
    assert "already recovered" in late.reason
    assert not Incident.objects.exists()
    assert AlertState.objects.get().status == AlertStatus.RESOLVED


def test_a_sentry_alert_resolved_before_its_trigger_is_processed_opens_nothing(
    catalog, make_integration, store
) -> None:
    sentry, secret = make_integration(Source.SENTRY)
    add_rule("Payments", {"service": "payments"}, ["payments"])
    triggered = store(sentry, secret, *sentry_fixture("event_alert_triggered.json"))
    resolved = store(sentry, secret, *sentry_fixture("issue_resolved.json"))
    inbound_event_process(event_id=resolved.pk)
    late = inbound_event_process(event_id=triggered.pk)
    assert late is not None and "already recovered" in late.reason
    assert not Incident.objects.exists()


def test_a_firing_that_started_after_the_recorded_recovery_still_opens(
    rules, alertmanager, store
) -> None:
    integration, secret = alertmanager
    again = store(
        integration,
        secret,
        am_payload(am_alert("f1", service="api", starts_at="2026-11-26T18:45:00Z")),
    )
    resolved = store(  # ended at 18:30, delivered late
        integration, secret, am_payload(am_alert("f1", service="api", status="resolved"))
    )
    inbound_event_process(event_id=resolved.pk)
    event = inbound_event_process(event_id=again.pk)
    assert event is not None and event.status == EventStatus.PROCESSED
    assert Incident.objects.get() == event.incident
    assert AlertState.objects.get().status == AlertStatus.FIRING


def test_the_alert_fires_again_after_a_late_firing_was_ignored(rules, alertmanager, store) -> None:
    integration, secret = alertmanager
    firing = store(integration, secret, am_payload(am_alert("f1", service="api")))
    resolved = store(
        integration, secret, am_payload(am_alert("f1", service="api", status="resolved"))
    )
    inbound_event_process(event_id=resolved.pk)
    inbound_event_process(event_id=firing.pk)
    again = store(
        integration,
        secret,
        am_payload(am_alert("f1", service="api", starts_at="2026-11-26T19:00:00Z")),
    )
    event = inbound_event_process(event_id=again.pk)
    assert event is not None
    assert Incident.objects.get() == event.incident


# --- an integration deleted and created again --------------------------------------------


def test_an_alert_of_a_re_created_integration_joins_the_incident_still_open(
    rules, make_integration, store
) -> None:
    old, secret = make_integration(Source.ALERTMANAGER)
    store(old, secret, am_payload(am_alert("f1", service="api")))
    process_pending()
    incident = Incident.objects.get()
    old.delete()  # its alert states go with it; its incident stays open
    new, secret = make_integration(Source.ALERTMANAGER)
    later = timezone.now() + timedelta(minutes=11)  # past the grouping window
    store(new, secret, am_payload(am_alert("f1", service="api")))
    [event] = process_pending(now=later)
    assert event.status == EventStatus.PROCESSED
    assert event.incident == incident
    assert Incident.objects.count() == 1
    store(new, secret, am_payload(am_alert("f1", service="api", status="resolved")))
    [recovered] = process_pending(now=later)
    assert f"every alert of incident #{incident.pk} has recovered" in recovered.reason
