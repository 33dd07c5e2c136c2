"""/api/v1/services/ and /api/v1/regions/: what a tenant runs, with each service's status."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.incidents import services
from tests.conftest import TEST_HOST
from tests.factories import RegionFactory, ServiceFactory, ServiceGroupFactory
from tests.openapi import CheckedClient


@pytest.fixture
def api(api_key) -> CheckedClient:
    return CheckedClient(TEST_HOST, api_key[1])


def test_services_show_their_group_regions_and_current_status(api) -> None:
    group = ServiceGroupFactory(name="Payments")
    eu, us = RegionFactory(code="eu", name="Europe"), RegionFactory(code="us", name="US")
    checkout = ServiceFactory(slug="checkout", name="Checkout", group=group, position=1)
    checkout.regions.set([us, eu])
    ServiceFactory(slug="invoices", name="Invoices", group=group, position=2)
    ServiceFactory(slug="search", name="Search", group=None)
    # Not confirmed yet, so customers still see operational; staff see the outage.
    services.incident_open(
        title="Checkout slow",
        severity="P3",
        services={"checkout": "partial_outage"},
        customer_impact_confirmed=False,
        actor="pytest",
    )
    start = timezone.now() + timedelta(minutes=1)
    window = services.maintenance_schedule(
        title="Invoice run",
        services=["invoices"],
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        actor="pytest",
    )
    services.maintenance_start(window=window, actor="pytest")

    response = api.get("/api/v1/services/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    by_slug = {s["slug"]: s for s in body["results"]}
    assert {slug: s["status"] for slug, s in by_slug.items()} == {
        "checkout": "partial_outage",
        "invoices": "under_maintenance",
        "search": "operational",
    }
    checkout_json = by_slug["checkout"]
    assert checkout_json["group"] == "Payments"
    assert checkout_json["regions"] == ["eu", "us"]
    assert checkout_json["name"] == "Checkout"
    assert by_slug["search"]["group"] is None
    assert by_slug["search"]["regions"] == []


def test_a_page_of_services_costs_the_same_queries_for_one_or_many(api) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/api/v1/services/").status_code == 200
        return len(captured)

    eu = RegionFactory(code="eu")
    ServiceFactory(slug="one").regions.set([eu])
    queries()  # the first use of a key also records when it was used
    one = queries()
    for n in range(5):
        ServiceFactory(slug=f"more-{n}").regions.set([eu])
    assert queries() == one


def test_a_service_is_found_by_its_slug(api) -> None:
    ServiceFactory(slug="checkout", name="Checkout")
    response = api.get("/api/v1/services/checkout/")
    assert response.status_code == 200
    assert response.json()["name"] == "Checkout"
    assert response.json()["status"] == "operational"


def test_an_unknown_service_slug_is_a_404_with_the_error_body(api) -> None:
    response = api.get("/api/v1/services/nope/")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "There is no service 'nope' in this tenant.",
            "fields": {},
        }
    }


def test_regions_are_listed_and_found_by_code(api) -> None:
    RegionFactory(code="eu", name="Europe", time_zone="Europe/Paris")
    RegionFactory(code="apac", name="Asia Pacific", time_zone="Asia/Singapore")

    listed = api.get("/api/v1/regions/").json()
    assert [r["code"] for r in listed["results"]] == ["apac", "eu"]
    assert api.get("/api/v1/regions/eu/").json() == {
        "code": "eu",
        "name": "Europe",
        "time_zone": "Europe/Paris",
    }
    missing = api.get("/api/v1/regions/mars/")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "There is no region 'mars' in this tenant."
