"""Credits in the portal (bulk approval, CSV for finance) and in Salesforce (a Task on the
account, through simple-salesforce against a local fake org: `salesforce` in conftest)."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client, override_settings

from apps.incidents import demo as incidents_demo
from apps.incidents.models import MaintenanceWindow
from apps.postmortems import demo
from apps.postmortems.models import PostIncidentReview, SlaCredit
from apps.postmortems.salesforce import credits_push_salesforce
from apps.postmortems.services import credits_approve, credits_compute, overrun_credits_compute
from apps.subscribers import demo as subscribers_demo
from apps.subscribers.services.crm import crm_connection_create
from tests.conftest import TEST_HOST
from tests.factories import CustomerFactory, UserFactory
from tests.postmortems.conftest import past_incident

ACTOR = "pytest"
JUNE = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def credits(catalog, policy) -> list[SlaCredit]:
    CustomerFactory(
        name="=HYPERLINK(evil)", tier="enterprise", monthly_fee=Decimal("1000"), currency="EUR"
    )
    CustomerFactory(
        name="Globex",
        tier="business",
        monthly_fee=Decimal("2500"),
        currency="USD",
        salesforce_account_id="0015g00000ABCDEAAA",
    )
    incident = past_incident(
        start=JUNE, end=JUNE + timedelta(hours=1), services={"payments": "major_outage"}
    )
    return credits_compute(incident=incident, actor=ACTOR)


@pytest.fixture
def admin(tenant_db) -> Client:
    client = Client(HTTP_HOST=TEST_HOST)
    client.force_login(UserFactory(is_superuser=True))
    return client


CHANGELIST = "/admin/postmortems/slacredit/"


def test_credits_are_approved_in_bulk_in_the_admin(admin, credits) -> None:
    ids = [str(c.pk) for c in credits]
    response = admin.post(
        CHANGELIST, {"action": "approve_selected", "_selected_action": ids}, follow=True
    )
    assert "2 credit(s) approved." in response.content.decode()
    assert set(SlaCredit.objects.values_list("state", flat=True)) == {"approved"}
    again = admin.post(
        CHANGELIST, {"action": "approve_selected", "_selected_action": ids}, follow=True
    )
    assert "0 credit(s) approved (2 were not proposed" in again.content.decode()


def test_credits_export_as_csv_safe_for_spreadsheets(admin, credits) -> None:
    response = admin.post(
        CHANGELIST,
        {"action": "export_csv", "_selected_action": [str(c.pk) for c in credits]},
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_currency = {r["currency"]: r for r in rows}
    assert by_currency["USD"]["amount"] == "250.00" and by_currency["USD"]["month"] == "2026-06"
    assert by_currency["EUR"]["customer"] == "'=HYPERLINK(evil)"  # never a formula


def test_an_approved_credit_becomes_a_task_on_the_salesforce_account_once(
    credits, salesforce
) -> None:
    with override_settings(DEBUG=True):  # the instance URL names this machine
        crm_connection_create(
            provider="salesforce",
            base_url=salesforce.url,
            credentials={"access_token": salesforce.token},
            actor=ACTOR,
        )
    credits_approve(credits=credits, actor=ACTOR)
    ids = [c.pk for c in credits]
    assert credits_push_salesforce(credit_ids=ids) == {"pushed": 1}  # one has an account
    assert credits_push_salesforce(credit_ids=ids) == {"pushed": 0}  # never twice
    [task] = salesforce.tasks
    assert task["WhatId"] == "0015g00000ABCDEAAA"
    assert task["Subject"] == "SLA credit USD 250.00 (June 2026)"
    assert "Globex" in task["Description"] and task["Status"] == "Completed"
    globex = SlaCredit.objects.get(customer__name="Globex")
    assert globex.salesforce_task_id == task["Id"]


def test_without_salesforce_nothing_is_pushed(credits) -> None:
    credits_approve(credits=credits, actor=ACTOR)
    assert credits_push_salesforce(credit_ids=[c.pk for c in credits]) == {"skipped": 2}


def test_the_demo_seeds_a_resolved_p1_with_a_public_review_and_credits(tenant_db) -> None:
    UserFactory(is_superuser=True)
    incidents_demo.seed()
    subscribers_demo.seed()
    demo.seed()
    demo.seed()  # idempotent
    review = PostIncidentReview.objects.get(incident__title=demo.TITLE)
    assert review.incident.severity == "P1" and review.incident.status == "resolved"
    assert review.status == "published" and review.visibility == "public"
    credits = SlaCredit.objects.filter(incident=review.incident)
    assert credits.count() > 2
    assert {"proposed", "approved"} <= set(credits.values_list("state", flat=True))
    body = Client(HTTP_HOST=TEST_HOST).get("/api/v2/incidents.json").json()["incidents"]
    [shown] = [i for i in body if i["name"] == demo.TITLE]
    assert (
        shown["status"] == "postmortem"
        and "Time out the replication-lag" in (shown["postmortem_body"])
    )
    assert "Paging the database on-call" not in shown["postmortem_body"]  # went badly: internal


@pytest.fixture
def overrun_credit(catalog, policy) -> SlaCredit:
    CustomerFactory(
        name="Globex",
        tier="business",
        monthly_fee=Decimal("2500"),
        currency="USD",
        salesforce_account_id="0015g00000ABCDEAAA",
    )
    window = MaintenanceWindow.objects.create(
        title="Database upgrade",
        scheduled_start=JUNE,
        scheduled_end=JUNE + timedelta(hours=1),
        actual_start=JUNE,
        actual_end=JUNE + timedelta(hours=4),
        status="completed",
        expected_impact="unavailable",
    )
    window.services.set([catalog["payments"]])
    [credit] = overrun_credits_compute(window=window, actor=ACTOR)
    return credit


def test_a_maintenance_overrun_credit_is_listed_approved_exported_and_pushed(
    admin, overrun_credit, salesforce
) -> None:
    window = overrun_credit.maintenance
    assert "Database upgrade" in admin.get(CHANGELIST, {"q": "Database upgrade"}).content.decode()
    approved = admin.post(
        CHANGELIST,
        {"action": "approve_selected", "_selected_action": [str(overrun_credit.pk)]},
        follow=True,
    )
    assert "1 credit(s) approved." in approved.content.decode()
    exported = admin.post(
        CHANGELIST, {"action": "export_csv", "_selected_action": [str(overrun_credit.pk)]}
    )
    [row] = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert (row["incident"], row["maintenance"], row["amount"]) == ("", str(window.pk), "250.00")
    with override_settings(DEBUG=True):  # the instance URL names this machine
        crm_connection_create(
            provider="salesforce",
            base_url=salesforce.url,
            credentials={"access_token": salesforce.token},
            actor=ACTOR,
        )
    assert credits_push_salesforce(credit_ids=[overrun_credit.pk]) == {"pushed": 1}
    [task] = salesforce.tasks
    assert (
        f"after the overrun of maintenance #{window.pk} (Database upgrade)" in (task["Description"])
    )
