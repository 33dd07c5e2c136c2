"""HubSpot sync, through hubspot-api-client against a local fake account: what support
staff see in customers, subscribers and the sync log after each run."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator

import pytest
from django.test import Client, override_settings

from apps.subscribers import selectors
from apps.subscribers.models import CrmConnection, CrmSyncLog, Customer, Subscriber
from apps.subscribers.services import (
    crm_connection_create,
    crm_connection_update,
    crm_sync,
    subscriber_unsubscribe,
)
from tests.conftest import TEST_HOST
from tests.factories import SubscriberFactory, UserFactory
from tests.subscribers.crm_fakes import FakeHubSpot


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _quick_retries() -> Iterator[None]:
    with override_settings(CLARION_CRM_RETRIES=2, CLARION_CRM_BACKOFF_SECONDS=0.01):
        yield


@pytest.fixture
def connection(tenant_db, regions, hubspot: FakeHubSpot) -> CrmConnection:
    with override_settings(DEBUG=True):  # the API's URL may name this machine
        return crm_connection_create(
            provider="hubspot",
            base_url=hubspot.url,
            credentials={"access_token": hubspot.token},
            mapping={"currency_field": "currency", "tier_values": {"Gold": "enterprise"}},
            actor="pytest",
        )


@pytest.fixture
def account(hubspot: FakeHubSpot) -> dict[str, str]:
    ids = {
        "acme": hubspot.company(
            "Acme", tier="Gold", region="eu", monthly_fee="990.5", currency="eur"
        ),
        "globex": hubspot.company("Globex", tier="business", region="apac"),
        "initech": hubspot.company("Initech"),
    }
    ids["ann"] = hubspot.contact("ann@acme.example", ids["acme"], firstname="Ann")
    ids["bob"] = hubspot.contact("bob@acme.example", ids["acme"], firstname="Bob")
    ids["gus"] = hubspot.contact("gus@globex.example", ids["globex"], firstname="Gus")
    ids["solo"] = hubspot.contact("solo@example.org", None, firstname="Solo")
    ids["quiet"] = hubspot.contact("quiet@acme.example", ids["acme"], status_updates="false")
    return ids


def later(fake: FakeHubSpot) -> None:
    fake.clock += dt.timedelta(minutes=30)


def receiving(email: str) -> bool:
    return selectors.subscribers_receiving().filter(email=email).exists()


def test_a_first_sync_pages_through_companies_and_contacts(connection, account, hubspot):
    log = crm_sync(connection=connection, actor="pytest")

    assert log.status == "ok", log.errors
    assert log.full
    assert log.summary == "3 customers created, 4 subscribers created"
    acme = Customer.objects.get(hubspot_company_id=account["acme"])
    assert (acme.name, acme.tier, acme.region.code) == ("Acme", "enterprise", "eu")
    assert (str(acme.monthly_fee), acme.currency) == ("990.50", "EUR")
    assert acme.external_key == f"hubspot-{account['acme']}"
    ann = Subscriber.objects.get(email="ann@acme.example")
    assert (ann.name, ann.customer, ann.source) == ("Ann", acme, "crm")
    assert receiving("ann@acme.example")
    assert Subscriber.objects.get(email="solo@example.org").customer is None
    assert not Subscriber.objects.filter(email="quiet@acme.example").exists()

    companies = hubspot.served("GET", "/crm/v3/objects/companies")
    assert [r.query.get("after") for r in companies] == [None, ["2"]]  # paging.next.after
    contacts = hubspot.served("GET", "/crm/v3/objects/contacts")
    assert len(contacts) == 3 and contacts[0].query["associations"] == ["companies"]


def test_the_next_sync_searches_only_what_changed_since_the_cursor(connection, account, hubspot):
    crm_sync(connection=connection, actor="pytest")
    connection.refresh_from_db()
    cursor = connection.last_synced_at
    later(hubspot)
    hubspot.update(account["globex"], tier="enterprise")
    hubspot.contact("nia@globex.example", account["globex"], firstname="Nia")
    hubspot.requests.clear()

    log = crm_sync(connection=connection, actor="pytest")

    assert not log.full and log.status == "ok", log.errors
    assert log.summary == "1 customer updated, 1 subscriber created"
    assert Customer.objects.get(hubspot_company_id=account["globex"]).tier == "enterprise"
    assert Subscriber.objects.get(email="nia@globex.example").customer.name == "Globex"
    searches = hubspot.served("POST")
    assert {r.path for r in searches} == {
        "/crm/v3/objects/companies/search",
        "/crm/v3/objects/contacts/search",
    }
    since = int((cursor - dt.timedelta(minutes=2)).timestamp() * 1000)
    for request in searches:
        (term,) = request.body["filterGroups"][0]["filters"]
        assert (term["operator"], term["value"]) == ("GTE", str(since))
    connection.refresh_from_db()
    assert connection.last_synced_at > cursor


def test_more_changes_than_a_search_returns_make_it_a_full_run(connection, account, hubspot):
    crm_sync(connection=connection, actor="pytest")
    later(hubspot)
    for n in range(3):
        hubspot.contact(f"new{n}@acme.example", account["acme"])

    hubspot.search_total = 12_000  # as many changes as a bulk import makes

    log = crm_sync(connection=connection, actor="pytest")

    assert log.full and log.status == "ok", log.errors
    assert "12000 HubSpot companies changed since" in log.errors
    assert "more than the 10000 a search returns: read everything instead" in log.errors
    assert Subscriber.objects.filter(email__startswith="new").count() == 3


def test_someone_who_unsubscribed_stays_unsubscribed(connection, account, hubspot):
    ann = SubscriberFactory(email="ann@acme.example")
    subscriber_unsubscribe(subscriber=ann, actor="pytest")

    log = crm_sync(connection=connection, actor="pytest")

    assert log.counts["subscribers_skipped_unsubscribed"] == 1
    ann.refresh_from_db()
    assert ann.unsubscribed_at is not None and not receiving("ann@acme.example")


def test_archived_companies_and_contacts_are_deactivated(connection, account, hubspot):
    crm_sync(connection=connection, actor="pytest")
    later(hubspot)
    hubspot.archive(account["globex"])
    hubspot.archive(account["bob"])

    log = crm_sync(connection=connection, actor="pytest")

    assert log.summary == "1 customer deactivated, 1 subscriber deactivated"
    assert not Customer.objects.get(hubspot_company_id=account["globex"]).active
    assert not receiving("gus@globex.example") and not receiving("bob@acme.example")
    assert Subscriber.objects.filter(email="bob@acme.example").exists()
    assert hubspot.served("GET", "/crm/v3/objects/companies")[-1].query["archived"] == ["True"]


def test_a_contact_unticking_the_opt_in_is_deactivated(connection, account, hubspot):
    crm_sync(connection=connection, actor="pytest")
    later(hubspot)
    hubspot.update(account["gus"], status_updates="false")

    log = crm_sync(connection=connection, actor="pytest")

    assert log.summary == "1 subscriber deactivated"
    assert not receiving("gus@globex.example")

    later(hubspot)
    hubspot.update(account["gus"], status_updates="true")
    assert crm_sync(connection=connection, actor="pytest").summary == "1 subscriber updated"
    assert receiving("gus@globex.example")


def test_a_revoked_token_fails_the_run_with_credentials_refused(connection, account, hubspot):
    hubspot.token = "pat-na1-revoked"

    log = crm_sync(connection=connection, actor="pytest")

    assert log.status == "failed"
    assert log.errors.startswith("credentials refused: HubSpot answered 401")
    assert "INVALID_AUTHENTICATION" in log.errors
    assert len(hubspot.served()) == 1
    assert not Customer.objects.exists()

    crm_connection_update(
        connection=connection, credentials={"access_token": "pat-na1-revoked"}, actor="pytest"
    )
    assert crm_sync(connection=connection, actor="pytest").status == "ok"


def test_a_503_and_a_429_are_retried(connection, account, hubspot):
    hubspot.fail_next(503, {"status": "error", "message": "Service Unavailable"}, match="after=2")
    hubspot.fail_next(
        429,
        {
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
        },
        match="contacts",
    )

    log = crm_sync(connection=connection, actor="pytest")

    assert log.status == "ok", log.errors
    assert log.counts["retries"] == 2
    assert log.summary == "3 customers created, 4 subscribers created, 2 calls retried"
    assert [r.status for r in hubspot.served("GET")].count(200) == 5


def test_a_malformed_record_is_rejected_and_the_rest_syncs(connection, account, hubspot):
    bad = hubspot.company("Umbrella", tier="Platinum")
    hubspot.company("Hooli", region="mars")
    hubspot.contact("not-an-address", account["acme"])

    log = crm_sync(connection=connection, actor="pytest")

    assert log.status == "partial"
    assert log.summary == "3 customers created, 4 subscribers created, 3 records rejected"
    assert f"Company {bad} (Umbrella): tier: Unknown tier 'Platinum' in tier" in log.errors
    assert "(Hooli): region: Unknown region 'mars' in region" in log.errors
    assert "(not-an-address): email: 'not-an-address' is not a valid e-mail address" in log.errors


def test_sync_now_in_the_admin(tenant_db, connection, account, hubspot) -> None:
    staff = Client(HTTP_HOST=TEST_HOST)
    staff.force_login(UserFactory(email="lead@test.example", is_superuser=True))

    response = staff.post(
        "/admin/subscribers/crmconnection/",
        {"action": "sync_now", "_selected_action": [connection.pk]},
        follow=True,
    )

    page = html.unescape(response.content.decode())
    assert "Full sync of HubSpot ok: 3 customers created, 4 subscribers created." in page
    assert CrmSyncLog.objects.get().started_by == "lead@test.example"
    assert hubspot.token not in page
