"""In-app banners: who sees what inside the tenant's product."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.tenancy import current_schema
from apps.incidents.choices import Channel
from apps.incidents.models import SeverityPolicy
from apps.incidents.services import (
    incident_open,
    maintenance_schedule,
    maintenance_start,
    severity_policy_update,
)
from apps.statuspage import store
from apps.subscribers.models import Subscriber
from apps.subscribers.services import customer_upsert, subscriber_update
from tests.factories import CustomerFactory, RegionFactory, ServiceFactory, SubscriberFactory

ACTOR = "t"


@pytest.fixture
def setup(tenant_db, django_capture_on_commit_callbacks):
    eu, us = RegionFactory(code="eu"), RegionFactory(code="us")
    api = ServiceFactory(slug="api")
    ServiceFactory(slug="payments")
    customers = {
        "eu": CustomerFactory(external_key="eu-co", region=eu),
        "us": CustomerFactory(external_key="us-co", region=us),
        "anywhere": CustomerFactory(external_key="anywhere-co"),
        "api-only": CustomerFactory(external_key="api-co", region=eu),
    }
    SubscriberFactory(customer=customers["api-only"], subscription__services=[api])
    with django_capture_on_commit_callbacks(execute=True):
        incident_open(
            title="EU payments down",
            severity="P2",
            regions=["eu"],
            services={"payments": "major_outage"},
            body="Card payments fail in the EU.",
            actor=ACTOR,
        )
        incident_open(
            title="Global API slowness",
            severity="P3",
            services={"api": "degraded_performance"},
            body="The API is slow.",
            actor=ACTOR,
        )
        incident_open(
            title="Typo on the dashboard",
            severity="P4",  # P4: status page only
            services={"api": "degraded_performance"},
            body="A typo.",
            actor=ACTOR,
        )
        incident_open(
            title="Unconfirmed alert",
            severity="P1",
            source="alertmanager",
            services={"api": "major_outage"},
            actor=ACTOR,
        )
        now = timezone.now()
        soon = maintenance_schedule(
            title="Payments maintenance",
            services=["payments"],
            scheduled_start=now + timedelta(hours=3),
            scheduled_end=now + timedelta(hours=4),
            actor=ACTOR,
            customer_action="Retry failed payouts afterwards.",
        )
        maintenance_schedule(
            title="Next month's work",
            services=["api"],
            scheduled_start=now + timedelta(days=30),
            scheduled_end=now + timedelta(days=30, hours=1),
            actor=ACTOR,
        )
        running = maintenance_schedule(
            title="US API upgrade",
            services=["api"],
            regions=["us"],
            scheduled_start=now + timedelta(minutes=1),
            scheduled_end=now + timedelta(hours=1),
            actor=ACTOR,
        )
        maintenance_start(window=running, actor=ACTOR)
    return customers, soon


def titles(page, key: str | None) -> list[str]:
    url = "/api/v2/banner.json" + (f"?customer={key}" if key else "")
    response = page.get(url)
    assert response.status_code == 200 and response["Access-Control-Allow-Origin"] == "*"
    return sorted(b["title"] for b in response.json()["banners"])


def test_a_customer_sees_its_regions_incidents_global_ones_and_near_maintenance(page, setup):
    assert titles(page, "eu-co") == [
        "EU payments down",
        "Global API slowness",
        "Payments maintenance",
    ]
    assert titles(page, "us-co") == [
        "Global API slowness",
        "Payments maintenance",
        "US API upgrade",
    ]


def test_a_customer_without_a_region_sees_regional_banners_too(page, setup) -> None:
    assert "EU payments down" in titles(page, "anywhere-co")


def test_an_unknown_customer_sees_only_global_banners(page, setup) -> None:
    assert (
        titles(page, "nobody")
        == titles(page, None)
        == ["Global API slowness", "Payments maintenance"]
    )


def test_component_choices_narrow_the_banners(page, setup) -> None:
    assert titles(page, "api-co") == ["Global API slowness"]


def test_banner_fields(page, setup) -> None:
    body = page.get("/api/v2/banner.json?customer=eu-co").json()
    incident = next(
        b for b in body["banners"] if b["kind"] == "incident" and b["impact"] == "major"
    )
    assert incident["message"] == "Card payments fail in the EU."
    assert incident["url"].endswith(f"/incidents/{incident['id'].split('-')[1]}/")
    window = next(b for b in body["banners"] if b["kind"] == "maintenance")
    assert window["message"] == "Retry failed payouts afterwards." and window["scheduled_for"]


def test_the_widget_script_is_served_with_cors(page, tenant_db) -> None:
    response = page.get("/widget.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert b"/api/v2/banner.json" in response.content


# --- freshness: the cached banners follow the clock and the customer -----------------------


def test_a_window_shows_once_it_comes_within_a_day(
    page, setup, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    start = timezone.now() + timedelta(hours=25)
    with django_capture_on_commit_callbacks(execute=True):
        maintenance_schedule(
            title="Database upgrade",
            services=["api"],
            scheduled_start=start,
            scheduled_end=start + timedelta(hours=1),
            actor=ACTOR,
        )
    assert "Database upgrade" not in titles(page, "eu-co")  # cached now, 25 h ahead
    later = timezone.now() + timedelta(hours=1, minutes=5)
    with monkeypatch.context() as m:
        m.setattr(timezone, "now", lambda: later)  # nothing changed but the clock
        assert "Database upgrade" in titles(page, "eu-co")


def test_a_customers_new_region_shows_in_its_banners(
    page, setup, django_capture_on_commit_callbacks
) -> None:
    assert "EU payments down" in titles(page, "eu-co")
    with django_capture_on_commit_callbacks(execute=True):
        customer_upsert(external_key="eu-co", region="us", actor=ACTOR)
    assert titles(page, "eu-co") == [
        "Global API slowness",
        "Payments maintenance",
        "US API upgrade",
    ]


def test_a_subscriptions_new_services_show_in_the_banners(
    page, setup, django_capture_on_commit_callbacks
) -> None:
    assert titles(page, "api-co") == ["Global API slowness"]
    subscriber = Subscriber.objects.get(customer__external_key="api-co")
    with django_capture_on_commit_callbacks(execute=True):
        subscriber_update(subscriber=subscriber, services=["payments"], actor=ACTOR)
    assert titles(page, "api-co") == ["EU payments down", "Payments maintenance"]


def test_a_severity_policy_change_shows_in_the_banners(
    page, setup, django_capture_on_commit_callbacks
) -> None:
    assert "Typo on the dashboard" not in titles(page, None)
    policy = SeverityPolicy.objects.get(level="P4")
    with django_capture_on_commit_callbacks(execute=True):
        severity_policy_update(
            policy=policy, changes={"channels": [*policy.channels, Channel.IN_APP]}, actor=ACTOR
        )
    assert "Typo on the dashboard" in titles(page, None)


def test_subscriber_saves_banners_never_read_keep_them_cached(
    page, setup, django_capture_on_commit_callbacks
) -> None:
    """A webhook turned off, or a sign-up on the page (a subscriber of no customer), does
    not make every customer's banner render again (during an outage both are frequent)."""
    before = store.version_current(current_schema(), banners=True)
    subscriber = Subscriber.objects.get(customer__external_key="api-co")
    with django_capture_on_commit_callbacks(execute=True):
        subscriber.webhook_failures = 5  # as endpoint health saves it
        subscriber.save(update_fields=["webhook_failures"])
        SubscriberFactory(email="walk-in@example.com")
    assert store.version_current(current_schema(), banners=True) == before
    with django_capture_on_commit_callbacks(execute=True):
        subscriber_update(subscriber=subscriber, services=["payments"], actor=ACTOR)
    assert store.version_current(current_schema(), banners=True) > before


def test_a_customer_change_leaves_the_rest_of_the_page_cached(
    page, setup, django_capture_on_commit_callbacks, django_assert_max_num_queries
) -> None:
    page.get("/api/v2/summary.json")
    with django_capture_on_commit_callbacks(execute=True):
        customer_upsert(external_key="eu-co", region="us", actor=ACTOR)
    with django_assert_max_num_queries(2):  # host routing only: not rendered again
        page.get("/api/v2/summary.json")
