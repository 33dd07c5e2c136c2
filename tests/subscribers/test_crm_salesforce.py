"""Salesforce sync, through simple-salesforce against a local fake org served over https:
what support staff see in customers, subscribers and the sync log after each run."""

from __future__ import annotations

import datetime as dt
import html
import json
import ssl
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import Group
from django.db import connection as db_connection
from django.db import connections
from django.test import Client, override_settings

from apps.core.exceptions import Conflict
from apps.core.models import AuditEvent
from apps.core.roles import VIEWER
from apps.integrations.outbound.salesforce.client import SalesforceClient
from apps.subscribers import selectors
from apps.subscribers.models import CrmConnection, CrmSyncLog, Customer, Subscriber
from apps.subscribers.services import (
    crm_connection_create,
    crm_connection_update,
    crm_sync,
    crm_sync_due,
    csv_import_customers,
    subscriber_delete,
    subscriber_unsubscribe,
)
from apps.subscribers.services.crm import crm_sync_lock_key
from tests.conftest import TEST_HOST
from tests.factories import SubscriberFactory, UserFactory
from tests.subscribers.crm_fakes import FakeSalesforce, make_certificate


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("salesforce-tls"))


@pytest.fixture
def salesforce(certificate, monkeypatch) -> Iterator[FakeSalesforce]:
    """The fake org on https://127.0.0.1:<port>. requests trusts its certificate the way a
    deployment trusts a private CA: REQUESTS_CA_BUNDLE."""
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    fake = FakeSalesforce()
    fake.start(context)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _quick_retries() -> Iterator[None]:
    with override_settings(CLARION_CRM_RETRIES=2, CLARION_CRM_BACKOFF_SECONDS=0.01):
        yield


@pytest.fixture
def connection(tenant_db, regions, salesforce: FakeSalesforce) -> CrmConnection:
    # DEBUG lets the instance URL name this machine, as on a developer's laptop.
    with override_settings(DEBUG=True):
        return crm_connection_create(
            provider="salesforce",
            base_url=salesforce.url,
            credentials={"access_token": salesforce.token},
            actor="pytest",
        )


@pytest.fixture
def org(salesforce: FakeSalesforce) -> dict[str, str]:
    """Three accounts (five records a query would page through 2 + 2 + 1) and their people."""
    ids = {
        "acme": salesforce.account(
            "Acme",
            Tier__c="Enterprise",
            Region__c="EU",
            Monthly_Fee__c=Decimal("1250.50"),
            CurrencyIsoCode="EUR",
        ),
        "globex": salesforce.account("Globex", Tier__c="Business", Region__c="United States"),
        "initech": salesforce.account("Initech", Tier__c=None, Region__c=None),
    }
    ids["ann"] = salesforce.contact(
        "Ann@Acme.example", ids["acme"], FirstName="Ann", LastName="Archer"
    )
    ids["bob"] = salesforce.contact("bob@acme.example", ids["acme"], FirstName="Bob")
    ids["gus"] = salesforce.contact("gus@globex.example", ids["globex"], FirstName="Gus")
    ids["ivy"] = salesforce.contact("ivy@initech.example", ids["initech"], FirstName="Ivy")
    ids["quiet"] = salesforce.contact("quiet@acme.example", ids["acme"], Status_Updates__c=False)
    ids["nomail"] = salesforce.contact(None, ids["globex"], FirstName="No mail")
    return ids


def later(fake: FakeSalesforce) -> None:
    """Let time pass in the org: what changes next is well after the cursor's overlap."""
    fake.clock += dt.timedelta(minutes=30)


def receiving(email: str) -> bool:
    return selectors.subscribers_receiving().filter(email=email).exists()


# --- a full run ---------------------------------------------------------------------------


def test_a_first_sync_brings_in_accounts_and_opted_in_contacts(connection, org, salesforce):
    log = crm_sync(connection=connection, actor="pytest")

    assert log.status == "ok", log.errors
    assert log.full
    assert log.counts == {"customers_created": 3, "subscribers_created": 4}
    assert log.summary == "3 customers created, 4 subscribers created"
    acme = Customer.objects.get(salesforce_account_id=org["acme"])
    assert (acme.name, acme.tier, acme.region.code) == ("Acme", "enterprise", "eu")
    assert (acme.monthly_fee, acme.currency, acme.active) == (Decimal("1250.50"), "EUR", True)
    assert acme.external_key == f"salesforce-{org['acme']}"
    globex = Customer.objects.get(salesforce_account_id=org["globex"])
    assert (globex.tier, globex.region.code) == ("business", "us")  # by the region's name
    initech = Customer.objects.get(salesforce_account_id=org["initech"])
    assert (initech.tier, initech.region) == ("standard", None)  # empty fields: defaults

    ann = Subscriber.objects.get(email="ann@acme.example")
    assert (ann.name, ann.customer, ann.source) == ("Ann Archer", acme, "crm")
    assert receiving("ann@acme.example") and receiving("gus@globex.example")
    assert not Subscriber.objects.filter(email="quiet@acme.example").exists()  # not opted in
    assert Subscriber.objects.count() == 4
    created = AuditEvent.objects.filter(action="subscriber.created", object_id=str(ann.pk))
    assert created.get().actor_label == "CRM sync (salesforce)"

    # 3 accounts and 4 qualifying contacts, two a page: nextRecordsUrl followed twice.
    assert len(salesforce.served("GET", "/query/01gFAKE")) == 2
    connection.refresh_from_db()
    # The newest modification read (the last contacts were left out: not opted in).
    assert connection.last_synced_at == salesforce.records["Contact"][org["ivy"]]["SystemModstamp"]
    assert connection.last_full_sync_at == log.started_at


def test_the_client_pages_with_a_session_of_the_callers(certificate, salesforce, org) -> None:
    session = requests.Session()
    session.verify = str(certificate[0])
    session.trust_env = False
    client = SalesforceClient(
        instance_url=salesforce.url, access_token=salesforce.token, session=session
    )
    page = client.query("SELECT Id, Name FROM Account")
    assert (page.total_size, len(page.records), page.next_records_url is not None) == (3, 2, True)
    last = client.query_more(page.next_records_url or "")
    assert [r["Name"] for r in page.records + last.records] == ["Acme", "Globex", "Initech"]
    assert last.next_records_url is None
    assert page.records[0]["attributes"]["type"] == "Account"


# --- incremental runs ---------------------------------------------------------------------


def test_the_next_sync_reads_only_what_changed_since_the_cursor(connection, org, salesforce):
    crm_sync(connection=connection, actor="pytest")
    connection.refresh_from_db()
    cursor = connection.last_synced_at
    later(salesforce)
    salesforce.update(org["globex"], Tier__c="Enterprise")
    salesforce.contact("new@globex.example", org["globex"], FirstName="Nia")
    salesforce.requests.clear()

    log = crm_sync(connection=connection, actor="pytest")

    assert log.status == "ok", log.errors
    assert not log.full
    assert log.summary == "1 customer updated, 1 subscriber created"
    assert "customers_unchanged" not in log.counts  # Acme and Initech were not read again
    assert log.counts["subscribers_unchanged"] == 1  # Ivy, at the cursor
    assert Customer.objects.get(salesforce_account_id=org["globex"]).tier == "enterprise"
    assert Subscriber.objects.get(email="new@globex.example").customer.name == "Globex"
    queries = [r.query["q"][0] for r in salesforce.served("GET") if "q" in r.query]
    assert len(queries) == 4  # accounts, contacts, deleted accounts, deleted contacts
    assert sum("IsDeleted = true" in q for q in queries) == 2
    assert len(salesforce.served("GET", "/queryAll/")) == 2  # the recycle bin too
    since = (cursor - dt.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all(f"SystemModstamp >= {since}" in q for q in queries), queries
    connection.refresh_from_db()
    assert connection.last_synced_at > cursor


def test_someone_who_unsubscribed_is_never_subscribed_again(connection, org, salesforce):
    gone = SubscriberFactory(email="ann@acme.example", source="self")
    subscriber_unsubscribe(subscriber=gone, actor="pytest")
    erased = SubscriberFactory(email="gus@globex.example")
    subscriber_unsubscribe(subscriber=erased, actor="pytest")
    subscriber_delete(subscriber=erased, actor="pytest")  # the suppression stays

    log = crm_sync(connection=connection, actor="pytest")

    assert log.counts["subscribers_skipped_unsubscribed"] == 2
    gone.refresh_from_db()
    assert gone.unsubscribed_at is not None and not receiving("ann@acme.example")
    assert not Subscriber.objects.filter(email="gus@globex.example").exists()

    later(salesforce)
    salesforce.update(org["ann"], LastName="Archer-Smith")
    log = crm_sync(connection=connection, actor="pytest")
    assert log.summary == "1 unsubscribed person skipped"
    gone.refresh_from_db()
    assert gone.unsubscribed_at is not None


def test_what_is_deleted_in_salesforce_is_deactivated_and_comes_back(connection, org, salesforce):
    crm_sync(connection=connection, actor="pytest")
    later(salesforce)
    salesforce.delete(org["globex"])
    salesforce.delete(org["bob"])

    log = crm_sync(connection=connection, actor="pytest")

    assert not log.full
    assert log.summary == "1 customer deactivated, 1 subscriber deactivated"
    globex = Customer.objects.get(salesforce_account_id=org["globex"])
    assert not globex.active
    assert not receiving("gus@globex.example")  # a person of an inactive customer
    bob = Subscriber.objects.get(email="bob@acme.example")  # kept, but hears nothing
    assert bob.confirmed_at is None and not receiving("bob@acme.example")
    assert AuditEvent.objects.filter(action="subscriber.deactivated", object_id=str(bob.pk))

    # Restored from the recycle bin: back as they were.
    salesforce.update(org["globex"], IsDeleted=False)
    salesforce.update(org["bob"], IsDeleted=False)
    log = crm_sync(connection=connection, actor="pytest")
    assert log.summary == "1 customer updated, 1 subscriber updated"
    assert Customer.objects.get(pk=globex.pk).active
    assert receiving("bob@acme.example") and receiving("gus@globex.example")


def test_a_full_sync_deactivates_what_it_no_longer_sees(connection, org, salesforce):
    crm_sync(connection=connection, actor="pytest")
    salesforce.update(org["gus"], Status_Updates__c=False)  # opted out in the CRM
    del salesforce.records["Account"][org["initech"]]  # purged from the recycle bin
    del salesforce.records["Contact"][org["ivy"]]

    log = crm_sync(connection=connection, actor="pytest", full=True)

    assert log.full and log.status == "ok", log.errors
    assert log.counts["customers_deactivated"] == 1
    assert log.counts["subscribers_deactivated"] == 2  # gus; ivy came from the sync too
    assert not Customer.objects.get(salesforce_account_id=org["initech"]).active
    assert not receiving("gus@globex.example")
    assert Customer.objects.count() == 3 and Subscriber.objects.count() == 4  # none deleted


def test_a_filter_that_selects_nothing_deactivates_nothing(connection, org, salesforce):
    crm_sync(connection=connection, actor="pytest")
    crm_connection_update(
        connection=connection,
        mapping={**connection.mapping, "account_filter": "Name = 'Nobody'"},
        actor="pytest",
    )

    log = crm_sync(connection=connection, actor="pytest")  # a changed mapping: a full run

    assert log.full and log.status == "partial"
    assert log.errors == (
        "Salesforce returned no accounts to sync, so none of the 3 synced before was "
        "deactivated; check the connection's filter and mapping."
    )
    assert Customer.objects.filter(active=True).count() == 3
    accounts = [r.query["q"][0] for r in salesforce.served("GET") if "FROM Account" in str(r.query)]
    assert accounts[-1].endswith("FROM Account WHERE (Name = 'Nobody')")


def test_a_subscriber_who_signed_up_alone_keeps_receiving_when_the_contact_goes(
    connection, org, salesforce
):
    SubscriberFactory(email="bob@acme.example", source="self")
    crm_sync(connection=connection, actor="pytest")
    assert Subscriber.objects.get(email="bob@acme.example").customer.name == "Acme"
    salesforce.delete(org["bob"])

    log = crm_sync(connection=connection, actor="pytest")

    assert log.counts.get("subscribers_deactivated", 0) == 0
    assert receiving("bob@acme.example")


# --- failures -----------------------------------------------------------------------------


def test_refused_credentials_stop_the_sync_and_say_so(connection, org, salesforce):
    salesforce.token = "another-token"

    log = crm_sync(connection=connection, actor="pytest")

    assert log.status == "failed"
    assert log.errors.startswith("credentials refused: Salesforce answered 401")
    assert "INVALID_SESSION_ID" in log.errors
    assert len(salesforce.served()) == 1  # not retried
    assert not Customer.objects.exists()
    connection.refresh_from_db()
    assert connection.last_synced_at is None


def test_a_503_is_retried_and_the_sync_resumes_at_that_page(connection, org, salesforce):
    body = [{"errorCode": "SERVER_UNAVAILABLE", "message": "Service temporarily unavailable"}]
    salesforce.fail_next(503, body, match="/query/01gFAKE")

    log = crm_sync(connection=connection, actor="pytest")

    assert log.status == "ok", log.errors
    assert log.counts["retries"] == 1
    assert log.counts["customers_created"] == 3 and log.counts["subscribers_created"] == 4
    statuses = [r.status for r in salesforce.served("GET", "/query/01gFAKE")]
    assert statuses[:2] == [503, 200]  # the same page again, not the whole query
    first_pages = [r for r in salesforce.served("GET") if r.path.endswith("/query/")]
    assert len(first_pages) == 2  # one query per object, not repeated


def test_a_timeout_is_retried(connection, org, salesforce):
    salesforce.slow_next(1.0, match="/query/?q=SELECT+Id%2C+AccountId")

    with override_settings(CLARION_CRM_TIMEOUT_SECONDS=0.3):
        log = crm_sync(connection=connection, actor="pytest")

    assert log.status == "ok", log.errors
    assert log.summary == "3 customers created, 4 subscribers created, 1 call retried"


def test_a_crm_that_keeps_failing_fails_the_run_after_the_bounded_retries(
    connection, org, salesforce
):
    salesforce.fail_next(503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "down"}], times=9)

    log = crm_sync(connection=connection, actor="pytest")

    assert log.status == "failed"
    assert "Salesforce answered 503" in log.errors and "gave up after 3 attempts" in log.errors
    assert len(salesforce.served()) == 3
    connection.refresh_from_db()
    assert connection.last_synced_at is None and connection.last_full_sync_at is None


def test_a_malformed_record_is_rejected_with_its_reason_and_the_rest_syncs(
    connection, org, salesforce
):
    bad = salesforce.account("Umbrella", Tier__c="Platinum")
    salesforce.contact("ula@umbrella.example", bad)
    salesforce.contact("not an address", org["acme"], FirstName="Typo")

    log = crm_sync(connection=connection, actor="pytest")

    assert log.status == "partial"
    assert log.counts["rejected"] == 3
    assert log.counts["customers_created"] == 3 and log.counts["subscribers_created"] == 4
    lines = log.errors.splitlines()
    assert f"Account {bad} (Umbrella): tier: Unknown tier 'Platinum' in Tier__c" in lines[0]
    assert any(
        "Contact" in line and "'not an address' is not a valid e-mail" in line for line in lines
    )
    assert any(f"Its account {bad} is not in Clarion" in line for line in lines)
    assert not Customer.objects.filter(name="Umbrella").exists()
    connection.refresh_from_db()
    assert connection.last_synced_at is not None  # fixed upstream, it is read again


def test_a_mapping_naming_a_missing_field_fails_with_salesforces_reason(
    connection, org, salesforce
):
    connection.mapping = {**connection.mapping, "tier_field": "Service_Level__c"}
    connection.save()

    log = crm_sync(connection=connection, actor="pytest")

    assert log.status == "failed"
    assert "No such column 'Service_Level__c' on entity 'Account'" in log.errors
    assert "check the field mapping" in log.errors


# --- one at a time, on schedule -----------------------------------------------------------


def test_a_second_sync_while_one_runs_is_refused_at_once(connection, org, salesforce):
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # another worker, holding the connection's lock
            cursor.execute(
                "SELECT pg_advisory_lock(hashtextextended(%s, 0))",
                [crm_sync_lock_key(connection)],
            )
        started = time.monotonic()
        with pytest.raises(Conflict, match="sync is already running"):
            crm_sync(connection=connection, actor="pytest")
        assert time.monotonic() - started < 1
        assert crm_sync_due() == 0  # the schedule leaves it alone
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(hashtextextended(%s, 0))",
                [crm_sync_lock_key(connection)],
            )
    finally:
        other.close()
    assert not salesforce.served()
    assert not CrmSyncLog.objects.exists()

    assert crm_sync(connection=connection, actor="pytest").status == "ok"


def test_the_schedule_syncs_each_connection_at_most_every_interval(connection, org, salesforce):
    assert crm_sync_due() == 1
    assert crm_sync_due() == 0
    log = CrmSyncLog.objects.get()
    assert log.started_by == "schedule"
    log.started_at -= dt.timedelta(minutes=61)
    log.save()

    assert crm_sync_due() == 1
    connection.enabled = False
    connection.save()
    CrmSyncLog.objects.update(started_at=log.started_at)
    assert crm_sync_due() == 0


# --- the admin ----------------------------------------------------------------------------


@pytest.fixture
def staff(tenant_db) -> Client:
    client = Client(HTTP_HOST=TEST_HOST)
    client.force_login(UserFactory(email="lead@test.example", is_superuser=True))
    return client


def page_text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.content.decode())


def test_sync_now_in_the_admin_runs_the_sync_and_shows_the_counts(
    staff, connection, org, salesforce
):
    change = f"/admin/subscribers/crmconnection/{connection.pk}/change/"
    page = page_text(staff.get(change))
    assert "Sync now" in page and "An access token is stored." in page
    assert salesforce.token not in page

    response = staff.post(f"/admin/subscribers/crmconnection/{connection.pk}/sync/", follow=True)

    page = page_text(response)
    assert "Full sync of Salesforce ok: 3 customers created, 4 subscribers created." in page
    logs = page_text(staff.get("/admin/subscribers/crmsynclog/"))
    assert "3 customers created, 4 subscribers created" in logs
    log = CrmSyncLog.objects.get()
    assert staff.get(f"/admin/subscribers/crmsynclog/{log.pk}/change/").status_code == 200
    assert staff.get("/admin/subscribers/crmsynclog/add/").status_code == 403

    salesforce.token = "revoked"
    page = page_text(
        staff.post(f"/admin/subscribers/crmconnection/{connection.pk}/sync/", follow=True)
    )
    assert "Sync of Salesforce failed: nothing changed. credentials refused:" in page


def test_a_viewer_reads_the_connection_and_its_logs_but_cannot_sync(
    tenant_db, connection, org, salesforce
) -> None:
    crm_sync(connection=connection, actor="pytest")
    user = UserFactory(email="viewer@test.example")
    user.groups.add(Group.objects.get(name=VIEWER))
    viewer = Client(HTTP_HOST=TEST_HOST)
    viewer.force_login(user)

    page = viewer.get(f"/admin/subscribers/crmconnection/{connection.pk}/change/")
    assert page.status_code == 200
    assert "Sync now" not in page_text(page) and salesforce.token not in page_text(page)
    assert viewer.get("/admin/subscribers/crmsynclog/").status_code == 200
    sync = viewer.post(f"/admin/subscribers/crmconnection/{connection.pk}/sync/")
    assert sync.status_code == 403
    assert CrmSyncLog.objects.count() == 1


def test_credentials_entered_in_the_admin_are_stored_encrypted_and_never_shown(
    staff, regions
) -> None:
    response = staff.post(
        "/admin/subscribers/crmconnection/add/",
        {
            "provider": "salesforce",
            "enabled": "on",
            "base_url": "https://acme.my.salesforce.com",
            "sync_interval_minutes": "30",
            "mapping": json.dumps(
                {"tier_field": "Level__c", "tier_values": {"Gold": "enterprise"}}
            ),
            "access_token": "00D5g000004SECRET!AQ",
            "domain": "",
        },
    )
    assert response.status_code == 302, page_text(response)
    connection = CrmConnection.objects.get()
    assert connection.mapping["tier_field"] == "Level__c"
    assert connection.mapping["region_field"] == "Region__c"  # defaults fill the rest
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM subscribers_crmconnection")
        (stored,) = cursor.fetchone()
    assert "SECRET" not in stored
    page = page_text(staff.get(f"/admin/subscribers/crmconnection/{connection.pk}/change/"))
    assert "SECRET" not in page and "An access token is stored." in page

    # Saving the form again without a token keeps the stored one.
    response = staff.post(
        f"/admin/subscribers/crmconnection/{connection.pk}/change/",
        {
            "enabled": "on",
            "base_url": "https://acme.my.salesforce.com",
            "sync_interval_minutes": "30",
            "mapping": json.dumps(connection.mapping),
            "access_token": "",
        },
    )
    assert response.status_code == 302, page_text(response)
    connection.refresh_from_db()
    assert json.loads(connection.credentials) == {"access_token": "00D5g000004SECRET!AQ"}

    refused = page_text(
        staff.post(
            "/admin/subscribers/crmconnection/add/",
            {
                "provider": "hubspot",
                "enabled": "on",
                "base_url": "http://10.0.0.5",
                "sync_interval_minutes": "60",
                "mapping": json.dumps({"tier_values": {"Gold": "platinum"}}),
            },
        )
    )
    assert "Give the private app's access token" in refused
    assert "must start with https://" in refused
    assert "Unknown tier(s) platinum" in refused


# --- ids ----------------------------------------------------------------------------------


def test_a_customer_entered_with_a_15_character_id_is_the_account_salesforce_returns(
    connection, salesforce
):
    # Salesforce shows 15-character ids in its pages; its API answers with 18.
    account = salesforce.account("Acme", Tier__c="Enterprise", Id="0015g00000AbCdEAAV")
    salesforce.contact("ann@acme.example", account, FirstName="Ann")
    report = csv_import_customers(
        "external_key,name,tier,salesforce_account_id\nacme,Acme,enterprise,0015g00000AbCdE\n",
        actor="pytest",
    )
    assert report.applied, report.rows
    ann = SubscriberFactory(email="ann@acme.example", customer=Customer.objects.get())

    log = crm_sync(connection=connection, actor="pytest")

    assert log.status == "ok", log.errors
    assert "customers_created" not in log.counts
    acme = Customer.objects.get()  # not a second customer
    assert (acme.external_key, acme.salesforce_account_id) == ("acme", "0015g00000AbCdEAAV")
    ann.refresh_from_db()
    assert ann.customer == acme
