"""What alerts do to incidents: a triage incident per storm, attached alerts, maintenance
suppression, recovery and proposed resolution, quiet closing, flapping, the inbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.models import AuditEvent
from apps.core.periodic import tenant_jobs
from apps.incidents.choices import IncidentStatus
from apps.incidents.models import Incident
from apps.incidents.services import (
    incident_confirm_impact,
    incident_open,
    incident_resolve,
    maintenance_schedule,
    maintenance_start,
)
from apps.integrations.choices import AlertStatus, EventStatus, Source
from apps.integrations.models import AlertGroup, AlertState, InboundEvent
from apps.integrations.selectors import inbox
from apps.integrations.services import (
    inbound_event_process,
    inbound_events_requeue,
    integration_update,
    triage_close_quiet,
)
from apps.integrations.tasks import process_event
from config.celery import app
from tests.integrations.conftest import add_rule, am_alert, am_payload, process_pending

QUIET_JOB = "apps.integrations.periodic.triage_close_quiet"


@pytest.fixture
def rules(catalog) -> None:
    add_rule("API", {"service": "api"}, ["api"], position=10)
    add_rule("Payments", {"service": "payments"}, ["payments"], position=20)
    add_rule(
        "Dashboard",
        {"service": "~dash.*"},
        ["dashboard"],
        position=30,
        component_status="degraded_performance",
        severity="P4",
    )


def public_updates(incident: Incident) -> int:
    return incident.updates.exclude(body="").count()


def notes(incident: Incident) -> list[str]:
    return list(incident.updates.exclude(internal_note="").values_list("internal_note", flat=True))


# --- opening and grouping -----------------------------------------------------------------


def test_a_firing_alert_opens_an_internal_triage_incident(rules, fire, catalog) -> None:
    [event] = fire(am_alert("f1", service="api", region="eu", summary="5xx above 20% on api"))
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.TRIAGE
    assert not incident.customer_impact_confirmed
    assert incident.severity == "P1"  # severity=critical on the alert
    assert incident.title == "HighErrorRate: 5xx above 20% on api"
    assert incident.source == Source.ALERTMANAGER
    assert incident.external_id == "f1"
    assert {(a.service.slug, a.component_status) for a in incident.affected.all()} == {
        ("api", "major_outage")
    }
    assert [r.code for r in incident.regions.all()] == ["eu"]  # from the region label
    assert public_updates(incident) == 0
    assert incident.next_update_due is None  # no customer cadence in triage
    assert event.status == EventStatus.PROCESSED
    assert event.incident == incident
    assert "Opened triage incident" in event.reason
    assert AlertGroup.objects.get(incident=incident).opened_by_alert


def test_the_rule_decides_status_and_severity(rules, fire) -> None:
    fire(am_alert("d1", service="dashboard"))
    incident = Incident.objects.get()
    assert incident.severity == "P4"
    assert incident.affected.get().component_status == "degraded_performance"


def test_without_a_severity_anywhere_the_integration_default_applies(rules, fire) -> None:
    alert = am_alert("p1", service="payments")
    del alert["labels"]["severity"]
    fire(alert)
    assert Incident.objects.get().severity == "P3"


def test_an_alert_storm_on_one_service_is_one_incident(rules, fire) -> None:
    fire(*[am_alert(f"f{i}", service="api", instance=f"web-{i}") for i in range(25)])
    assert Incident.objects.count() == 1
    incident = Incident.objects.get()
    assert InboundEvent.objects.filter(incident=incident).count() == 25
    assert AlertState.objects.filter(incident=incident, status=AlertStatus.FIRING).count() == 25
    assert public_updates(incident) == 0


def test_different_services_open_different_incidents(rules, fire) -> None:
    fire(am_alert("a", service="api"), am_alert("p", service="payments"))
    assert Incident.objects.count() == 2


def test_after_the_grouping_window_the_same_service_opens_a_new_incident(rules, fire) -> None:
    fire(am_alert("f1", service="api"))
    later = timezone.now() + timedelta(minutes=11)
    fire(am_alert("f2", service="api"), now=later)
    assert Incident.objects.count() == 2


def test_alerts_keep_the_window_open_while_they_arrive(rules, fire) -> None:
    start = timezone.now()
    for minute in range(0, 40, 8):  # every 8 minutes, for 40 minutes
        fire(am_alert(f"f{minute}", service="api"), now=start + timedelta(minutes=minute))
    assert Incident.objects.count() == 1


def test_an_alert_joins_the_incident_a_person_opened_on_its_service(rules, fire) -> None:
    incident = incident_open(
        title="API errors",
        severity="P2",
        services={"api": "partial_outage"},
        body="We are investigating errors on the API.",
        actor="pytest",
    )
    [event] = fire(am_alert("f1", service="api"))
    assert Incident.objects.count() == 1
    assert event.incident == incident
    assert public_updates(incident) == 1  # the person's own message, nothing added


def test_joining_adds_the_services_an_unconfirmed_incident_lacks(rules, fire) -> None:
    add_rule("Checkout API", {"alertname": "CheckoutDown"}, ["api", "checkout"], position=1)
    fire(am_alert("f1", service="api"))
    fire(am_alert("f2", alertname="CheckoutDown"))
    incident = Incident.objects.get()
    assert sorted(incident.affected.values_list("service__slug", flat=True)) == ["api", "checkout"]
    assert any("also affects checkout" in note for note in notes(incident))
    assert public_updates(incident) == 0


def test_a_more_severe_alert_raises_a_triage_incidents_severity(rules, fire) -> None:
    fire(am_alert("f1", service="api", severity="warning"))
    assert Incident.objects.get().severity == "P3"
    fire(am_alert("f2", service="api", severity="critical"))
    assert Incident.objects.get().severity == "P1"


def test_a_repeated_notification_changes_nothing(rules, fire) -> None:
    fire(am_alert("f1", service="api"))
    # Alertmanager restarted: the same alert (fingerprint) with a new start time.
    [event] = fire(am_alert("f1", service="api", starts_at="2026-11-26T18:09:00Z"))
    incident = Incident.objects.get()
    assert "Still firing" in event.reason
    assert event.incident == incident
    assert incident.updates.count() == 0


# --- processing twice ---------------------------------------------------------------------


def test_processing_an_event_twice_does_it_once(rules, hooks, alertmanager) -> None:
    integration, secret = alertmanager
    hooks.post(integration, secret, am_payload(am_alert("f1", service="api")))
    event = InboundEvent.objects.get()
    first = inbound_event_process(event_id=event.pk)
    audits = AuditEvent.objects.count()
    second = inbound_event_process(event_id=event.pk)
    assert first is not None and second is not None
    assert second.processed_at == first.processed_at
    assert Incident.objects.count() == 1
    assert AuditEvent.objects.count() == audits


def test_the_task_processes_the_event_and_tolerates_a_missing_one(
    rules, hooks, alertmanager
) -> None:
    integration, secret = alertmanager
    hooks.post(integration, secret, am_payload(am_alert("f1", service="api")))
    event = InboundEvent.objects.get()
    assert process_event.apply(args=[event.pk]).get() == "processed"
    assert process_event.apply(args=[event.pk]).get() == "processed"  # redelivered: no-op
    assert process_event.apply(args=[987654321]).get() is None
    assert Incident.objects.count() == 1


def test_the_task_is_routed_to_the_integrations_queue_and_retried_on_transient_errors() -> None:
    route = app.amqp.router.route({}, process_event.name)
    assert process_event.name == "integrations.process_event"
    assert route["queue"].name == "integrations"
    assert process_event.acks_late
    assert process_event.autoretry_for
    assert process_event.max_retries


def test_an_event_that_cannot_be_read_is_marked_failed(rules, alertmanager) -> None:
    integration, _ = alertmanager
    event = InboundEvent.objects.create(
        integration=integration,
        event_key="broken",
        received_at=timezone.now(),
        payload={"alerts": []},
    )
    process_event.apply(args=[event.pk])
    event.refresh_from_db()
    assert event.status == EventStatus.FAILED
    assert "exactly one alert" in event.reason


# --- the inbox ----------------------------------------------------------------------------


def test_an_alert_no_rule_matches_waits_in_the_inbox(rules, fire) -> None:
    [event] = fire(am_alert("f1", service="billing", region="eu"))
    assert event.status == EventStatus.UNROUTED
    assert "region=eu" in event.reason and "service=billing" in event.reason
    assert list(inbox()) == [event]
    assert not Incident.objects.exists()


def test_an_inbox_alert_processed_again_after_adding_a_rule_opens_an_incident(
    rules, fire, catalog, django_capture_on_commit_callbacks
) -> None:
    [event] = fire(am_alert("f1", service="billing"))
    add_rule("Billing", {"service": "billing"}, ["payments"])
    with django_capture_on_commit_callbacks() as queued:
        assert inbound_events_requeue(events=[event], actor="pytest") == 1
    assert len(queued) == 1
    process_pending()
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED
    assert event.incident is not None
    assert not inbox().exists()


def test_rules_are_tried_by_position_and_may_be_limited_to_one_integration(
    catalog, fire, alertmanager, make_integration
) -> None:
    grafana, _ = make_integration(Source.GRAFANA)
    add_rule("Grafana only", {}, ["dashboard"], position=1, integration=grafana)
    add_rule("Catch-all", {}, ["checkout"], position=5)
    add_rule("Never reached", {}, ["payments"], position=9)
    fire(am_alert("f1", service="anything"))
    assert list(Incident.objects.get().affected.values_list("service__slug", flat=True)) == [
        "checkout"
    ]


# --- maintenance --------------------------------------------------------------------------


@pytest.fixture
def api_maintenance(catalog):
    window = maintenance_schedule(
        title="Database upgrade",
        services=["api"],
        scheduled_start=timezone.now() + timedelta(minutes=1),
        scheduled_end=timezone.now() + timedelta(hours=2),
        actor="pytest",
    )
    return maintenance_start(window=window, actor="pytest")


def test_alerts_for_services_under_maintenance_attach_to_it(rules, fire, api_maintenance) -> None:
    said = api_maintenance.updates.count()
    events = fire(am_alert("f1", service="api"), am_alert("f2", service="api"))
    assert not Incident.objects.exists()
    for event in events:
        assert event.status == EventStatus.SUPPRESSED
        assert event.maintenance == api_maintenance
        assert "Database upgrade" in event.reason
    assert api_maintenance.updates.count() == said  # nothing said to customers


def test_scheduled_maintenance_suppresses_nothing(rules, fire, catalog) -> None:
    maintenance_schedule(
        title="Later",
        services=["api"],
        scheduled_start=timezone.now() + timedelta(days=1),
        scheduled_end=timezone.now() + timedelta(days=1, hours=1),
        actor="pytest",
    )
    fire(am_alert("f1", service="api"))
    assert Incident.objects.count() == 1


def test_only_the_services_outside_maintenance_get_an_incident(
    rules, fire, api_maintenance
) -> None:
    add_rule("Both", {"alertname": "Both"}, ["api", "payments"], position=1)
    [event] = fire(am_alert("f1", alertname="Both"))
    incident = Incident.objects.get()
    assert list(incident.affected.values_list("service__slug", flat=True)) == ["payments"]
    assert event.incident == incident
    assert event.maintenance == api_maintenance


def test_maintenance_of_another_region_does_not_suppress(rules, fire, catalog) -> None:
    window = maintenance_schedule(
        title="US database upgrade",
        services=["api"],
        regions=["us"],
        scheduled_start=timezone.now() + timedelta(minutes=1),
        scheduled_end=timezone.now() + timedelta(hours=1),
        actor="pytest",
    )
    maintenance_start(window=window, actor="pytest")
    fire(am_alert("f1", service="api", region="eu"))
    assert Incident.objects.count() == 1


# --- recovery, proposals, quiet closing ---------------------------------------------------


def test_resolution_is_proposed_only_when_every_alert_recovered(rules, fire) -> None:
    fire(am_alert("f1", service="api"), am_alert("f2", service="api"))
    incident = Incident.objects.get()
    [event] = fire(am_alert("f1", service="api", status="resolved"))
    assert "1 other alert(s)" in event.reason
    assert notes(incident) == []
    fire(am_alert("f2", service="api", status="resolved"))
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIAGE  # proposed, not done
    [note] = notes(incident)
    assert "resolution proposed" in note and "closes quietly in 30 min" in note
    assert public_updates(incident) == 0
    group = AlertGroup.objects.get(incident=incident)
    assert group.recovered_at is not None and group.resolution_proposed_at is not None


def test_an_alert_firing_again_withdraws_the_proposal(rules, fire) -> None:
    fire(am_alert("f1", service="api"))
    fire(am_alert("f1", service="api", status="resolved"))
    fire(am_alert("f1", service="api", starts_at="2026-11-26T18:20:00Z"))
    incident = Incident.objects.get()
    assert "no longer proposed" in notes(incident)[0]
    group = AlertGroup.objects.get(incident=incident)
    assert group.recovered_at is None and group.resolution_proposed_at is None
    assert Incident.objects.count() == 1


def test_a_never_confirmed_incident_closes_quietly_after_the_quiet_period(rules, fire) -> None:
    fire(am_alert("f1", service="api"))
    fire(am_alert("f1", service="api", status="resolved"))
    incident = Incident.objects.get()
    assert triage_close_quiet(now=timezone.now() + timedelta(minutes=29)) == 0
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIAGE
    assert triage_close_quiet(now=timezone.now() + timedelta(minutes=31)) == 1
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert public_updates(incident) == 0
    assert not incident.updates.filter(deliver_notifications=True).exists()
    assert "Closed quietly" in notes(incident)[0]
    assert AuditEvent.objects.filter(action="integration.incident_closed_quietly").count() == 1
    assert triage_close_quiet(now=timezone.now() + timedelta(minutes=40)) == 0  # once


def test_the_quiet_closing_runs_in_the_per_tenant_tick(rules, fire) -> None:
    assert QUIET_JOB in tenant_jobs
    fire(am_alert("f1", service="api"))
    fire(am_alert("f1", service="api", status="resolved"))
    AlertGroup.objects.update(recovered_at=timezone.now() - timedelta(minutes=31))
    tenant_jobs[QUIET_JOB]()
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_a_confirmed_incident_is_never_closed_without_a_person(rules, fire) -> None:
    fire(am_alert("f1", service="api"))
    incident = Incident.objects.get()
    incident_confirm_impact(incident=incident, actor="pytest")
    fire(am_alert("f1", service="api", status="resolved"))
    incident.refresh_from_db()
    assert "Resolve it with a message to customers" in notes(incident)[0]
    assert triage_close_quiet(now=timezone.now() + timedelta(days=2)) == 0
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING


def test_an_incident_a_person_opened_is_not_closed_quietly(rules, fire) -> None:
    incident = incident_open(
        title="API slow",
        severity="P3",
        services={"api": "degraded_performance"},
        customer_impact_confirmed=False,
        actor="pytest",
    )
    fire(am_alert("f1", service="api"))
    fire(am_alert("f1", service="api", status="resolved"))
    assert triage_close_quiet(now=timezone.now() + timedelta(days=1)) == 0
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIAGE


def test_the_quiet_period_is_the_integrations_setting(rules, fire, alertmanager) -> None:
    integration, _ = alertmanager
    integration_update(integration=integration, quiet_period_minutes=5, actor="pytest")
    fire(am_alert("f1", service="api"))
    fire(am_alert("f1", service="api", status="resolved"))
    assert "closes quietly in 5 min" in notes(Incident.objects.get())[0]
    assert triage_close_quiet(now=timezone.now() + timedelta(minutes=6)) == 1


def test_a_resolution_for_an_alert_never_seen_firing_changes_nothing(rules, fire) -> None:
    [event] = fire(am_alert("f1", service="api", status="resolved"))
    assert event.status == EventStatus.PROCESSED
    assert "never seen firing" in event.reason
    assert not Incident.objects.exists()


# --- after resolution, and flapping -------------------------------------------------------


def test_an_alert_firing_again_after_a_person_resolved_opens_a_new_incident(rules, fire) -> None:
    fire(am_alert("f1", service="api"))
    fire(am_alert("f1", service="api", status="resolved"))
    first = Incident.objects.get()
    incident_resolve(incident=first, actor="pytest")
    later = timezone.now() + timedelta(minutes=45)
    fire(am_alert("f1", service="api", starts_at="2026-11-26T19:00:00Z"), now=later)
    second = Incident.objects.exclude(pk=first.pk).get()
    assert second.status == IncidentStatus.TRIAGE
    assert second.external_id == "f1#2"


def test_a_flapping_alert_is_recorded_and_does_not_reopen_incidents(rules, fire) -> None:
    start = timezone.now()
    for n in range(4):  # fires 4 times in 12 minutes: more than 3 in 30
        at = start + timedelta(minutes=3 * n)
        fire(am_alert("f1", service="api", starts_at=f"2026-11-26T18:0{n}:00Z"), now=at)
        fire(
            am_alert("f1", service="api", status="resolved", starts_at=f"2026-11-26T18:0{n}:00Z"),
            now=at + timedelta(minutes=1),
        )
    incident = Incident.objects.get()
    state = AlertState.objects.get()
    assert state.flapping_since is not None
    flapping_notes = [n for n in notes(incident) if "is flapping" in n]
    assert len(flapping_notes) == 1
    proposals = [n for n in notes(incident) if "resolution proposed" in n]
    assert len(proposals) == 3  # not once more while flapping
    assert InboundEvent.objects.filter(flapping=True).exists()
    assert AuditEvent.objects.filter(action="integration.alert_flapping").count() == 1

    incident_resolve(incident=incident, actor="pytest")
    [event] = fire(
        am_alert("f1", service="api", starts_at="2026-11-26T18:20:00Z"),
        now=start + timedelta(minutes=14),
    )
    assert Incident.objects.count() == 1  # not reopened, no new one
    assert event.flapping and "flapping" in event.reason
    assert event.incident == incident
