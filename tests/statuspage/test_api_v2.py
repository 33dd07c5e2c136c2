"""Statuspage v2-compatible JSON: same paths, field names and enums; nothing internal."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.statuspage import views

PATHS = [
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
]
PAGE_FIELDS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_FIELDS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "start_date",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
}
INCIDENT_FIELDS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "impact",
    "shortlink",
    "started_at",
    "page_id",
    "incident_updates",
    "components",
}
UPDATE_FIELDS = {
    "id",
    "status",
    "body",
    "incident_id",
    "created_at",
    "updated_at",
    "display_at",
    "affected_components",
    "deliver_notifications",
    "custom_tweet",
    "tweet_id",
}
COMPONENT_STATUSES = {
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
IMPACTS = {"none", "minor", "major", "critical", "maintenance"}


@pytest.mark.parametrize("path", PATHS)
def test_every_endpoint_carries_the_page_block_cors_and_validators(page, world, path) -> None:
    response = page.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["ETag"] and response["Last-Modified"]
    assert "max-age" in response["Cache-Control"]
    body = response.json()
    assert set(body["page"]) == PAGE_FIELDS
    assert body["page"]["id"] == "test" and body["page"]["name"] == "Test Tenant"


@pytest.mark.parametrize("path", PATHS)
def test_nothing_internal_ever_appears(page, world, path) -> None:
    text = page.get(path).content.decode()
    assert "SECRET" not in text  # internal titles, internal notes, triage incidents


def test_summary_has_components_groups_incidents_maintenance_and_status(page, world) -> None:
    body = page.get("/api/v2/summary.json").json()
    components = {c["id"]: c for c in body["components"]}
    for component in components.values():
        assert set(component) >= COMPONENT_FIELDS
        assert component["status"] in COMPONENT_STATUSES
    assert components["payments"]["status"] == "major_outage"
    assert components["api"]["status"] == "under_maintenance"  # triage does not count
    core = next(c for c in components.values() if c["name"] == "Core")
    assert core["group"] is True and set(core["components"]) == {"api", "payments"}
    assert core["status"] == "major_outage"
    assert components["payments"]["group_id"] == core["id"]
    assert [i["name"] for i in body["incidents"]] == ["Payments failing"]
    assert {m["name"] for m in body["scheduled_maintenances"]} == {
        "API maintenance",
        "Search upgrade",
    }
    assert body["status"] == {"indicator": "critical", "description": "Major System Outage"}


def test_incident_shape_and_enums(page, world) -> None:
    incidents = page.get("/api/v2/incidents.json").json()["incidents"]
    assert {i["name"] for i in incidents} == {"Slow search", "Payments failing"}
    assert [i["created_at"] for i in incidents] == sorted(
        (i["created_at"] for i in incidents), reverse=True
    )
    for incident in incidents:
        assert set(incident) >= INCIDENT_FIELDS
        assert incident["status"] in INCIDENT_STATUSES and incident["impact"] in IMPACTS
        for update in incident["incident_updates"]:
            assert set(update) == UPDATE_FIELDS
    p1 = next(i for i in incidents if i["name"] == "Payments failing")
    assert p1["impact"] == "critical" and p1["status"] == "identified"
    assert [u["status"] for u in p1["incident_updates"]] == ["identified", "investigating"]
    assert p1["incident_updates"][1]["affected_components"] == [
        {
            "code": "payments",
            "name": "Payments",
            "old_status": "operational",
            "new_status": "major_outage",
        }
    ]
    assert p1["shortlink"].endswith(f"/incidents/{world['p1'].pk}/")
    old = next(i for i in incidents if i["name"] == "Slow search")
    assert old["status"] == "resolved" and old["resolved_at"] and old["impact"] == "minor"


def test_unresolved_lists_only_open_incidents(page, world) -> None:
    names = [i["name"] for i in page.get("/api/v2/incidents/unresolved.json").json()["incidents"]]
    assert names == ["Payments failing"]


def test_maintenance_lists(page, world) -> None:
    def names(path: str) -> list[str]:
        return [m["name"] for m in page.get(path).json()["scheduled_maintenances"]]

    assert names("/api/v2/scheduled-maintenances/active.json") == ["API maintenance"]
    assert names("/api/v2/scheduled-maintenances/upcoming.json") == ["Search upgrade"]
    everything = page.get("/api/v2/scheduled-maintenances.json").json()
    for window in everything["scheduled_maintenances"]:
        assert window["status"] in MAINTENANCE_STATUSES and window["impact"] == "maintenance"
        assert window["scheduled_for"] and window["scheduled_until"]


def test_status_without_anything_is_all_operational(page) -> None:
    body = page.get("/api/v2/status.json").json()
    assert body["status"] == {"indicator": "none", "description": "All Systems Operational"}


def test_304_when_the_client_copy_is_current(page, world) -> None:
    first = page.get("/api/v2/summary.json")
    again = page.get("/api/v2/summary.json", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    since = page.get("/api/v2/summary.json", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert since.status_code == 304
    assert page.get("/api/v2/summary.json", HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_unknown_tenant_host_is_404(db) -> None:
    from django.test import Client

    assert Client(HTTP_HOST="ghost.localhost").get("/api/v2/summary.json").status_code == 404


def test_incidents_and_maintenances_carry_the_components_json_objects(page, world) -> None:
    """As Statuspage's API: an incident's or a window's components are the component objects
    themselves, in their current status, not the status the incident gave them."""
    current = {c["id"]: c for c in page.get("/api/v2/components.json").json()["components"]}
    summary = page.get("/api/v2/summary.json").json()
    incidents = page.get("/api/v2/incidents.json").json()["incidents"]
    windows = page.get("/api/v2/scheduled-maintenances.json").json()["scheduled_maintenances"]
    for item in [*incidents, *windows, *summary["incidents"], *summary["scheduled_maintenances"]]:
        assert item["components"], item["name"]
        for component in item["components"]:
            assert component == current[component["id"]], item["name"]
    old = next(i for i in incidents if i["name"] == "Slow search")
    search = old["components"][0]
    assert search["status"] == "operational"  # resolved; it said degraded_performance
    assert search["group_id"] is not None and set(search) >= COMPONENT_FIELDS
    upcoming = next(w for w in windows if w["name"] == "Search upgrade")
    assert upcoming["components"] == [current["search"]]


def test_the_summary_and_the_home_page_read_the_component_statuses_once(world) -> None:
    """Their incidents, maintenances and component list share one read of every service's
    current status (rendered once per change, but a page of 50 services is a page)."""
    for build in (views.build_summary, views.build_home):
        with CaptureQueriesContext(connection) as ctx:
            build()
        status_reads = [
            q["sql"]
            for q in ctx.captured_queries
            if q["sql"].startswith('SELECT "incidents_incidentservice"."service_id" AS')
        ]
        assert len(status_reads) == 1, build.__name__
