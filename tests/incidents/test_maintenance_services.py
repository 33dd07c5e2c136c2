"""Maintenance windows: scheduling rules and the state machine."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.utils import timezone

from apps.core.exceptions import Conflict, ValidationFailed
from apps.core.models import AuditEvent
from apps.incidents.models import MaintenanceWindow
from apps.incidents.services import (
    maintenance_cancel,
    maintenance_complete,
    maintenance_extend,
    maintenance_post_update,
    maintenance_schedule,
    maintenance_start,
)

ACTOR = "pytest"
planned_end_migration = import_module("apps.incidents.migrations.0004_maintenance_planned_end")


def schedule(**kwargs) -> MaintenanceWindow:
    now = timezone.now()
    args = {
        "title": "Database upgrade",
        "services": ["api", "payments"],
        "scheduled_start": now + timedelta(days=2),
        "scheduled_end": now + timedelta(days=2, hours=2),
        "actor": ACTOR,
        **kwargs,
    }
    return maintenance_schedule(**args)


def test_schedule_records_the_window_its_services_regions_and_first_note(services, regions):
    window = schedule(
        regions=["eu"],
        expected_impact="unavailable",
        customer_action="Retry failed exports after the window.",
        contact_by=timezone.now() + timedelta(days=1),
    )
    assert window.status == "scheduled"
    assert sorted(s.slug for s in window.services.all()) == ["api", "payments"]
    assert [r.code for r in window.regions.all()] == ["eu"]
    assert window.updates.get().status == "scheduled"
    assert AuditEvent.objects.filter(action="maintenance.scheduled").exists()


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"title": ""}, "title", "title"),
        ({"services": []}, "services", "at least one"),
        ({"services": ["nope"]}, "services", "Unknown service(s): nope"),
        ({"regions": ["moon"]}, "regions", "Unknown region(s): moon"),
        ({"scheduled_start": timezone.now() - timedelta(hours=1)}, "scheduled_start", "past"),
        (
            {"scheduled_end": timezone.now() + timedelta(days=1)},
            "scheduled_end",
            "end after it starts",
        ),
        ({"expected_impact": "catastrophic"}, "expected_impact", "none, degraded, unavailable"),
        ({"contact_by": timezone.now() + timedelta(days=3)}, "contact_by", "before the window"),
    ],
)
def test_schedule_rejects_bad_input(services, regions, kwargs, field, fragment) -> None:
    with pytest.raises(ValidationFailed) as caught:
        schedule(**kwargs)
    assert fragment in " ".join(caught.value.fields[field])
    assert not MaintenanceWindow.objects.exists()


def test_the_window_runs_start_verify_complete(services) -> None:
    window = schedule()
    maintenance_start(window=window, actor=ACTOR)
    maintenance_start(window=window, actor=ACTOR)  # already started: nothing happens
    maintenance_post_update(
        window=window, body="Checking replicas", status="verifying", actor=ACTOR
    )
    window = maintenance_complete(window=window, actor=ACTOR)
    assert window.status == "completed" and window.actual_start and window.actual_end
    assert [u.status for u in window.updates.order_by("created_at", "id")] == [
        "scheduled",
        "in_progress",
        "verifying",
        "completed",
    ]


def test_illegal_moves_are_refused(services) -> None:
    window = schedule()
    with pytest.raises(Conflict) as caught:
        maintenance_complete(window=window, actor=ACTOR)
    assert "before it has started" in caught.value.message
    maintenance_start(window=window, actor=ACTOR)
    with pytest.raises(Conflict) as caught:
        maintenance_cancel(window=window, actor=ACTOR)
    assert "complete it instead" in caught.value.message
    maintenance_complete(window=window, actor=ACTOR)
    for move in (maintenance_start, maintenance_cancel):
        with pytest.raises(Conflict):
            move(window=window, actor=ACTOR)
    with pytest.raises(Conflict):
        maintenance_extend(window=window, new_end=timezone.now() + timedelta(days=9), actor=ACTOR)


def test_a_scheduled_window_can_be_cancelled_once(services) -> None:
    window = schedule()
    maintenance_cancel(window=window, reason="Vendor postponed", actor=ACTOR)
    maintenance_cancel(window=window, actor=ACTOR)
    window.refresh_from_db()
    assert window.status == "cancelled"
    assert window.updates.filter(body="Vendor postponed").exists()


def test_extending_moves_the_end_later_only(services) -> None:
    window = schedule()
    new_end = window.scheduled_end + timedelta(hours=1)
    maintenance_extend(window=window, new_end=new_end, reason="Index rebuild is slow", actor=ACTOR)
    window.refresh_from_db()
    assert window.scheduled_end == new_end
    with pytest.raises(ValidationFailed) as caught:
        maintenance_extend(window=window, new_end=window.scheduled_start, actor=ACTOR)
    assert "after the current end" in caught.value.fields["new_end"][0]


def test_the_end_planned_when_it_starts_stays_while_an_overrun_moves_the_end(services) -> None:
    window = schedule()
    longer = window.scheduled_end + timedelta(hours=1)
    maintenance_extend(window=window, new_end=longer, actor=ACTOR)  # before: a longer plan
    window = maintenance_start(window=window, actor=ACTOR)
    assert window.planned_end == longer
    maintenance_extend(window=window, new_end=longer + timedelta(hours=3), actor=ACTOR)
    window.refresh_from_db()
    assert window.scheduled_end == longer + timedelta(hours=3)  # what customers see now
    assert window.planned_end == longer  # what overruns are measured from (SLA credits)


def test_windows_started_before_the_field_get_their_planned_end_from_the_audit_log(
    services,
) -> None:
    window = maintenance_start(window=schedule(), actor=ACTOR)
    planned = window.scheduled_end
    maintenance_extend(window=window, new_end=planned + timedelta(hours=2), actor=ACTOR)
    maintenance_extend(window=window, new_end=planned + timedelta(hours=3), actor=ACTOR)
    MaintenanceWindow.objects.filter(pk=window.pk).update(planned_end=None)  # as before 0004
    with connection.schema_editor() as editor:
        planned_end_migration.backfill(django_apps, editor)
    window.refresh_from_db()
    assert window.planned_end == planned  # the first extension's old end, not the last


def test_an_update_cannot_jump_states(services) -> None:
    window = schedule()
    with pytest.raises(ValidationFailed):
        maintenance_post_update(window=window, body="x", status="completed", actor=ACTOR)
    with pytest.raises(ValidationFailed):
        maintenance_post_update(window=window, body=" ", actor=ACTOR)
