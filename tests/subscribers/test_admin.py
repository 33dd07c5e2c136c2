"""Customers, subscribers, segments and suppressions in the tenant admin: what staff see,
and what their clicks and uploads change."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from apps.accounts.models import User
from apps.core.models import AuditEvent
from apps.core.roles import VIEWER
from apps.subscribers.models import CrmConnection, Customer, Subscriber, Suppression
from apps.subscribers.services import subscriber_unsubscribe
from tests.conftest import TEST_HOST
from tests.factories import CustomerFactory, SegmentFactory, SubscriberFactory, UserFactory

CUSTOMERS = "/admin/subscribers/customer/"
SUBSCRIBERS = "/admin/subscribers/subscriber/"
SEGMENTS = "/admin/subscribers/segment/"
SUPPRESSIONS = "/admin/subscribers/suppression/"


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def rows(page: str) -> list[str]:
    return re.findall(r"<tr[^>]*>.*?</tr>", page, flags=re.S)


@pytest.fixture
def admin_user(tenant_db) -> User:
    return UserFactory(email="lead@test.example", is_superuser=True)


@pytest.fixture
def staff(admin_user) -> Client:
    client = Client(HTTP_HOST=TEST_HOST)
    client.force_login(admin_user)
    return client


def upload(content: str, name: str = "list.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


# --- lists --------------------------------------------------------------------------------


def test_customers_are_searched_and_filtered(staff, regions) -> None:
    CustomerFactory(name="Acme", external_key="acme", tier="enterprise", region=regions["eu"])
    CustomerFactory(
        name="Globex",
        external_key="globex",
        tier="standard",
        salesforce_account_id="0015g00000AbCdEAAV",
    )
    SubscriberFactory(customer=Customer.objects.get(external_key="acme"))

    page = text(staff.get(CUSTOMERS, {"tier": "enterprise"}))
    assert "Acme" in page and "Globex" not in page
    page = text(staff.get(CUSTOMERS, {"q": "0015g00000AbCdEAAV"}))
    assert "Globex" in page and "Acme" not in page
    page = text(staff.get(CUSTOMERS))
    acme_row = next(r for r in rows(page) if "acme" in r)
    assert re.search(r'field-subscriber_count">1<', acme_row)
    assert 'href="/admin/subscribers/customer/import/"' in page


def test_a_crm_linked_customer_shows_its_synced_fields_read_only(staff, regions) -> None:
    """The CRM sync replaces name, tier, region, fee and currency on every run: the page
    says where to change them instead of taking an edit the next sync would undo."""
    acme = CustomerFactory(
        name="Acme",
        external_key="acme",
        tier="enterprise",
        region=regions["eu"],
        salesforce_account_id="001000000000001AAA",
    )
    page = text(staff.get(f"{CUSTOMERS}{acme.pk}/change/"))
    assert 'name="tier"' in page  # no CRM connection: staff own these fields
    CrmConnection.objects.create(provider="salesforce")
    page = text(staff.get(f"{CUSTOMERS}{acme.pk}/change/"))
    assert "come from Salesforce (account 001000000000001AAA)" in page
    assert 'name="tier"' not in page and 'name="region"' not in page
    assert 'name="time_zone"' in page  # Clarion's own fields stay editable
    response = staff.post(
        f"{CUSTOMERS}{acme.pk}/change/",
        {
            "time_zone": "Europe/Paris",
            "locale": "fr",
            "salesforce_account_id": "001000000000001AAA",
            "hubspot_company_id": "",
            "active": "on",
        },
    )
    assert response.status_code == 302, text(response)
    acme.refresh_from_db()
    assert (acme.time_zone, acme.tier, acme.region, acme.name) == (
        "Europe/Paris",
        "enterprise",
        regions["eu"],
        "Acme",
    )


def test_subscribers_are_filtered_by_state_and_channel_and_show_their_region(
    staff, regions
) -> None:
    eu_customer = CustomerFactory(name="Acme", region=regions["eu"])
    SubscriberFactory(name="Annika Zed", customer=eu_customer, phone="+14155550100")
    SubscriberFactory(name="Pending Pete", unconfirmed=True)
    gone = SubscriberFactory(name="Gone Gail")
    subscriber_unsubscribe(subscriber=gone, actor="pytest")

    page = text(staff.get(SUBSCRIBERS, {"state": "pending"}))
    assert "Pending Pete" in page and "Annika Zed" not in page and "Gone Gail" not in page
    page = text(staff.get(SUBSCRIBERS, {"reachable": "sms"}))
    assert "Annika Zed" in page and "Pending Pete" not in page
    page = text(staff.get(SUBSCRIBERS, {"q": "acme"}))
    ann_row = next(r for r in rows(page) if "Annika Zed" in r)
    assert "Europe (customer&#x27;s)" in ann_row or "Europe (customer's)" in ann_row
    page = text(staff.get(SUBSCRIBERS))
    assert "unknown (gets every region)" in page


# --- forms save through the use-cases -----------------------------------------------------


def test_adding_a_subscriber_shows_the_services_refusal_next_to_the_field(staff, services) -> None:
    form = {
        "name": "Ann",
        "email": "Ann@Example.com",
        "phone": "555-0100",
        "time_zone": "",
        "locale": "",
        "webhook_url": "",
        "slack_webhook_url": "",
        "teams_webhook_url": "",
        "all_services": "on",
        "channels": ["email", "sms"],
        "kinds": ["incidents"],
    }
    response = staff.post(f"{SUBSCRIBERS}add/", form)
    assert response.status_code == 200
    page = text(response)
    assert "'555-0100' is not a phone number: give it in international format" in page
    assert not Subscriber.objects.exists()

    response = staff.post(
        f"{SUBSCRIBERS}add/", {**form, "phone": "+1 415 555 0100", "confirmed": "on"}
    )
    assert response.status_code == 302
    ann = Subscriber.objects.get()
    assert (ann.email, ann.phone, ann.confirmed) == ("ann@example.com", "+14155550100", True)
    assert ann.subscription.kinds == ["incidents"]
    audit = AuditEvent.objects.get(action="subscriber.created")
    assert audit.actor_label == "lead@test.example"


def test_editing_a_subscriber_changes_its_subscription(staff, services) -> None:
    ann = SubscriberFactory(name="Ann", email="ann@example.com")
    page = text(staff.get(f"{SUBSCRIBERS}{ann.pk}/change/"))
    assert "receiving" in page
    response = staff.post(
        f"{SUBSCRIBERS}{ann.pk}/change/",
        {
            "name": "Ann Smith",
            "email": "ann@example.com",
            "phone": "",
            "time_zone": "Europe/Paris",
            "locale": "fr",
            "webhook_url": "",
            "slack_webhook_url": "",
            "teams_webhook_url": "",
            "services": [services["api"].pk],
            "channels": ["email"],
            "kinds": ["incidents", "maintenance"],
        },
    )
    assert response.status_code == 302, text(response)
    ann.refresh_from_db()
    assert (ann.name, ann.time_zone, ann.locale) == ("Ann Smith", "Europe/Paris", "fr")
    assert ann.subscription.all_services is False
    assert [s.slug for s in ann.subscription.services.all()] == ["api"]


def test_bulk_actions_confirm_pending_people_but_not_the_unsubscribed(staff) -> None:
    pending = SubscriberFactory(name="Pete", unconfirmed=True)
    gone = SubscriberFactory(name="Gail")
    subscriber_unsubscribe(subscriber=gone, actor="pytest")
    response = staff.post(
        SUBSCRIBERS,
        {"action": "confirm", "_selected_action": [pending.pk, gone.pk]},
        follow=True,
    )
    page = text(response)
    assert "Confirm: 1 subscriber(s)." in page
    assert "only they can subscribe again" in page
    pending.refresh_from_db()
    gone.refresh_from_db()
    assert pending.confirmed and gone.unsubscribed_at is not None


def test_staff_see_a_webhook_turned_off_and_turn_it_back_on(staff) -> None:
    hooked = SubscriberFactory(
        name="Hooked",
        webhook_url="https://hooks.example.net/acme",
        webhook_disabled_at=timezone.now(),
        webhook_disabled_reason="5 deliveries failed in a row; last: HTTP 410.",
        webhook_failures=5,
    )
    plain = SubscriberFactory(name="Plain", email="plain@example.com")
    page = text(staff.get(f"{SUBSCRIBERS}{hooked.pk}/change/"))
    assert "Turned off since" in page and "last: HTTP 410." in page
    assert "Turned off since" not in text(staff.get(f"{SUBSCRIBERS}{plain.pk}/change/"))
    response = staff.post(
        SUBSCRIBERS,
        {"action": "turn_webhook_back_on", "_selected_action": [hooked.pk, plain.pk]},
        follow=True,
    )
    page = text(response)
    assert "Turn webhook back on: 1 subscriber(s)." in page
    assert f"Subscriber #{plain.pk} has no webhook endpoint to turn on." in page
    hooked.refresh_from_db()
    assert (hooked.webhook_disabled_at, hooked.webhook_failures) == (None, 0)
    assert AuditEvent.objects.get(action="subscriber.webhook_enabled").actor_label == (
        "lead@test.example"
    )
    assert "Delivering." in text(staff.get(f"{SUBSCRIBERS}{hooked.pk}/change/"))


def test_a_segment_page_shows_how_many_it_selects_now(staff, regions) -> None:
    big = CustomerFactory(tier="enterprise")
    for n in range(3):
        SubscriberFactory(name=f"Big {n}", customer=big)
    SubscriberFactory(name="Small", customer=CustomerFactory(tier="standard"))
    segment = SegmentFactory(name="Enterprise", tiers=["enterprise"])

    page = text(staff.get(f"{SEGMENTS}{segment.pk}/change/"))
    assert "3 subscriber(s)" in page
    assert "Big 0" in page and "Small" not in page
    listing = text(staff.get(SEGMENTS))
    assert "tiers: enterprise" in listing


def test_a_suppression_is_added_normalised_and_lifted_with_an_audit_entry(staff) -> None:
    response = staff.post(
        f"{SUPPRESSIONS}add/",
        {"channel": "email", "address": " Bounce@Example.COM ", "reason": "bounced", "note": ""},
    )
    assert response.status_code == 302
    suppression = Suppression.objects.get()
    assert suppression.address == "bounce@example.com"
    response = staff.post(f"{SUPPRESSIONS}{suppression.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Suppression.objects.exists()
    assert AuditEvent.objects.filter(action="suppression.removed").exists()


# --- CSV import ---------------------------------------------------------------------------


def test_a_dry_run_import_shows_the_report_and_changes_nothing(staff, regions) -> None:
    content = "external_key,name,tier,region\nacme,Acme,enterprise,eu\nglobex,Globex,,us\n"
    response = staff.post(f"{CUSTOMERS}import/", {"file": upload(content), "dry_run": "on"})
    page = text(response)
    assert "Dry run, nothing was changed. The file would apply: 2 added" in page
    assert page.count("would be added") == 2
    assert not Customer.objects.exists()

    response = staff.post(f"{CUSTOMERS}import/", {"file": upload(content)})
    assert "Imported customers: 2 added, 0 updated, 0 unchanged, 0 rejected." in text(response)
    assert set(Customer.objects.values_list("external_key", flat=True)) == {"acme", "globex"}


def test_an_import_with_bad_rows_lists_them_and_applies_nothing(staff, services) -> None:
    content = (
        "email,phone,services\nann@example.com,,api\nbob@,,api\ncarol@example.com,555,mainframe\n"
    )
    response = staff.post(
        f"{SUBSCRIBERS}import/", {"file": upload(content), "skip_confirmation": "on"}
    )
    page = text(response)
    assert "Nothing was imported: 2 of 3 rows were rejected" in page
    report = re.search(r'<table class="clarion-report".*?</table>', page, flags=re.S).group(0)
    assert [re.sub(r"<[^>]+>", "|", r).split("|")[2:7:2] for r in rows(report)[1:]] == [
        ["2", "ann@example.com", "would be added"],
        ["3", "bob@", "rejected"],
        ["4", "carol@example.com", "rejected"],
    ]
    assert (
        "phone: &#x27;555&#x27; is not a phone number" in page
        or "phone: '555' is not a phone number" in page
    )
    assert "services: Unknown service(s): mainframe." in page
    assert not Subscriber.objects.exists()


def test_a_file_too_large_or_missing_is_refused_by_the_form(staff) -> None:
    response = staff.post(f"{CUSTOMERS}import/", {})
    assert "This field is required." in text(response)


def test_a_viewer_can_read_the_lists_but_not_import(tenant_db) -> None:
    user = UserFactory(email="viewer@test.example")
    user.groups.add(Group.objects.get(name=VIEWER))
    client = Client(HTTP_HOST=TEST_HOST)
    client.force_login(user)
    page = client.get(CUSTOMERS)
    assert page.status_code == 200
    assert "import/" not in text(page)
    response = client.post(f"{CUSTOMERS}import/", {"file": upload("external_key,name\na,A\n")})
    assert response.status_code == 403
    assert not Customer.objects.exists()
