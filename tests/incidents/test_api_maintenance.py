"""/api/v1/maintenances/: schedule, list, read, start, extend, note, complete, cancel, and the
window suggestion."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.core.models import AuditEvent
from apps.incidents import services
from apps.incidents.models import MaintenanceWindow, PolicySettings
from apps.incidents.models.policy import WEEKDAYS
from tests.conftest import TEST_HOST
from tests.factories import RegionFactory, ServiceFactory
from tests.openapi import CheckedClient

MAINTENANCES = "/api/v1/maintenances/"


@pytest.fixture
def api(api_key) -> CheckedClient:
    return CheckedClient(TEST_HOST, api_key[1])


@pytest.fixture
def catalog(tenant_db) -> None:
    ServiceFactory(slug="api", name="Public API")
    ServiceFactory(slug="dashboard", name="Dashboard")
    RegionFactory(code="eu", name="Europe")


def when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def schedule(*, hours_from_now: float = 24, **kwargs: Any) -> MaintenanceWindow:
    start = timezone.now() + timedelta(hours=hours_from_now)
    kwargs.setdefault("title", "Database upgrade")
    kwargs.setdefault("services", ["api"])
    return services.maintenance_schedule(
        scheduled_start=start, scheduled_end=start + timedelta(hours=2), **kwargs, actor="pytest"
    )


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.json()
    return response.json()["error"]


def test_scheduling_a_window_returns_it_with_its_first_note(api, catalog) -> None:
    start = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    response = api.post(
        MAINTENANCES,
        {
            "title": "Database upgrade",
            "description": "PostgreSQL 17.",
            "services": ["api", "dashboard"],
            "regions": ["eu"],
            "scheduled_start": start.isoformat(),
            "scheduled_end": (start + timedelta(hours=2)).isoformat(),
            "expected_impact": "unavailable",
            "customer_action": "Retry failed requests after the window.",
            "contact_by": (start - timedelta(days=1)).isoformat(),
        },
    )

    assert response.status_code == 201
    window = response.json()
    assert {k: window[k] for k in ("title", "status", "regions")} == {
        "title": "Database upgrade",
        "status": "scheduled",
        "regions": ["eu"],
    }
    assert sorted(window["services"]) == ["api", "dashboard"]
    assert (window["expected_impact"], window["customer_action"]) == (
        "unavailable",
        "Retry failed requests after the window.",
    )
    assert (when(window["scheduled_start"]), when(window["contact_by"])) == (
        start,
        start - timedelta(days=1),
    )
    assert (window["actual_start"], window["actual_end"]) == (None, None)
    assert [(u["status"], u["body"], u["author_label"]) for u in window["updates"]] == [
        ("scheduled", "PostgreSQL 17.", "API key Test suite")
    ]
    scheduled = AuditEvent.objects.get(action="maintenance.scheduled")
    assert scheduled.actor_label == "API key Test suite"


@pytest.mark.parametrize(
    ("change", "message", "fields"),
    [
        (
            {"scheduled_start": "2001-01-01T00:00:00Z"},
            "The maintenance cannot be scheduled.",
            {"scheduled_start": ["2001-01-01 00:00 UTC is in the past; give a future time."]},
        ),
        (
            {"scheduled_end": "{start}"},
            "The maintenance cannot be scheduled.",
            {"scheduled_end": ["The window must end after it starts."]},
        ),
        (
            {"services": []},
            "The maintenance cannot be scheduled.",
            {"services": ["Name at least one affected service."]},
        ),
        (
            {"services": ["api", "nope"]},
            "The maintenance cannot be scheduled.",
            {"services": ["Unknown service(s): nope. Use the slugs listed at /api/v1/services/."]},
        ),
        (
            {"contact_by": "{end}"},
            "The maintenance cannot be scheduled.",
            {"contact_by": ["The contact deadline must be before the window starts."]},
        ),
        (
            {"expected_impact": "some"},
            "Some fields are not valid: expected_impact.",
            {"expected_impact": ['"some" is not valid: use one of none, degraded, unavailable.']},
        ),
        (
            {"title": "x" * 201},
            "Some fields are not valid: title.",
            {"title": ["Ensure this field has no more than 200 characters."]},
        ),
        (
            {"scheduled_end": "tomorrow"},
            "Some fields are not valid: scheduled_end.",
            {
                "scheduled_end": [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
        ),
    ],
    ids=[
        "past",
        "ends-at-start",
        "no-services",
        "unknown-service",
        "late-contact",
        "bad-impact",
        "long-title",
        "bad-time",
    ],
)
def test_windows_that_cannot_be_scheduled_are_refused(
    api, catalog, change, message, fields
) -> None:
    start = timezone.now() + timedelta(days=1)
    times = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    payload = {
        "title": "Database upgrade",
        "services": ["api"],
        "scheduled_start": times["start"],
        "scheduled_end": times["end"],
        **{k: v.format(**times) if isinstance(v, str) else v for k, v in change.items()},
    }
    assert error(api.post(MAINTENANCES, payload), 400) == {
        "code": "invalid",
        "message": message,
        "fields": fields,
    }
    assert not MaintenanceWindow.objects.exists()


def test_windows_are_listed_latest_first_and_filtered_by_status(api, catalog) -> None:
    soon, later = schedule(hours_from_now=2), schedule(hours_from_now=48)
    cancelled = schedule(hours_from_now=24)
    services.maintenance_cancel(window=cancelled, actor="pytest")

    def ids(query: str = "") -> list[int]:
        response = api.get(MAINTENANCES + query)
        assert response.status_code == 200
        return [w["id"] for w in response.json()["results"]]

    assert ids() == [later.pk, cancelled.pk, soon.pk]
    assert ids("?status=scheduled") == [later.pk, soon.pk]
    assert ids("?status=cancelled") == [cancelled.pk]
    assert error(api.get(MAINTENANCES + "?status=over"), 400)["fields"] == {
        "status": ['"over" is not a valid choice.']
    }


def test_a_window_is_read_with_its_notes_and_an_unknown_id_is_a_404(api, catalog) -> None:
    window = schedule(description="PostgreSQL 17.")
    services.maintenance_start(window=window, body="Starting now.", actor="pytest")

    response = api.get(f"{MAINTENANCES}{window.pk}/")

    assert response.status_code == 200
    assert [u["body"] for u in response.json()["updates"]] == ["Starting now.", "PostgreSQL 17."]
    assert error(api.get(f"{MAINTENANCES}987654321/"), 404) == {
        "code": "not_found",
        "message": "There is no maintenance #987654321 in this tenant.",
        "fields": {},
    }


def test_a_window_runs_from_start_to_completion(api, catalog) -> None:
    window = schedule(hours_from_now=0.5)
    url = f"{MAINTENANCES}{window.pk}/"

    started = api.post(url + "start/", {"body": "We are starting the upgrade."})
    assert started.status_code == 200
    assert started.json()["status"] == "in_progress"
    assert started.json()["actual_start"] is not None
    assert api.get("/api/v1/services/api/").json()["status"] == "under_maintenance"

    new_end = window.scheduled_end + timedelta(hours=1)
    extended = api.post(url + "extend/", {"new_end": new_end.isoformat(), "reason": "Slow copy."})
    assert extended.status_code == 200
    assert when(extended.json()["scheduled_end"]) == new_end

    noted = api.post(url + "updates/", {"body": "Checking replicas.", "status": "verifying"})
    assert noted.status_code == 201
    assert (noted.json()["status"], noted.json()["body"]) == ("verifying", "Checking replicas.")
    assert api.get(url).json()["status"] == "verifying"

    completed = api.post(url + "complete/")
    assert completed.status_code == 200
    assert completed.json()["status"] == "completed"
    assert completed.json()["actual_end"] is not None
    assert [u["body"] for u in completed.json()["updates"]] == [
        "Maintenance is complete.",
        "Checking replicas.",
        "Slow copy.",
        "We are starting the upgrade.",
        "Database upgrade",
    ]
    assert api.get("/api/v1/services/api/").json()["status"] == "operational"


def test_a_scheduled_window_is_cancelled_once(api, catalog) -> None:
    window = schedule()
    url = f"{MAINTENANCES}{window.pk}/cancel/"
    cancelled = api.post(url, {"reason": "Postponed to next week."})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["updates"][0]["body"] == "Postponed to next week."
    assert api.post(url).status_code == 200
    assert len(api.get(f"{MAINTENANCES}{window.pk}/").json()["updates"]) == 2


def test_a_scheduled_window_is_rescheduled_and_says_what_moved(api, catalog) -> None:
    window = schedule(contact_by=timezone.now() + timedelta(hours=12))
    url = f"{MAINTENANCES}{window.pk}/reschedule/"
    start = (timezone.now() + timedelta(days=3)).replace(microsecond=0)

    response = api.post(
        url,
        {
            "scheduled_start": start.isoformat(),
            "scheduled_end": (start + timedelta(hours=3)).isoformat(),
            "reason": "The vendor moved the upgrade.",
        },
    )

    assert response.status_code == 200
    moved = response.json()
    assert (when(moved["scheduled_start"]), when(moved["scheduled_end"])) == (
        start,
        start + timedelta(hours=3),
    )
    assert (moved["status"], moved["updates"][0]["body"]) == (
        "scheduled",
        "The vendor moved the upgrade.",
    )
    audit = AuditEvent.objects.get(action="maintenance.rescheduled")
    assert audit.actor_label == "API key Test suite"
    assert audit.details["previous_start"] == window.scheduled_start.isoformat()

    backwards = api.post(
        url,
        {
            "scheduled_start": start.isoformat(),
            "scheduled_end": (start - timedelta(hours=1)).isoformat(),
        },
    )
    assert error(backwards, 400) == {
        "code": "invalid",
        "message": "The maintenance cannot be rescheduled.",
        "fields": {"scheduled_end": ["The window must end after it starts."]},
    }
    assert error(api.post(url, {"scheduled_start": start.isoformat()}), 400)["fields"] == {
        "scheduled_end": ["This field is required."]
    }
    too_early = timezone.now() + timedelta(hours=6)
    refused = api.post(
        url,
        {
            "scheduled_start": too_early.isoformat(),
            "scheduled_end": (too_early + timedelta(hours=1)).isoformat(),
        },
    )
    assert error(refused, 400)["fields"] == {
        "scheduled_start": [
            f"The contact deadline, {window.contact_by:%Y-%m-%d %H:%M} UTC, is after this "
            "start; choose a later start."
        ]
    }
    services.maintenance_start(window=window, actor="pytest")
    assert error(
        api.post(
            url,
            {
                "scheduled_start": start.isoformat(),
                "scheduled_end": (start + timedelta(hours=1)).isoformat(),
            },
        ),
        409,
    ) == {
        "code": "maintenance_in_progress",
        "message": f"Maintenance #{window.pk} is in progress; it cannot be rescheduled "
        "(extend it instead).",
        "fields": {},
    }


def test_moves_the_window_is_not_ready_for_are_refused(api, catalog) -> None:
    scheduled, running = schedule(), schedule()
    services.maintenance_start(window=running, actor="pytest")

    assert error(api.post(f"{MAINTENANCES}{scheduled.pk}/complete/"), 409) == {
        "code": "maintenance_scheduled",
        "message": f"Maintenance #{scheduled.pk} is scheduled; it cannot be completed before "
        "it has started.",
        "fields": {},
    }
    assert error(api.post(f"{MAINTENANCES}{running.pk}/cancel/"), 409) == {
        "code": "maintenance_in_progress",
        "message": f"Maintenance #{running.pk} is in progress; it cannot be cancelled "
        "(complete it instead).",
        "fields": {},
    }
    services.maintenance_complete(window=running, actor="pytest")
    assert error(api.post(f"{MAINTENANCES}{running.pk}/start/"), 409)["message"] == (
        f"Maintenance #{running.pk} is completed; it cannot start."
    )
    assert error(api.post(f"{MAINTENANCES}{running.pk}/updates/", {"body": "Hi"}), 409)[
        "message"
    ] == (f"Maintenance #{running.pk} is completed; it cannot take updates.")
    later = (timezone.now() + timedelta(days=9)).isoformat()
    assert error(api.post(f"{MAINTENANCES}{running.pk}/extend/", {"new_end": later}), 409)[
        "message"
    ] == (f"Maintenance #{running.pk} is completed; it cannot be extended.")


def test_bad_extensions_and_notes_are_refused(api, catalog) -> None:
    window = schedule()
    services.maintenance_start(window=window, actor="pytest")
    url = f"{MAINTENANCES}{window.pk}/"

    earlier = window.scheduled_end - timedelta(minutes=30)
    assert error(api.post(url + "extend/", {"new_end": earlier.isoformat()}), 400) == {
        "code": "invalid",
        "message": "The window can only be extended.",
        "fields": {
            "new_end": [
                f"Give a time after the current end, {window.scheduled_end:%Y-%m-%d %H:%M} UTC."
            ]
        },
    }
    assert error(api.post(url + "extend/", {}), 400)["fields"] == {
        "new_end": ["This field is required."]
    }
    assert error(api.post(url + "updates/", {"body": " "}), 400) == {
        "code": "invalid",
        "message": "The update is empty.",
        "fields": {"body": ["Write the update."]},
    }
    assert error(api.post(url + "updates/", {"body": "Done?", "status": "completed"}), 400)[
        "fields"
    ] == {
        "status": [
            "Use in_progress or verifying on a started window; start, complete and cancel "
            "have their own actions."
        ]
    }


def test_a_window_is_suggested_at_the_quietest_hour_with_a_buffer(api, tenant_db) -> None:
    before = timezone.now()
    response = api.get(MAINTENANCES + "suggest/?duration_minutes=90")
    after = timezone.now()
    assert response.status_code == 200
    suggestion = response.json()
    start = when(suggestion["start"])
    assert start in {
        (moment + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
        for moment in (before, after)
    }
    assert when(suggestion["end"]) == start + timedelta(minutes=135)
    assert (suggestion["duration_minutes"], suggestion["buffered_duration_minutes"]) == (90, 135)
    assert suggestion["reason"].startswith("No traffic profile")

    # Quiet only on Sundays 05:00-06:00 UTC.
    profile = {day: [100] * 24 for day in WEEKDAYS}
    profile["sun"][5] = 1
    PolicySettings.objects.filter(pk=PolicySettings.singleton_pk).update(traffic_profile=profile)
    quiet = when(api.get(MAINTENANCES + "suggest/?duration_minutes=60").json()["start"])
    assert quiet is not None and (quiet.weekday(), quiet.hour) == (6, 5)


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("", {"duration_minutes": ["This field is required."]}),
        (
            "?duration_minutes=0",
            {"duration_minutes": ["Ensure this value is greater than or equal to 1."]},
        ),
        ("?duration_minutes=long", {"duration_minutes": ["A valid integer is required."]}),
    ],
    ids=["missing", "zero", "not-a-number"],
)
def test_a_suggestion_needs_a_duration(api, tenant_db, query, fields) -> None:
    response = api.get(MAINTENANCES + "suggest/" + query)
    assert error(response, 400)["fields"] == fields
