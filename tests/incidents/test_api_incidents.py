"""/api/v1/incidents/: open, list, read, edit, update, confirm, resolve, false alarm, attach,
reopen — what a client sees, refusals included."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.models import AuditEvent
from apps.incidents import services
from apps.incidents.models import Incident
from tests.conftest import TEST_HOST
from tests.factories import ALL_CLEAR, RegionFactory, ServiceFactory, UserFactory
from tests.openapi import CheckedClient

INCIDENTS = "/api/v1/incidents/"


@pytest.fixture
def api(api_key) -> CheckedClient:
    return CheckedClient(TEST_HOST, api_key[1])


@pytest.fixture
def catalog(tenant_db) -> None:
    ServiceFactory(slug="api", name="Public API")
    ServiceFactory(slug="dashboard", name="Dashboard")
    RegionFactory(code="eu", name="Europe")
    RegionFactory(code="us", name="United States")


def when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def open_incident(**kwargs: Any) -> Incident:
    kwargs.setdefault("title", "Payments delayed")
    kwargs.setdefault("severity", "P2")
    return services.incident_open(**kwargs, actor="pytest")


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.json()
    return response.json()["error"]


# --- open ---------------------------------------------------------------------------------


def test_opening_an_incident_returns_everything_staff_need(api, catalog) -> None:
    UserFactory(email="ana@test.example")
    started = timezone.now() - timedelta(minutes=10)

    response = api.post(
        INCIDENTS,
        {
            "title": "Payments are delayed",
            "internal_title": "Kafka consumer lag on payments",
            "severity": "P1",
            "services": {"dashboard": "degraded_performance", "api": "major_outage"},
            "regions": ["eu"],
            "impact_scope_pct": 30,
            "body": "We are investigating delayed payments.",
            "customer_impact_confirmed": True,
            "commander": "Ana@Test.example",
            "started_at": started.isoformat(),
        },
    )

    assert response.status_code == 201
    incident = response.json()
    assert {k: incident[k] for k in ("title", "internal_title", "severity", "status")} == {
        "title": "Payments are delayed",
        "internal_title": "Kafka consumer lag on payments",
        "severity": "P1",
        "status": "investigating",
    }
    assert incident["services"] == [
        {"service": "api", "name": "Public API", "component_status": "major_outage"},
        {"service": "dashboard", "name": "Dashboard", "component_status": "degraded_performance"},
    ]
    assert incident["regions"] == ["eu"]
    assert incident["commander"] == "ana@test.example"
    assert incident["customer_impact_confirmed"] is True
    assert incident["impact_scope_pct"] == 30
    assert (incident["source"], incident["external_id"]) == ("api", "")
    assert (incident["parent"], incident["children"]) == (None, [])
    assert when(incident["started_at"]) == started
    detected = when(incident["detected_at"])
    assert detected is not None
    # P1: the initial assessment is due in 15 minutes, an update every 30, resolution in 2 h.
    clocks = incident["clocks"]
    assert when(clocks["assessment_due"]) == detected + timedelta(minutes=15)
    assert when(clocks["target_resolution_due"]) == started + timedelta(hours=2)
    due = when(incident["next_update_due"])
    assert due is not None and abs(due - (detected + timedelta(minutes=30))) < timedelta(seconds=5)
    assert clocks["update_overdue"] is clocks["assessment_overdue"] is False

    updates = api.get(f"{INCIDENTS}{incident['id']}/updates/").json()["results"]
    assert [(u["body"], u["public"]) for u in updates] == [
        ("We are investigating delayed payments.", True)
    ]
    assert updates[0]["author_label"] == "API key Test suite"
    assert AuditEvent.objects.get(action="incident.opened").actor_label == "API key Test suite"


def test_an_unconfirmed_incident_stays_internal_until_impact_is_confirmed(api, catalog) -> None:
    opened = api.post(INCIDENTS, {"title": "Errors on login", "severity": "P2"}).json()
    assert (opened["status"], opened["customer_impact_confirmed"]) == ("investigating", True)

    response = api.post(
        INCIDENTS,
        {"title": "Errors on login", "severity": "P2", "customer_impact_confirmed": False},
    )
    assert response.status_code == 201
    incident = response.json()
    assert (incident["status"], incident["customer_impact_confirmed"]) == ("triage", False)
    assert incident["next_update_due"] is None  # no customer cadence before confirmation

    refused = api.post(
        INCIDENTS,
        {
            "title": "Errors",
            "severity": "P2",
            "body": "We know.",
            "customer_impact_confirmed": False,
        },
    )
    assert error(refused, 400) == {
        "code": "invalid",
        "message": "A public message needs confirmed customer impact.",
        "fields": {"body": ["Leave it empty until customer impact is confirmed."]},
    }


def test_opening_again_with_the_same_external_id_returns_the_first_incident(api) -> None:
    payload = {"title": "CPU high", "severity": "P3", "source": "grafana", "external_id": "a-17"}
    first = api.post(INCIDENTS, payload)
    again = api.post(INCIDENTS, {**payload, "title": "CPU still high"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["title"] == "CPU high"
    assert Incident.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "message", "fields"),
    [
        (
            {},
            "Some fields are not valid: severity, title.",
            {"title": ["This field is required."], "severity": ["This field is required."]},
        ),
        (
            {"title": "Down", "severity": "P9"},
            "Some fields are not valid: severity.",
            {"severity": ['"P9" is not valid: use one of P1, P2, P3, P4.']},
        ),
        (
            {"title": "  ", "severity": "P1"},
            "The incident cannot be opened.",
            {"title": ["Give the incident a customer-facing title, e.g. 'Payments delayed'."]},
        ),
        (
            {"title": "Down", "severity": "P1", "services": ["api"]},
            "Some fields are not valid: services.",
            {"services": ['Expected a dictionary of items but got type "list".']},
        ),
        (
            {"title": "Down", "severity": "P1", "services": {"api": "down", "dashboard": None}},
            "Some fields are not valid: services.",
            {
                "services": [
                    'api: "down" is not valid: use one of operational, under_maintenance, '
                    "degraded_performance, partial_outage, major_outage.",
                    "dashboard: This field may not be null.",
                ]
            },
        ),
        (
            {"title": "Down", "severity": "P1", "services": {"nope": "major_outage"}},
            "The incident cannot be opened.",
            {"services": ["Unknown service(s): nope. Use the slugs listed at /api/v1/services/."]},
        ),
        (
            {
                "title": "Down",
                "severity": "P1",
                "services": {"a\u0000b": "major_outage", "api": "major_outage", "x" * 51: "down"},
            },
            "Some fields are not valid: services.",
            {
                "services": [
                    "'a\\x00b': Null characters are not allowed.",
                    f"{'x' * 51}: Ensure this field has no more than 50 characters.",
                ]
            },
        ),
        (
            {"title": "Down", "severity": "P1", "regions": "eu"},
            "Some fields are not valid: regions.",
            {"regions": ['Expected a list of items but got type "str".']},
        ),
        (
            {"title": "Down", "severity": "P1", "regions": ["eu", ["us"]]},
            "Some fields are not valid: regions.",
            {"regions": ["Item 2: Not a valid string."]},
        ),
        (
            {"title": "Down", "severity": "P1", "regions": ["eu", "mars"]},
            "The incident cannot be opened.",
            {"regions": ["Unknown region(s): mars. Use the codes listed at /api/v1/regions/."]},
        ),
        (
            {"title": "Down", "severity": "P1", "impact_scope_pct": 150},
            "Some fields are not valid: impact_scope_pct.",
            {"impact_scope_pct": ["Ensure this value is less than or equal to 100."]},
        ),
        (
            {"title": "Down", "severity": "P1", "commander": "nobody@test.example"},
            "Some fields are not valid: commander.",
            {
                "commander": [
                    "There is no active user with the e-mail nobody@test.example in this tenant."
                ]
            },
        ),
        (
            {"title": "Down", "severity": "P1", "started_at": "2999-01-01T00:00:00Z"},
            "The incident cannot be opened.",
            {"started_at": ["An incident cannot start in the future."]},
        ),
        (
            {"title": "Down", "severity": "P1", "internal_title": "x" * 201},
            "Some fields are not valid: internal_title.",
            {"internal_title": ["Ensure this field has no more than 200 characters."]},
        ),
        (
            {"title": "Down", "severity": "P1", "service": {"api": "major_outage"}},
            "Some fields are not valid: service.",
            {
                "service": [
                    "Unknown field; this endpoint accepts title, severity, services, regions, "
                    "internal_title, impact_scope_pct, body, customer_impact_confirmed, "
                    "commander, started_at, source, external_id."
                ]
            },
        ),
    ],
    ids=[
        "missing",
        "bad-severity",
        "blank-title",
        "services-not-a-mapping",
        "bad-component-status",
        "unknown-service",
        "bad-service-slugs",
        "regions-not-a-list",
        "region-not-a-string",
        "unknown-region",
        "scope-over-100",
        "unknown-commander",
        "future-start",
        "long-internal-title",
        "unknown-field",
    ],
)
def test_invalid_input_is_refused_field_by_field(api, catalog, payload, message, fields) -> None:
    assert error(api.post(INCIDENTS, payload), 400) == {
        "code": "invalid",
        "message": message,
        "fields": fields,
    }
    assert not Incident.objects.exists()


def test_every_4xx_has_the_error_body_even_outside_the_documented_operations(
    api_key, catalog
) -> None:
    client = APIClient(HTTP_HOST=TEST_HOST)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    incident = open_incident()

    malformed = client.post(INCIDENTS, "{not json", content_type="application/json")
    assert error(malformed, 400)["code"] == "parse_error"
    form = client.post(INCIDENTS, {"title": "x"})  # multipart: not what the API speaks
    assert error(form, 415)["code"] == "unsupported_media_type"
    deleted = client.delete(f"{INCIDENTS}{incident.pk}/")
    assert error(deleted, 405) == {
        "code": "method_not_allowed",
        "message": 'Method "DELETE" not allowed.',
        "fields": {},
    }
    assert error(client.get(f"{INCIDENTS}abc/"), 404)["code"] == "not_found"


# --- list and read ------------------------------------------------------------------------


def test_incidents_are_listed_newest_first_and_filtered(api, catalog) -> None:
    now = timezone.now()
    old = open_incident(title="Old", severity="P3", started_at=now - timedelta(hours=3))
    services.incident_resolve(incident=old, body="Fixed.", **ALL_CLEAR, actor="pytest")
    eu = open_incident(
        title="EU only",
        severity="P1",
        services={"api": "major_outage"},
        regions=["eu"],
        started_at=now - timedelta(hours=2),
    )
    us = open_incident(title="US only", severity="P2", regions=["us"], started_at=now)
    everywhere = open_incident(
        title="Everywhere",
        severity="P2",
        customer_impact_confirmed=False,
        started_at=now - timedelta(hours=1),
    )

    def ids(query: str = "") -> list[int]:
        response = api.get(INCIDENTS + query)
        assert response.status_code == 200
        return [i["id"] for i in response.json()["results"]]

    assert ids() == [us.pk, everywhere.pk, eu.pk, old.pk]
    assert ids("?status=open") == [us.pk, everywhere.pk, eu.pk]
    assert ids("?status=resolved") == [old.pk]
    assert ids("?status=triage") == [everywhere.pk]
    assert ids("?severity=P2") == [us.pk, everywhere.pk]
    assert ids("?service=api") == [eu.pk]
    assert ids("?region=eu") == [everywhere.pk, eu.pk, old.pk]  # no region = every region
    assert ids("?status=open&severity=P1") == [eu.pk]
    assert error(api.get(INCIDENTS + "?status=broken&severity=P0"), 400) == {
        "code": "invalid",
        "message": "Some fields are not valid: severity, status.",
        "fields": {
            "status": ['"broken" is not a valid choice.'],
            "severity": ['"P0" is not a valid choice.'],
        },
    }


def test_a_page_of_incidents_costs_the_same_queries_for_one_or_many(api, catalog) -> None:
    commander = UserFactory()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(INCIDENTS).status_code == 200
        return len(captured)

    def add() -> None:
        parent = open_incident(
            services={"api": "major_outage"}, regions=["eu"], commander=commander
        )
        child = open_incident(services={"dashboard": "partial_outage"}, regions=["us"])
        services.incident_attach_child(child=child, parent=parent, actor="pytest")

    add()
    queries()  # the first use of a key also records when it was used
    one = queries()
    for _ in range(4):
        add()
    assert queries() == one


def test_an_incident_is_read_by_id_and_an_unknown_id_is_a_404(api, catalog) -> None:
    incident = open_incident(title="Payments delayed")
    assert api.get(f"{INCIDENTS}{incident.pk}/").json()["title"] == "Payments delayed"
    assert error(api.get(f"{INCIDENTS}987654321/"), 404) == {
        "code": "not_found",
        "message": "There is no incident #987654321 in this tenant.",
        "fields": {},
    }


# --- edit ---------------------------------------------------------------------------------


def test_descriptive_fields_are_edited(api, catalog) -> None:
    UserFactory(email="lead@test.example")
    incident = open_incident(regions=["eu"])

    response = api.patch(
        f"{INCIDENTS}{incident.pk}/",
        {
            "title": "Payments are slow",
            "internal_title": "Consumer lag",
            "impact_scope_pct": 12,
            "regions": ["us", "eu"],
            "commander": "lead@test.example",
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["internal_title"], body["impact_scope_pct"]) == (
        "Payments are slow",
        "Consumer lag",
        12,
    )
    assert (body["regions"], body["commander"]) == (["eu", "us"], "lead@test.example")
    changed = AuditEvent.objects.get(action="incident.changed")
    assert changed.actor_label == "API key Test suite"
    cleared = api.patch(f"{INCIDENTS}{incident.pk}/", {"commander": None, "regions": []})
    assert (cleared.json()["commander"], cleared.json()["regions"]) == (None, [])


def test_regrading_notes_why_and_tightens_the_cadence(api, catalog) -> None:
    incident = open_incident(severity="P3")  # P3: an update every 2 h
    response = api.patch(f"{INCIDENTS}{incident.pk}/", {"severity": "P1", "reason": "Spreading."})

    assert response.status_code == 200
    assert response.json()["severity"] == "P1"
    due = when(response.json()["next_update_due"])
    assert due is not None and due <= timezone.now() + timedelta(minutes=30)
    notes = api.get(f"{INCIDENTS}{incident.pk}/updates/").json()["results"]
    assert notes[0]["internal_note"] == "Severity changed from P3 to P1. Spreading."
    assert notes[0]["public"] is False


def test_downgrading_to_p4_stops_the_update_clock(api, catalog) -> None:
    incident = open_incident(severity="P1")
    assert incident.next_update_due is not None

    response = api.patch(f"{INCIDENTS}{incident.pk}/", {"severity": "P4", "reason": "Cosmetic."})

    assert response.status_code == 200
    assert response.json()["next_update_due"] is None
    assert response.json()["clocks"]["update_overdue"] is False


def test_the_assessment_stops_its_clock_and_an_unknown_eta_starts_the_outage_clock(
    api, catalog
) -> None:
    incident = open_incident()
    eta = timezone.now() + timedelta(hours=1)

    assessed = api.patch(
        f"{INCIDENTS}{incident.pk}/",
        {"root_cause_hypothesis": "A bad deploy.", "eta": eta.isoformat()},
    ).json()

    assert assessed["root_cause_hypothesis"] == "A bad deploy."
    assert when(assessed["eta"]) == eta
    assert assessed["assessed_at"] is not None
    assert assessed["clocks"]["assessment_due"] is None
    assert assessed["clocks"]["extended_since"] is None

    unknown = api.patch(f"{INCIDENTS}{incident.pk}/", {"eta": None}).json()
    assert unknown["eta"] is None
    since = when(unknown["clocks"]["extended_since"])
    assert since is not None and since > timezone.now() + timedelta(hours=3, minutes=59)


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        (
            {"status": "resolved"},
            {
                "status": [
                    "The status is not edited directly: post an update with a status (POST "
                    "/api/v1/incidents/{id}/updates/), or use resolve/, reopen/ or false-alarm/."
                ]
            },
        ),
        (
            {"services": {"api": "operational"}},
            {
                "services": [
                    "Affected services change through an update's component_changes (POST "
                    "/api/v1/incidents/{id}/updates/)."
                ]
            },
        ),
        ({"reason": "Because."}, {"reason": ["A reason goes with a new severity; send both."]}),
        ({"title": ""}, {"title": ["Give a title of 1-200 characters."]}),
        (
            {"regions": ["mars"]},
            {"regions": ["Unknown region(s): mars. Use the codes listed at /api/v1/regions/."]},
        ),
        (
            {"eta": "2001-01-01T00:00:00Z"},
            {"eta": ["2001-01-01 00:00 UTC is in the past; give a future time."]},
        ),
        (
            {"root_cause_hypothesis": ""},
            {
                "root_cause_hypothesis": [
                    "An assessment needs a root-cause hypothesis, an ETA or the share of "
                    "customers affected; give at least one."
                ]
            },
        ),
    ],
    ids=["status", "services", "reason", "title", "regions", "eta", "empty-assessment"],
)
def test_edits_that_cannot_be_made_are_refused(api, catalog, payload, fields) -> None:
    incident = open_incident(title="Payments delayed")
    assert error(api.patch(f"{INCIDENTS}{incident.pk}/", payload), 400)["fields"] == fields
    after = api.get(f"{INCIDENTS}{incident.pk}/").json()
    assert after["title"] == "Payments delayed"
    assert after["assessed_at"] is None and after["clocks"]["assessment_due"] is not None


def test_an_edit_is_all_or_nothing(api, catalog) -> None:
    incident = open_incident(title="Payments delayed", severity="P3")
    services.incident_resolve(incident=incident, body="Fixed.", **ALL_CLEAR, actor="pytest")

    response = api.patch(f"{INCIDENTS}{incident.pk}/", {"title": "Renamed", "severity": "P1"})

    assert error(response, 409) == {
        "code": "incident_resolved",
        "message": f"Incident #{incident.pk} is resolved; reopen it before you change its "
        "severity.",
        "fields": {},
    }
    incident.refresh_from_db()
    assert (incident.title, incident.severity) == ("Payments delayed", "P3")
    assert not AuditEvent.objects.filter(action="incident.changed").exists()


# --- updates ------------------------------------------------------------------------------


def test_an_update_moves_status_eta_cadence_and_components(api, catalog) -> None:
    incident = open_incident(services={"api": "major_outage"})
    eta = timezone.now() + timedelta(hours=2)
    promised = timezone.now() + timedelta(minutes=20)

    response = api.post(
        f"{INCIDENTS}{incident.pk}/updates/",
        {
            "body": "We found the cause and are rolling back.",
            "internal_note": "Deploy 4711 reverted.",
            "status": "identified",
            "eta": eta.isoformat(),
            "next_update_at": promised.isoformat(),
            "component_changes": {"api": "partial_outage", "dashboard": "degraded_performance"},
        },
    )

    assert response.status_code == 201
    update = response.json()
    assert (update["incident"], update["status"], update["public"]) == (
        incident.pk,
        "identified",
        True,
    )
    assert (update["internal_note"], update["deliver_notifications"]) == (
        "Deploy 4711 reverted.",
        True,
    )
    assert (when(update["eta"]), when(update["next_update_at"])) == (eta, promised)
    assert update["component_changes"] == [
        {
            "service": "api",
            "name": "Public API",
            "old_status": "major_outage",
            "new_status": "partial_outage",
        },
        {
            "service": "dashboard",
            "name": "Dashboard",
            "old_status": "operational",
            "new_status": "degraded_performance",
        },
    ]
    after = api.get(f"{INCIDENTS}{incident.pk}/").json()
    assert (after["status"], when(after["eta"]), when(after["next_update_due"])) == (
        "identified",
        eta,
        promised,
    )
    assert [(s["service"], s["component_status"]) for s in after["services"]] == [
        ("api", "partial_outage"),
        ("dashboard", "degraded_performance"),
    ]


def test_the_timeline_is_newest_first_with_internal_notes(api, catalog) -> None:
    incident = open_incident(body="We are investigating.")
    first = api.post(f"{INCIDENTS}{incident.pk}/updates/", {"internal_note": "Paging DB team."})
    second = api.post(
        f"{INCIDENTS}{incident.pk}/updates/",
        {"body": "Fix deployed.", "status": "monitoring", "deliver_notifications": False},
    )

    timeline = api.get(f"{INCIDENTS}{incident.pk}/updates/").json()

    assert timeline["count"] == 3
    assert [u["id"] for u in timeline["results"][:2]] == [second.json()["id"], first.json()["id"]]
    assert [(u["body"], u["internal_note"]) for u in timeline["results"]] == [
        ("Fix deployed.", ""),
        ("", "Paging DB team."),
        ("We are investigating.", ""),
    ]
    assert timeline["results"][0]["deliver_notifications"] is False
    assert api.get(f"{INCIDENTS}{incident.pk}/").json()["monitoring_at"] is not None


def test_an_absent_eta_is_kept_and_a_null_eta_means_unknown(api, catalog) -> None:
    eta = timezone.now() + timedelta(hours=1)
    incident = open_incident()
    services.incident_assess(incident=incident, eta=eta, actor="pytest")
    url = f"{INCIDENTS}{incident.pk}/updates/"

    kept = api.post(url, {"internal_note": "Still on it."}).json()
    assert when(kept["eta"]) == eta
    cleared = api.post(url, {"internal_note": "No idea any more.", "eta": None}).json()
    assert cleared["eta"] is None
    assert api.get(f"{INCIDENTS}{incident.pk}/").json()["eta"] is None


@pytest.mark.parametrize(
    ("confirmed", "payload", "message", "fields"),
    [
        (
            True,
            {},
            "The update cannot be posted.",
            {"body": ["Write a public message, an internal note, or both."]},
        ),
        (
            False,
            {"body": "We know."},
            "The update cannot be posted.",
            {
                "body": [
                    "Customer impact is not confirmed: confirm it before posting a public "
                    "message, or write an internal note instead."
                ]
            },
        ),
        (
            True,
            {"body": "All good.", "status": "resolved"},
            "The update cannot be posted.",
            {
                "status": [
                    "An update can move the incident to investigating, identified, monitoring. "
                    "Use resolve to resolve it."
                ]
            },
        ),
        (
            True,
            {"body": "Soon.", "next_update_at": "2001-01-01T00:00:00Z"},
            "The update cannot be posted.",
            {"next_update_at": ["2001-01-01 00:00 UTC is in the past; give a future time."]},
        ),
        (
            True,
            {"body": "Soon.", "next_update_at": "2999-01-01T00:00:00Z"},
            "The update cannot be posted.",
            {
                "next_update_at": [
                    "Customers of a P2 incident hear from us every 1 h: promise the next update "
                    "no later than {limit} UTC."
                ]
            },
        ),
        (
            True,
            {"body": "Soon.", "component_changes": {"nope": "operational"}},
            "The update cannot be posted.",
            {
                "component_changes": [
                    "Unknown service(s): nope. Use the slugs listed at /api/v1/services/."
                ]
            },
        ),
        (
            True,
            {"body": "Soon.", "component_changes": {"api\u0000": "operational"}},
            "Some fields are not valid: component_changes.",
            {"component_changes": ["'api\\x00': Null characters are not allowed."]},
        ),
        (
            True,
            {"body": "Soon.", "status": "fixed"},
            "Some fields are not valid: status.",
            {
                "status": [
                    '"fixed" is not valid: use one of triage, investigating, identified, '
                    "monitoring, resolved."
                ]
            },
        ),
    ],
    ids=[
        "empty",
        "unconfirmed",
        "resolved",
        "past",
        "promise-past-the-cadence",
        "unknown-service",
        "bad-service-slug",
        "unknown-status",
    ],
)
def test_updates_that_cannot_be_posted_are_refused(
    api, catalog, confirmed, payload, message, fields
) -> None:
    incident = open_incident(customer_impact_confirmed=confirmed)
    before = timezone.now()
    response = api.post(f"{INCIDENTS}{incident.pk}/updates/", payload)
    # The latest promise a refusal names is one cadence from the server's now (a minute may
    # turn during the request).
    expected = [
        {
            "code": "invalid",
            "message": message,
            "fields": {
                name: [
                    m.replace("{limit}", f"{now + timedelta(hours=1):%Y-%m-%d %H:%M}") for m in ms
                ]
                for name, ms in fields.items()
            },
        }
        for now in (before, timezone.now())
    ]
    assert error(response, 400) in expected
    assert api.get(f"{INCIDENTS}{incident.pk}/updates/").json()["count"] == 0


def test_a_resolved_incident_takes_no_updates(api, catalog) -> None:
    incident = open_incident()
    services.incident_resolve(incident=incident, body="Fixed.", **ALL_CLEAR, actor="pytest")
    response = api.post(f"{INCIDENTS}{incident.pk}/updates/", {"internal_note": "Late note."})
    assert error(response, 409) == {
        "code": "incident_resolved",
        "message": f"Incident #{incident.pk} is resolved; reopen it before you post an update.",
        "fields": {},
    }


def test_updates_of_an_unknown_incident_are_a_404(api) -> None:
    assert error(api.get(f"{INCIDENTS}987654321/updates/"), 404)["message"] == (
        "There is no incident #987654321 in this tenant."
    )


# --- state moves --------------------------------------------------------------------------


def test_confirming_impact_makes_the_incident_public_once(api, catalog) -> None:
    incident = open_incident(customer_impact_confirmed=False)
    url = f"{INCIDENTS}{incident.pk}/confirm-impact/"

    confirmed = api.post(url)

    assert confirmed.status_code == 200
    body = confirmed.json()
    assert (body["status"], body["customer_impact_confirmed"]) == ("investigating", True)
    assert body["impact_confirmed_at"] is not None and body["next_update_due"] is not None
    assert api.post(url).status_code == 200  # already confirmed: nothing more happens
    notes = api.get(f"{INCIDENTS}{incident.pk}/updates/").json()["results"]
    assert [n["internal_note"] for n in notes] == ["Customer impact confirmed."]


def test_resolving_needs_a_message_for_customers_and_closes_the_children(api, catalog) -> None:
    parent = open_incident(services={"api": "major_outage"})
    child = open_incident(services={"dashboard": "partial_outage"})
    services.incident_attach_child(child=child, parent=parent, actor="pytest")
    url = f"{INCIDENTS}{parent.pk}/resolve/"

    assert error(api.post(url, {}), 400) == {
        "code": "invalid",
        "message": "Tell customers it is resolved.",
        "fields": {
            "body": ["Write the resolution message customers will see."],
            "what_was_affected": [
                "Say what was affected, in customer terms (services, regions, who)."
            ],
            "root_cause": ["Give the brief root cause customers will read."],
            "what_we_fixed": ["Say what was fixed."],
            "prevention": ["Say what will prevent it from happening again."],
        },
    }
    resolved = api.post(url, {"body": "Payments flow again.", **ALL_CLEAR})

    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["children"]) == ("resolved", [child.pk])
    assert resolved.json()["resolved_at"] is not None
    assert resolved.json()["clocks"]["next_update_due"] is None
    assert api.get(f"{INCIDENTS}{child.pk}/").json()["status"] == "resolved"
    assert api.get("/api/v1/services/api/").json()["status"] == "operational"
    again = api.post(url, {"body": "Really."})
    assert error(again, 409)["message"].startswith(f"Incident #{parent.pk} is already resolved at")


def test_an_internal_incident_resolves_without_a_message(api, catalog) -> None:
    incident = open_incident(customer_impact_confirmed=False)
    response = api.post(f"{INCIDENTS}{incident.pk}/resolve/")
    assert response.status_code == 200
    assert response.json()["status"] == "resolved"


def test_a_false_alarm_is_closed_and_cannot_be_reopened(api, catalog) -> None:
    incident = open_incident(customer_impact_confirmed=False)

    response = api.post(f"{INCIDENTS}{incident.pk}/false-alarm/", {"note": "Flapping check."})

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["false_alarm"]) == ("resolved", True)
    notes = api.get(f"{INCIDENTS}{incident.pk}/updates/").json()["results"]
    assert notes[0]["internal_note"] == "False alarm. Flapping check."
    reopened = api.post(f"{INCIDENTS}{incident.pk}/reopen/", {"reason": "Hm."})
    assert error(reopened, 409) == {
        "code": "false_alarm",
        "message": "A false alarm cannot be reopened; open a new incident instead.",
        "fields": {},
    }


def test_a_resolved_incident_cannot_be_called_a_false_alarm(api, catalog) -> None:
    incident = open_incident()
    services.incident_resolve(incident=incident, body="Fixed.", **ALL_CLEAR, actor="pytest")
    response = api.post(f"{INCIDENTS}{incident.pk}/false-alarm/")
    assert error(response, 409)["message"] == (
        f"Incident #{incident.pk} is resolved; reopen it before you mark it a false alarm."
    )


def test_a_child_joins_its_parents_thread(api, catalog) -> None:
    parent = open_incident(title="Payments down")
    child = open_incident(title="Kafka lag")

    response = api.post(f"{INCIDENTS}{child.pk}/attach/", {"parent": parent.pk})

    assert response.status_code == 200
    assert response.json()["parent"] == parent.pk
    assert api.get(f"{INCIDENTS}{parent.pk}/").json()["children"] == [child.pk]
    assert api.post(f"{INCIDENTS}{child.pk}/attach/", {"parent": parent.pk}).status_code == 200


def test_attaching_is_refused_when_it_would_not_make_one_thread(api, catalog) -> None:
    top, middle, other = open_incident(), open_incident(), open_incident()
    services.incident_attach_child(child=middle, parent=top, actor="pytest")

    def refusal(child: Incident, parent: Any) -> dict[str, Any]:
        return error(api.post(f"{INCIDENTS}{child.pk}/attach/", {"parent": parent}), 400)

    assert refusal(other, other.pk) == {
        "code": "invalid",
        "message": "An incident cannot be its own parent.",
        "fields": {"parent": ["Choose another incident."]},
    }
    assert refusal(other, middle.pk)["fields"] == {
        "parent": [
            f"Incident #{middle.pk} is itself a child of #{top.pk}; attach to #{top.pk} instead."
        ]
    }
    assert refusal(top, other.pk)["fields"] == {
        "parent": [f"Incident #{top.pk} has children of its own; attach them to #{other.pk} first."]
    }
    assert refusal(other, 987654321)["fields"] == {
        "parent": ["There is no incident #987654321 in this tenant."]
    }
    assert refusal(other, "the big one")["fields"] == {
        "parent": ["Give the parent incident's id, a number."]
    }
    services.incident_resolve(incident=top, body="Fixed.", **ALL_CLEAR, actor="pytest")
    response = api.post(f"{INCIDENTS}{other.pk}/attach/", {"parent": top.pk})
    assert error(response, 409)["message"] == (
        f"Incident #{top.pk} is resolved; reopen it before you attach children to it."
    )


def test_a_confirmed_child_cannot_join_a_parent_in_triage(api, catalog) -> None:
    parent = open_incident(title="Errors", customer_impact_confirmed=False)
    child = open_incident(title="Payments down")

    response = api.post(f"{INCIDENTS}{child.pk}/attach/", {"parent": parent.pk})

    assert error(response, 400)["fields"] == {
        "parent": [
            f"Incident #{parent.pk} is in triage (customer impact not confirmed) and "
            f"#{child.pk} is confirmed: confirm customer impact on #{parent.pk} first."
        ]
    }
    assert api.get(f"{INCIDENTS}{child.pk}/").json()["parent"] is None


def test_a_child_is_detached_and_speaks_for_itself(api, catalog) -> None:
    parent = open_incident(title="Payments down")
    child = open_incident(title="Ledger lag", severity="P3")
    services.incident_attach_child(child=child, parent=parent, actor="pytest")

    response = api.post(f"{INCIDENTS}{child.pk}/detach/", {"reason": "A separate problem."})

    assert response.status_code == 200
    assert (response.json()["parent"], response.json()["status"]) == (None, "investigating")
    due = when(response.json()["next_update_due"])
    assert due is not None and abs(due - (timezone.now() + timedelta(hours=2))) < timedelta(
        seconds=10
    )
    assert api.get(f"{INCIDENTS}{parent.pk}/").json()["children"] == []
    notes = api.get(f"{INCIDENTS}{child.pk}/updates/").json()["results"]
    assert notes[0]["internal_note"] == (
        f"Detached from parent incident #{parent.pk}. A separate problem. Customers have not "
        "heard of it on its own yet: post an update."
    )
    assert AuditEvent.objects.get(action="incident.detached").actor_label == "API key Test suite"
    again = api.post(f"{INCIDENTS}{child.pk}/detach/")
    assert again.status_code == 200 and again.json()["parent"] is None


def test_a_false_alarm_on_a_parent_leaves_its_children_open_and_on_their_own(api, catalog) -> None:
    parent = open_incident(title="Errors everywhere", customer_impact_confirmed=False)
    child = open_incident(
        title="Dashboard down",
        customer_impact_confirmed=False,
        services={"dashboard": "major_outage"},
    )
    services.incident_attach_child(child=child, parent=parent, actor="pytest")

    assert api.post(f"{INCIDENTS}{parent.pk}/false-alarm/", {"note": "Probe."}).status_code == 200

    after = api.get(f"{INCIDENTS}{child.pk}/").json()
    assert (after["parent"], after["status"], after["false_alarm"]) == (None, "triage", False)
    assert api.get("/api/v1/services/dashboard/").json()["status"] == "major_outage"
    confirmed = api.post(f"{INCIDENTS}{child.pk}/confirm-impact/")
    assert confirmed.status_code == 200 and confirmed.json()["next_update_due"] is not None


def test_a_resolved_incident_is_reopened_with_a_reason(api, catalog) -> None:
    incident = open_incident()
    url = f"{INCIDENTS}{incident.pk}/reopen/"
    assert error(api.post(url, {"reason": "Back."}), 409) == {
        "code": "incident_open",
        "message": f"Incident #{incident.pk} is open; only a resolved incident can be reopened.",
        "fields": {},
    }
    services.incident_resolve(incident=incident, body="Fixed.", **ALL_CLEAR, actor="pytest")
    assert error(api.post(url, {}), 400)["fields"] == {"reason": ["This field is required."]}
    assert error(api.post(url, {"reason": " "}), 400) == {
        "code": "invalid",
        "message": "Say why it is reopened.",
        "fields": {"reason": ["Required."]},
    }

    response = api.post(url, {"reason": "Errors are back."})

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["resolved_at"]) == ("investigating", None)
    notes = api.get(f"{INCIDENTS}{incident.pk}/updates/").json()["results"]
    assert notes[0]["internal_note"] == "Reopened: Errors are back."
