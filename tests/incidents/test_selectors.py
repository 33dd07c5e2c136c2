"""Derived state: component status, clocks, and what is due."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.incidents.models import Incident, PolicySettings
from apps.incidents.selectors import (
    incident_clocks,
    incidents_assessment_overdue,
    incidents_extended_outage,
    incidents_list,
    incidents_update_due,
    incidents_update_overdue,
    maintenance_suggest_window,
    service_statuses,
)
from apps.incidents.services import (
    incident_assess,
    incident_confirm_impact,
    incident_open,
    incident_resolve,
    maintenance_schedule,
    maintenance_start,
)
from tests.factories import ALL_CLEAR

ACTOR = "pytest"


def status_of(services, public=True) -> dict[str, str]:
    by_id = service_statuses(public=public)
    return {slug: by_id[s.pk] for slug, s in services.items()}


def test_all_services_are_operational_without_incidents(services) -> None:
    assert set(status_of(services).values()) == {"operational"}


def test_a_service_shows_the_worst_of_its_open_incidents_and_maintenance(services) -> None:
    incident_open(title="a", severity="P3", services={"api": "degraded_performance"}, actor=ACTOR)
    incident_open(
        title="b",
        severity="P1",
        services={"api": "major_outage", "payments": "partial_outage"},
        actor=ACTOR,
    )
    window = maintenance_schedule(
        title="DB upgrade",
        services=["dashboard", "payments"],
        scheduled_start=timezone.now() + timedelta(minutes=5),
        scheduled_end=timezone.now() + timedelta(hours=1),
        actor=ACTOR,
    )
    assert status_of(services)["dashboard"] == "operational"  # not started yet
    maintenance_start(window=window, actor=ACTOR)
    assert status_of(services) == {
        "api": "major_outage",
        "payments": "partial_outage",
        "dashboard": "under_maintenance",
    }


def test_resolved_incidents_no_longer_count(services) -> None:
    incident = incident_open(
        title="a", severity="P2", services={"api": "major_outage"}, actor=ACTOR
    )
    incident_resolve(incident=incident, body="Fixed.", **ALL_CLEAR, actor=ACTOR)
    assert status_of(services)["api"] == "operational"


def test_triage_incidents_show_internally_but_not_publicly(services) -> None:
    incident = incident_open(
        title="a",
        severity="P1",
        source="alertmanager",
        services={"api": "major_outage"},
        actor=ACTOR,
    )
    assert status_of(services)["api"] == "operational"
    assert status_of(services, public=False)["api"] == "major_outage"
    incident_confirm_impact(incident=incident, actor=ACTOR)
    assert status_of(services)["api"] == "major_outage"


def test_statuses_take_two_queries_whatever_the_number_of_services(
    services, django_assert_num_queries
) -> None:
    incident_open(title="a", severity="P2", services={"api": "major_outage"}, actor=ACTOR)
    with django_assert_num_queries(3):  # incidents, maintenance, service ids
        service_statuses()


def test_clocks_of_a_fresh_incident(services) -> None:
    incident = incident_open(
        title="a", severity="P1", services={"api": "major_outage"}, actor=ACTOR
    )
    clocks = incident_clocks(incident)
    assert clocks.assessment_due == incident.detected_at + timedelta(minutes=15)
    assert not clocks.assessment_overdue and not clocks.update_overdue
    assert clocks.target_resolution_due == incident.started_at + timedelta(hours=2)
    assert not clocks.extended_outage
    later = incident_clocks(incident, now=timezone.now() + timedelta(minutes=31))
    assert later.assessment_overdue and later.update_overdue
    incident_assess(incident=incident, hypothesis="x", actor=ACTOR)
    incident.refresh_from_db()
    assert incident_clocks(incident).assessment_due is None


def test_no_eta_for_four_hours_is_an_extended_outage(services) -> None:
    incident = incident_open(
        title="a", severity="P1", services={"api": "major_outage"}, actor=ACTOR
    )
    assert not incident_clocks(incident, now=timezone.now() + timedelta(hours=3)).extended_outage
    assert incident_clocks(
        incident, now=timezone.now() + timedelta(hours=4, minutes=1)
    ).extended_outage
    Incident.objects.filter(pk=incident.pk).update(
        eta_unknown_since=timezone.now() - timedelta(hours=5)
    )
    assert list(incidents_extended_outage()) == [incident]
    incident_assess(incident=incident, eta=timezone.now() + timedelta(hours=1), actor=ACTOR)
    assert not incidents_extended_outage().exists()


def test_an_extended_outage_switches_to_the_extended_cadence(services) -> None:
    from apps.incidents.services import incident_post_update

    incident = incident_open(
        title="a", severity="P2", services={"api": "major_outage"}, actor=ACTOR
    )
    Incident.objects.filter(pk=incident.pk).update(
        eta_unknown_since=timezone.now() - timedelta(hours=5)
    )
    incident_post_update(incident=incident, body="What we know and what we don't.", actor=ACTOR)
    incident.refresh_from_db()
    due_in = incident.next_update_due - timezone.now()
    assert timedelta(minutes=14) < due_in <= timedelta(minutes=15)  # not P2's 60 minutes


def test_due_and_overdue_lists(services) -> None:
    soon = incident_open(title="soon", severity="P1", services={"api": "major_outage"}, actor=ACTOR)
    late = incident_open(title="late", severity="P1", services={"api": "major_outage"}, actor=ACTOR)
    triage = incident_open(title="triage", severity="P1", source="sentry", actor=ACTOR)
    now = timezone.now()
    Incident.objects.filter(pk=soon.pk).update(next_update_due=now + timedelta(minutes=3))
    Incident.objects.filter(pk=late.pk).update(
        next_update_due=now - timedelta(minutes=1), detected_at=now - timedelta(minutes=20)
    )
    assert list(incidents_update_due(within=timedelta(minutes=5))) == [soon]
    assert list(incidents_update_overdue()) == [late]
    assert list(incidents_assessment_overdue()) == [late]
    assert triage not in incidents_update_overdue()


@pytest.mark.parametrize(
    ("filters", "titles"),
    [
        ({"status": "open"}, {"eu api", "global payments"}),
        ({"status": "resolved"}, {"old"}),
        ({"severity": "P1"}, {"eu api"}),
        ({"service": "payments"}, {"global payments"}),
        ({"region": "eu"}, {"eu api", "global payments", "old"}),
        ({"region": "us"}, {"global payments", "old"}),
    ],
)
def test_incident_list_filters(services, regions, filters, titles) -> None:
    incident_open(
        title="eu api", severity="P1", services={"api": "major_outage"}, regions=["eu"], actor=ACTOR
    )
    incident_open(
        title="global payments", severity="P2", services={"payments": "major_outage"}, actor=ACTOR
    )
    old = incident_open(title="old", severity="P3", actor=ACTOR)
    incident_resolve(incident=old, body="done", **ALL_CLEAR, actor=ACTOR)
    assert {i.title for i in incidents_list(**filters)} == titles


def test_suggested_window_adds_the_buffer_and_picks_the_quietest_hour(tenant_db) -> None:
    busy = [100] * 24
    profile = {day: list(busy) for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    profile["sun"][3] = profile["sun"][4] = 1  # Sunday 03:00-05:00 UTC is quiet
    PolicySettings.objects.filter(pk=1).update(traffic_profile=profile)
    now = timezone.now()
    window = maintenance_suggest_window(duration=timedelta(minutes=80), now=now)
    assert window.buffered_duration == timedelta(minutes=120)
    assert window.start.weekday() == 6 and window.start.hour == 3
    assert now < window.start <= now + timedelta(days=7, hours=1)
    assert window.end - window.start == timedelta(minutes=120)


def test_without_a_profile_the_suggestion_is_tomorrow_night(tenant_db) -> None:
    now = timezone.now()
    window = maintenance_suggest_window(duration=timedelta(hours=1), now=now)
    assert window.start.date() == (now + timedelta(days=1)).date() and window.start.hour == 2
    assert window.buffered_duration == timedelta(minutes=90)
    assert "No traffic profile" in window.reason
