"""Alerts that fired during a maintenance window and are still firing when it ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.incidents.choices import IncidentStatus
from apps.incidents.models import Incident, MaintenanceWindow
from apps.incidents.services import (
    incident_resolve,
    maintenance_complete,
    maintenance_schedule,
    maintenance_start,
)
from apps.integrations.choices import EventStatus
from apps.integrations.models import InboundEvent
from apps.integrations.tasks import release_maintenance_alerts
from tests.integrations.conftest import add_rule, am_alert


@pytest.fixture
def rules(catalog) -> None:
    add_rule("API", {"service": "api"}, ["api"], position=10)
    add_rule("Both", {"alertname": "Both"}, ["api", "payments"], position=1)


@pytest.fixture
def planned(catalog) -> MaintenanceWindow:
    return maintenance_schedule(
        title="Database upgrade",
        services=["api"],
        scheduled_start=timezone.now() + timedelta(minutes=1),
        scheduled_end=timezone.now() + timedelta(hours=2),
        actor="pytest",
    )


@pytest.fixture
def window(planned) -> MaintenanceWindow:
    return maintenance_start(window=planned, actor="pytest")


def complete(window: MaintenanceWindow, capture, *, handlers: bool = True) -> None:
    with capture(execute=handlers):
        maintenance_complete(window=window, actor="pytest")


def notes(incident: Incident) -> list[str]:
    return list(incident.updates.exclude(internal_note="").values_list("internal_note", flat=True))


def test_an_alert_still_firing_when_maintenance_completes_opens_an_incident(
    rules, fire, window, eager, django_capture_on_commit_callbacks
) -> None:
    [suppressed] = fire(am_alert("f1", service="api"))
    assert suppressed.status == EventStatus.SUPPRESSED
    assert not Incident.objects.exists()
    complete(window, django_capture_on_commit_callbacks)
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.TRIAGE
    assert list(incident.affected.values_list("service__slug", flat=True)) == ["api"]
    again = InboundEvent.objects.exclude(pk=suppressed.pk).get()
    assert again.status == EventStatus.PROCESSED and again.incident == incident
    assert any(f"maintenance #{window.pk}" in note for note in notes(incident))
    # The alert now belongs to the incident: its recovery proposes resolution.
    [recovered] = fire(am_alert("f1", service="api", status="resolved"))
    assert f"every alert of incident #{incident.pk} has recovered" in recovered.reason


def test_releasing_the_alerts_twice_opens_one_incident(
    rules, fire, window, eager, django_capture_on_commit_callbacks
) -> None:
    fire(am_alert("f1", service="api"), am_alert("f2", service="api"))
    complete(window, django_capture_on_commit_callbacks)
    assert release_maintenance_alerts.apply(args=[window.pk]).get() == 0  # redelivered
    assert Incident.objects.count() == 1
    assert InboundEvent.objects.count() == 4


def test_alerts_that_recovered_during_maintenance_stay_quiet(
    rules, fire, window, eager, django_capture_on_commit_callbacks
) -> None:
    fire(am_alert("f1", service="api"))
    fire(am_alert("f1", service="api", status="resolved"))
    complete(window, django_capture_on_commit_callbacks)
    assert not Incident.objects.exists()


def test_services_left_out_during_maintenance_join_the_incident_when_it_ends(
    rules, fire, window, eager, django_capture_on_commit_callbacks
) -> None:
    fire(am_alert("b1", alertname="Both"))
    incident = Incident.objects.get()
    assert list(incident.affected.values_list("service__slug", flat=True)) == ["payments"]
    complete(window, django_capture_on_commit_callbacks)
    assert Incident.objects.count() == 1
    assert sorted(incident.affected.values_list("service__slug", flat=True)) == [
        "api",
        "payments",
    ]


def test_a_suppressed_alert_no_longer_belongs_to_its_resolved_incident(
    rules, fire, planned
) -> None:
    fire(am_alert("f1", service="api"))
    first = Incident.objects.get()
    fire(am_alert("f1", service="api", status="resolved"))
    incident_resolve(incident=first, actor="pytest")
    maintenance_start(window=planned, actor="pytest")
    [suppressed] = fire(am_alert("f1", service="api", starts_at="2026-11-26T19:00:00Z"))
    assert suppressed.status == EventStatus.SUPPRESSED
    [recovered] = fire(
        am_alert("f1", service="api", status="resolved", starts_at="2026-11-26T19:00:00Z")
    )
    assert recovered.status == EventStatus.PROCESSED
    assert recovered.incident is None
    assert not first.alert_events.filter(pk=recovered.pk).exists()


def test_a_firing_after_maintenance_is_not_refused_for_an_old_incident(
    rules, fire, planned, django_capture_on_commit_callbacks
) -> None:
    fire(am_alert("f1", service="api"))
    first = Incident.objects.get()
    fire(am_alert("f1", service="api", status="resolved"))
    incident_resolve(incident=first, actor="pytest")
    window = maintenance_start(window=planned, actor="pytest")
    fire(am_alert("f1", service="api", starts_at="2026-11-26T19:00:00Z"))
    complete(window, django_capture_on_commit_callbacks, handlers=False)
    # Alertmanager restarted: the same alert, with a new start time, after the window.
    [event] = fire(am_alert("f1", service="api", starts_at="2026-11-26T19:05:00Z"))
    assert "Opened triage incident" in event.reason
    assert event.incident is not None and event.incident != first
