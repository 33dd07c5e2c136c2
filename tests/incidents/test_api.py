"""The incidents API as a whole: its OpenAPI description (every exchange these tests make is
checked against it by `tests.openapi.CheckedClient`), what a viewer key may do, and tenant
isolation of every endpoint."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.core.models import AuditEvent
from apps.core.services import apikey_create
from apps.incidents import services
from apps.incidents.models import Incident, MaintenanceWindow
from tests.conftest import OTHER_HOST, TEST_HOST
from tests.factories import ALL_CLEAR, RegionFactory, ServiceFactory, UserFactory
from tests.openapi import CheckedClient, _id, call, fill, management_operations, openapi

# The parts of /api/v1/ this app answers ("" is the API root); the other apps' round trips
# cover theirs.
RESOURCES = ("", "services", "regions", "incidents", "maintenances")

# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def api(api_key) -> CheckedClient:
    return CheckedClient(TEST_HOST, api_key[1])


@pytest.fixture
def viewer(tenant_db) -> CheckedClient:
    _, raw = apikey_create(name="Wallboard", role="viewer", actor="pytest")
    return CheckedClient(TEST_HOST, raw)


@pytest.fixture
def other_api(tenant_db, other_tenant) -> CheckedClient:
    """A responder key of the `other` tenant, on that tenant's host."""
    with tenant_context(other_tenant):
        _, raw = apikey_create(name="Other tenant", actor="pytest")
    return CheckedClient(OTHER_HOST, raw)


@pytest.fixture
def world(tenant_db) -> dict[str, Any]:
    """One object for every endpoint of the `test` tenant."""
    ServiceFactory(slug="api", name="Public API")
    RegionFactory(code="eu", name="Europe")
    incident = services.incident_open(
        title="Payments delayed",
        severity="P2",
        services={"api": "partial_outage"},
        regions=["eu"],
        body="We are looking into delayed payments.",
        actor="pytest",
    )
    second = services.incident_open(
        title="Slow dashboard", severity="P3", customer_impact_confirmed=False, actor="pytest"
    )
    child = services.incident_open(title="Ledger lag", severity="P3", actor="pytest")
    services.incident_attach_child(child=child, parent=incident, actor="pytest")
    resolved = services.incident_open(title="Old outage", severity="P4", actor="pytest")
    services.incident_resolve(incident=resolved, body="Fixed.", **ALL_CLEAR, actor="pytest")
    start = timezone.now() + timedelta(days=1)
    window = services.maintenance_schedule(
        title="Database upgrade",
        services=["api"],
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
        actor="pytest",
    )
    started = services.maintenance_schedule(
        title="Network change",
        services=["api"],
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        actor="pytest",
    )
    services.maintenance_start(window=started, actor="pytest")
    return {
        "service": "api",
        "region": "eu",
        "incident": incident.pk,
        "second": second.pk,
        "child": child.pk,
        "resolved": resolved.pk,
        "maintenance": window.pk,
        "started": started.pk,
        "start": (start + timedelta(days=1)).isoformat(),
        "end": (start + timedelta(days=1, hours=1)).isoformat(),
        "later": (start + timedelta(hours=5)).isoformat(),
        "moved_start": (start + timedelta(hours=1)).isoformat(),
        "moved_end": (start + timedelta(hours=3)).isoformat(),
    }


READS = [
    "/api/v1/services/",
    "/api/v1/services/{service}/",
    "/api/v1/regions/",
    "/api/v1/regions/{region}/",
    "/api/v1/incidents/",
    "/api/v1/incidents/{incident}/",
    "/api/v1/incidents/{incident}/updates/",
    "/api/v1/maintenances/",
    "/api/v1/maintenances/{maintenance}/",
    "/api/v1/maintenances/suggest/?duration_minutes=60",
]
DETAIL_READS = [p for p in READS if "{" in p]

CREATES = [
    (
        "post",
        "/api/v1/incidents/",
        {"title": "Login fails", "severity": "P1", "services": {"api": "major_outage"}},
    ),
    (
        "post",
        "/api/v1/maintenances/",
        {
            "title": "Cache upgrade",
            "services": ["api"],
            "scheduled_start": "{start}",
            "scheduled_end": "{end}",
        },
    ),
]
DETAIL_WRITES = [
    ("patch", "/api/v1/incidents/{incident}/", {"title": "Payments are delayed"}),
    ("post", "/api/v1/incidents/{incident}/updates/", {"internal_note": "Queue is backed up."}),
    ("post", "/api/v1/incidents/{second}/confirm-impact/", {}),
    ("post", "/api/v1/incidents/{incident}/resolve/", {"body": "Payments flow.", **ALL_CLEAR}),
    ("post", "/api/v1/incidents/{second}/false-alarm/", {"note": "A flapping check."}),
    ("post", "/api/v1/incidents/{second}/attach/", {"parent": "{incident}"}),
    ("post", "/api/v1/incidents/{child}/detach/", {"reason": "Unrelated after all."}),
    ("post", "/api/v1/incidents/{resolved}/reopen/", {"reason": "It is back."}),
    ("post", "/api/v1/maintenances/{maintenance}/start/", {}),
    ("post", "/api/v1/maintenances/{maintenance}/extend/", {"new_end": "{later}"}),
    (
        "post",
        "/api/v1/maintenances/{maintenance}/reschedule/",
        {"scheduled_start": "{moved_start}", "scheduled_end": "{moved_end}"},
    ),
    ("post", "/api/v1/maintenances/{maintenance}/updates/", {"body": "Half way."}),
    ("post", "/api/v1/maintenances/{started}/complete/", {}),
    ("post", "/api/v1/maintenances/{maintenance}/cancel/", {"reason": "Postponed."}),
]
WRITES = CREATES + DETAIL_WRITES


# --- the description ----------------------------------------------------------------------


def test_schema_generates_without_warnings_and_validates(db, tmp_path) -> None:
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "openapi.yaml")
    )
    assert "/api/v1/incidents/{id}/resolve/" in (tmp_path / "openapi.yaml").read_text()


def test_every_operation_documents_its_errors_with_the_error_body(tenant_db) -> None:
    document = openapi()
    operations = [
        op for op in management_operations(document, resources=RESOURCES) if op[0] != "/api/v1/"
    ]
    assert len(operations) == 26
    for template, method, operation in operations:
        responses = operation["responses"]
        assert "401" in responses, (method, template)
        if method != "get":
            assert "403" in responses, (method, template)
        if "{" in template:
            assert "404" in responses, (method, template)
        parameters = operation.get("parameters", [])
        filters = [p for p in parameters if p["in"] == "query" and p["name"] != "page"]
        if "requestBody" in operation or filters:
            assert "400" in responses, (method, template)
        for code, response in responses.items():
            if code.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, template)


def _concrete(template: str, world: dict[str, Any], *, missing: bool = False) -> str:
    if "{" not in template:
        return template + ("?page=999" if missing else "")
    kind = template.split("/")[3]
    value: Any = {
        "services": "no-such-service",
        "regions": "no-such-region",
        "incidents": 987654321,
        "maintenances": 987654321,
    }[kind]
    if not missing:
        value = {
            "services": world["service"],
            "regions": world["region"],
            "incidents": world["incident"],
            "maintenances": world["maintenance"],
        }[kind]
    return re.sub(r"\{[^}]+\}", str(value), template)


def test_every_documented_response_is_produced_and_matches_the_schema(
    world, api, viewer, tenant_db
) -> None:
    """The round trip: every documented (path, method, status) is produced by a real request
    here, and every response validates against its documented schema (CheckedClient)."""
    document = openapi()
    anonymous = CheckedClient(TEST_HOST)
    # Missing key, viewer key, unknown object (or page): every operation the same way.
    for template, method, operation in management_operations(document, resources=RESOURCES):
        responses = operation["responses"]
        assert call(anonymous, method, _concrete(template, world)).status_code == 401
        if "403" in responses:
            assert call(viewer, method, _concrete(template, world)).status_code == 403
        if "404" in responses:
            path = _concrete(template, world, missing=True)
            assert call(api, method, path).status_code == 404, path

    def expect(code: int, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = call(api, method, fill(path, world), fill(body, world))
        assert response.status_code == code, (method, path, response.json())
        return response.json()

    expect(200, "get", "/api/v1/")
    for path in READS:
        expect(200, "get", path)

    # incidents: open (and again, idempotently), re-grade, update, confirm, attach, ...
    opened = expect(
        201,
        "post",
        "/api/v1/incidents/",
        {"title": "Checkout errors", "severity": "P2", "source": "datadog", "external_id": "d-1"},
    )
    world["opened"] = opened["id"]
    assert opened["status"] == "triage"
    expect(
        200,
        "post",
        "/api/v1/incidents/",
        {"title": "x", "severity": "P2", "source": "datadog", "external_id": "d-1"},
    )
    expect(400, "post", "/api/v1/incidents/", {"title": "Checkout errors", "severity": "P9"})
    expect(400, "get", "/api/v1/incidents/?status=broken")
    expect(200, "patch", "/api/v1/incidents/{opened}/", {"severity": "P1", "reason": "Spreading."})
    expect(400, "patch", "/api/v1/incidents/{opened}/", {"status": "resolved"})
    expect(409, "patch", "/api/v1/incidents/{resolved}/", {"severity": "P1"})
    expect(400, "post", "/api/v1/incidents/{opened}/updates/", {"body": "Customers see this."})
    expect(201, "post", "/api/v1/incidents/{opened}/updates/", {"internal_note": "Checking."})
    expect(409, "post", "/api/v1/incidents/{resolved}/updates/", {"internal_note": "Late."})
    expect(200, "post", "/api/v1/incidents/{opened}/confirm-impact/")
    expect(409, "post", "/api/v1/incidents/{resolved}/confirm-impact/")
    expect(400, "post", "/api/v1/incidents/{opened}/attach/", {"parent": "{opened}"})
    expect(409, "post", "/api/v1/incidents/{resolved}/attach/", {"parent": "{second}"})
    expect(400, "post", "/api/v1/incidents/{opened}/attach/", {"parent": "{second}"})  # triage
    expect(200, "post", "/api/v1/incidents/{opened}/attach/", {"parent": "{incident}"})
    expect(400, "post", "/api/v1/incidents/{child}/detach/", {"reason": ["a", "list"]})
    expect(200, "post", "/api/v1/incidents/{child}/detach/", {"reason": "Unrelated."})
    expect(400, "post", "/api/v1/incidents/{incident}/resolve/", {})
    expect(200, "post", "/api/v1/incidents/{incident}/resolve/", {"body": "Flows.", **ALL_CLEAR})
    expect(409, "post", "/api/v1/incidents/{opened}/detach/", {})  # resolved with its parent
    expect(409, "post", "/api/v1/incidents/{incident}/resolve/", {"body": "Again."})
    expect(400, "post", "/api/v1/incidents/{incident}/reopen/", {"reason": " "})
    expect(409, "post", "/api/v1/incidents/{second}/reopen/", {"reason": "Never closed."})
    expect(200, "post", "/api/v1/incidents/{incident}/reopen/", {"reason": "Back again."})
    expect(400, "post", "/api/v1/incidents/{second}/false-alarm/", {"note": ["a", "list"]})
    expect(409, "post", "/api/v1/incidents/{resolved}/false-alarm/", {})
    expect(200, "post", "/api/v1/incidents/{second}/false-alarm/", {"note": "Flapping."})

    # maintenance: schedule, start, extend, note, complete; another cancelled
    expect(400, "get", "/api/v1/maintenances/?status=broken")
    expect(
        400,
        "post",
        "/api/v1/maintenances/",
        {
            "title": "Past",
            "services": ["api"],
            "scheduled_start": "2001-01-01T00:00:00Z",
            "scheduled_end": "2001-01-01T01:00:00Z",
        },
    )
    cancelled = expect(
        201,
        "post",
        "/api/v1/maintenances/",
        {
            "title": "Cache upgrade",
            "services": ["api"],
            "scheduled_start": "{start}",
            "scheduled_end": "{end}",
        },
    )
    world["cancelled"] = cancelled["id"]
    expect(400, "post", "/api/v1/maintenances/{cancelled}/cancel/", {"reason": ["a", "list"]})
    expect(200, "post", "/api/v1/maintenances/{cancelled}/cancel/", {"reason": "Postponed."})
    moved = {"scheduled_start": "{moved_start}", "scheduled_end": "{moved_end}"}
    for action in ("start", "extend", "reschedule", "complete", "updates"):
        body = {"extend": {"new_end": "{later}"}, "reschedule": moved}.get(action, {"body": "x"})
        expect(409, "post", f"/api/v1/maintenances/{{cancelled}}/{action}/", body)
    expect(
        400,
        "post",
        "/api/v1/maintenances/{maintenance}/reschedule/",
        {"scheduled_start": "{moved_end}", "scheduled_end": "{moved_start}"},
    )
    expect(200, "post", "/api/v1/maintenances/{maintenance}/reschedule/", moved)
    expect(400, "post", "/api/v1/maintenances/{maintenance}/start/", {"body": ["x"]})
    expect(200, "post", "/api/v1/maintenances/{maintenance}/start/", {"body": "Started."})
    expect(409, "post", "/api/v1/maintenances/{maintenance}/cancel/", {})
    expect(
        400, "post", "/api/v1/maintenances/{maintenance}/extend/", {"new_end": "2001-01-01T00:00Z"}
    )
    expect(200, "post", "/api/v1/maintenances/{maintenance}/extend/", {"new_end": "{later}"})
    expect(400, "post", "/api/v1/maintenances/{maintenance}/updates/", {"body": ""})
    expect(
        201,
        "post",
        "/api/v1/maintenances/{maintenance}/updates/",
        {"body": "Verifying.", "status": "verifying"},
    )
    expect(400, "post", "/api/v1/maintenances/{maintenance}/complete/", {"bodyy": "Done."})
    expect(200, "post", "/api/v1/maintenances/{maintenance}/complete/", {"body": "Done."})
    expect(400, "get", "/api/v1/maintenances/suggest/?duration_minutes=0")

    documented = {
        (template, method, code)
        for template, method, operation in management_operations(document, resources=RESOURCES)
        for code in operation["responses"]
    }
    produced = api.seen | viewer.seen | anonymous.seen
    assert documented - produced == set()
    assert produced <= documented


# --- roles --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", READS, ids=_id)
def test_a_viewer_key_reads_everything(world, viewer, path: str) -> None:
    assert viewer.get(fill(path, world)).status_code == 200


@pytest.mark.parametrize("case", WRITES, ids=_id)
def test_a_viewer_key_changes_nothing(world, viewer, case) -> None:
    method, path, body = case
    before = Incident.objects.count(), MaintenanceWindow.objects.count()
    response = call(viewer, method, fill(path, world), fill(body, world))
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "permission_denied",
            "message": "This API key is read-only (role viewer); use a responder or approver key.",
            "fields": {},
        }
    }
    assert (Incident.objects.count(), MaintenanceWindow.objects.count()) == before
    assert not AuditEvent.objects.filter(actor_label="API key Wallboard").exists()


@pytest.mark.parametrize("case", WRITES, ids=_id)
def test_a_responder_key_may_write(world, api, case) -> None:
    """The same calls a viewer is refused succeed for a responder, as the key's name."""
    method, path, body = case
    response = call(api, method, fill(path, world), fill(body, world))
    assert response.status_code in (200, 201), response.json()
    assert AuditEvent.objects.filter(actor_label="API key Test suite").exists()


# --- tenant isolation ---------------------------------------------------------------------


@pytest.mark.parametrize("path", DETAIL_READS, ids=_id)
def test_another_tenants_key_cannot_see_this_tenants_objects(world, other_api, path) -> None:
    response = other_api.get(fill(path, world))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["message"].endswith("in this tenant.")


@pytest.mark.parametrize(
    "path", ["/api/v1/services/", "/api/v1/regions/", "/api/v1/incidents/", "/api/v1/maintenances/"]
)
def test_another_tenants_lists_do_not_show_this_tenants_objects(world, other_api, path) -> None:
    response = other_api.get(path)
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize("case", DETAIL_WRITES, ids=_id)
def test_another_tenants_key_cannot_change_this_tenants_objects(
    world, tenant_db, other_api, case
) -> None:
    method, path, body = case
    response = call(other_api, method, fill(path, world), fill(body, world))
    assert response.status_code == 404
    connection.set_tenant(tenant_db)  # the request left the connection on the other tenant
    assert not AuditEvent.objects.filter(actor_label__startswith="API key").exists()
    incident = Incident.objects.get(pk=world["incident"])
    assert (incident.title, incident.status) == ("Payments delayed", "investigating")
    assert MaintenanceWindow.objects.get(pk=world["maintenance"]).status == "scheduled"


@pytest.mark.parametrize("case", CREATES, ids=_id)
def test_another_tenant_cannot_use_this_tenants_services(world, other_api, case) -> None:
    method, path, body = case
    response = call(other_api, method, path, fill(body, world))
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["services"] == [
        "Unknown service(s): api. Use the slugs listed at /api/v1/services/."
    ]


@pytest.mark.parametrize("case", [("get", p, None) for p in READS] + WRITES, ids=_id)
def test_this_tenants_key_is_unknown_on_another_tenants_host(world, api_key, case) -> None:
    method, path, body = case
    client = CheckedClient(OTHER_HOST, api_key[1])
    response = call(client, method, fill(path, world), fill(body, world))
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "authentication_failed",
            "message": "Unknown or revoked API key for this tenant.",
            "fields": {},
        }
    }


def test_slugs_codes_and_people_of_another_tenant_are_unknown_here(
    tenant_db, other_tenant, api
) -> None:
    ServiceFactory(slug="api")
    with tenant_context(other_tenant):
        ServiceFactory(slug="billing")
        RegionFactory(code="apac")
        UserFactory(email="lead@other.example")
    response = api.post(
        "/api/v1/incidents/",
        {
            "title": "Invoices late",
            "severity": "P2",
            "services": {"api": "degraded_performance", "billing": "major_outage"},
            "regions": ["apac"],
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "services": ["Unknown service(s): billing. Use the slugs listed at /api/v1/services/."],
        "regions": ["Unknown region(s): apac. Use the codes listed at /api/v1/regions/."],
    }
    response = api.post(
        "/api/v1/incidents/",
        {"title": "Invoices late", "severity": "P2", "commander": "lead@other.example"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "commander": ["There is no active user with the e-mail lead@other.example in this tenant."]
    }
    assert not Incident.objects.exists()
