"""CSV import of customers and subscribers: a file applies fully, or the report says
exactly which rows did not and why, and nothing is changed."""

from __future__ import annotations

from decimal import Decimal

from apps.core.models import AuditEvent
from apps.subscribers.models import Customer, Subscriber
from apps.subscribers.services import (
    csv_import_customers,
    csv_import_subscribers,
    subscriber_unsubscribe,
)
from tests.factories import CustomerFactory, SubscriberFactory

CUSTOMERS = """external_key,name,tier,region,monthly_fee,active
acme,Acme Corp,enterprise,eu,4999.00,yes
globex,Globex,business,us,,
initech,Initech,,,,no
"""


def outcomes(report) -> list[tuple[int, str, str]]:
    return [(r.row, r.key, r.outcome) for r in report.rows]


def test_a_clean_file_applies_fully(tenant_db, regions) -> None:
    report = csv_import_customers(CUSTOMERS.encode(), actor="pytest")

    assert report.applied and report.ok
    assert outcomes(report) == [
        (2, "acme", "added"),
        (3, "globex", "added"),
        (4, "initech", "added"),
    ]
    assert report.summary == "Imported customers: 3 added, 0 updated, 0 unchanged, 0 rejected."
    acme = Customer.objects.get(external_key="acme")
    assert (acme.tier, acme.region.code, acme.monthly_fee) == ("enterprise", "eu", Decimal("4999"))
    initech = Customer.objects.get(external_key="initech")
    assert (initech.tier, initech.region, initech.active) == ("standard", None, False)
    assert AuditEvent.objects.get(action="customers.imported").details == {
        "rows": 3,
        "added": 3,
        "updated": 0,
        "unchanged": 0,
    }


def test_existing_rows_are_updated_and_empty_cells_keep_their_value(tenant_db, regions) -> None:
    CustomerFactory(external_key="acme", name="Acme", tier="standard", region=regions["eu"])
    CustomerFactory(external_key="globex", name="Globex", tier="business")
    report = csv_import_customers(
        "external_key,name,tier,region\nacme,,enterprise,\nglobex,Globex,,\n", actor="pytest"
    )
    assert outcomes(report) == [(2, "acme", "updated"), (3, "globex", "unchanged")]
    acme = Customer.objects.get(external_key="acme")
    assert (acme.name, acme.tier, acme.region.code) == ("Acme", "enterprise", "eu")


def test_one_bad_row_applies_nothing_and_the_report_names_every_problem(tenant_db, regions) -> None:
    CustomerFactory(external_key="acme", name="Acme", tier="standard")
    content = (
        "external_key,name,tier,region,monthly_fee,active\n"
        "acme,Acme,enterprise,eu,,\n"
        "globex,Globex,gold,mars,12.5.0,maybe\n"
        "initech,,,,,\n"
        "umbrella,Umbrella,business,us,100,\n"
        "acme,Acme again,,,,\n"
    )
    report = csv_import_customers(content, actor="pytest")

    assert not report.applied
    assert outcomes(report) == [
        (2, "acme", "updated"),
        (3, "globex", "rejected"),
        (4, "initech", "rejected"),
        (5, "umbrella", "added"),
        (6, "acme", "rejected"),
    ]
    rejected = {r.row: r.errors for r in report.rows if r.outcome == "rejected"}
    assert rejected[3] == {
        "tier": ["Unknown tier 'gold': use one of enterprise, business, standard."],
        "region": ["Unknown region 'mars'. Use the codes listed at /api/v1/regions/."],
        "monthly_fee": ["'12.5.0' is not an amount such as 1250.00."],
        "active": ["'maybe' is not yes or no (true/false, 1/0)."],
    }
    assert rejected[4] == {"name": ["Give the customer's name."]}
    assert rejected[6] == {"external_key": ["Row 2 has the same external_key; give each one once."]}
    assert report.summary.startswith("Nothing was imported: 3 of 5 rows were rejected")
    # Nothing happened: neither the good rows nor their audit entries.
    assert list(Customer.objects.values_list("external_key", "tier")) == [("acme", "standard")]
    assert not AuditEvent.objects.filter(action__startswith="customer").exists()


def test_a_dry_run_reports_what_would_happen_and_changes_nothing(tenant_db, regions) -> None:
    report = csv_import_customers(CUSTOMERS, actor="pytest", dry_run=True)
    assert report.ok and not report.applied
    assert [r.outcome for r in report.rows] == ["added", "added", "added"]
    assert report.summary == (
        "Dry run, nothing was changed. The file would apply: 3 added, 0 updated, 0 unchanged, "
        "0 rejected."
    )
    assert not Customer.objects.exists()


def test_an_excel_file_with_a_bom_and_semicolons_is_read(tenant_db) -> None:
    content = "\ufeffExternal Key;Name;Monthly fee\r\nacme;Acme, Inc.;1250.50\r\n;;\r\n"
    report = csv_import_customers(content.encode("utf-8"), actor="pytest")
    assert outcomes(report) == [(2, "acme", "added")]
    assert Customer.objects.get().name == "Acme, Inc."


def test_a_file_that_cannot_be_read_is_refused_as_a_whole(tenant_db) -> None:
    cases = {
        b"": "The file is empty; the first row must name the columns.",
        b"external_key,name\n": "The file has a header but no rows.",
        b"external_key,nmae\nacme,Acme\n": (
            "Unknown column(s): nmae. The columns are: external_key, name, tier, region, "
            "time_zone, locale, monthly_fee, currency, salesforce_account_id, "
            "hubspot_company_id, active."
        ),
        b"name,tier\nAcme,enterprise\n": (
            "The column external_key is required: it identifies the row."
        ),
        b"external_key,name\nacme,Caf\xe9\n": (
            "The file is not UTF-8 text; save it as 'CSV UTF-8' and upload it again."
        ),
        b"name,name,external_key\nA,B,c\n": "Column(s) named twice: name.",
    }
    for content, message in cases.items():
        report = csv_import_customers(content, actor="pytest")
        assert report.file_errors == (message,), content
        assert report.summary == f"Nothing was imported: {message}"
        assert not report.applied
    assert not Customer.objects.exists()


def test_a_row_with_more_cells_than_columns_is_rejected(tenant_db) -> None:
    report = csv_import_customers("external_key,name\nacme,Acme,Inc\n", actor="pytest")
    assert report.rows[0].problems == [
        "This row has 3 cells but the header names 2 columns; quote cells that contain the "
        "separator."
    ]


# --- subscribers --------------------------------------------------------------------------


def test_subscribers_are_added_and_updated_by_email_or_phone(tenant_db, regions, services) -> None:
    CustomerFactory(external_key="acme", tier="enterprise")
    known = SubscriberFactory(email="ann@example.com", name="Ann")
    by_phone = SubscriberFactory(email="", phone="+14155550100", name="On call")
    content = (
        "email,phone,name,customer,region,services,channels,kinds\n"
        "ann@example.com,,Ann Smith,acme,,,,\n"
        ",+1 415 555 0100,,,eu,api|payments,sms,incidents\n"
        "Bob@Example.com,+44 20 7946 0958,Bob,acme,,all,email sms,\n"
    )
    report = csv_import_subscribers(content, actor="pytest")

    assert report.applied, report.rows
    assert outcomes(report) == [
        (2, "ann@example.com", "updated"),
        (3, "+1 415 555 0100", "updated"),
        (4, "Bob@Example.com", "added"),
    ]
    known.refresh_from_db()
    assert (known.name, known.customer.external_key) == ("Ann Smith", "acme")
    by_phone.refresh_from_db()
    assert by_phone.region.code == "eu"
    assert sorted(s.slug for s in by_phone.subscription.services.all()) == ["api", "payments"]
    assert by_phone.subscription.kinds == ["incidents"]
    bob = Subscriber.objects.get(email="bob@example.com")
    assert (bob.phone, bob.source, bob.confirmed_at) == ("+442079460958", "import", None)
    assert bob.subscription.channels == ["email", "sms"]


def test_skip_confirmation_confirms_new_and_pending_people_but_never_the_unsubscribed(
    tenant_db,
) -> None:
    pending = SubscriberFactory(email="pending@example.com", unconfirmed=True)
    gone = SubscriberFactory(email="gone@example.com")
    subscriber_unsubscribe(subscriber=gone, actor="pytest")
    content = "email\nnew@example.com\npending@example.com\ngone@example.com\n"

    report = csv_import_subscribers(content, actor="pytest", skip_confirmation=True)

    assert outcomes(report) == [
        (2, "new@example.com", "added"),
        (3, "pending@example.com", "updated"),
        (4, "gone@example.com", "unchanged"),
    ]
    assert Subscriber.objects.get(email="new@example.com").confirmed
    pending.refresh_from_db()
    assert pending.confirmed
    gone.refresh_from_db()
    assert gone.unsubscribed_at is not None


def test_subscriber_rows_are_rejected_with_their_reasons_and_nothing_is_applied(
    tenant_db, services
) -> None:
    SubscriberFactory(email="ann@example.com", phone="+14155550100")
    content = (
        "email,phone,customer,services,webhook_url\n"
        "new@example.com,,,api,\n"
        "carol@,,nobody,mainframe,\n"
        ",,,,https://hooks.example.net/x\n"
        "dave@example.com,+14155550100,,,\n"
        "NEW@example.com,,,,\n"
        "erin@example.com,,,,http://192.168.1.1/hook\n"
    )
    report = csv_import_subscribers(content, actor="pytest")

    assert not report.applied
    problems = {r.row: r.problems for r in report.rows if r.outcome == "rejected"}
    assert problems[3][0].startswith("email: 'carol@' is not a valid e-mail address")
    assert problems[3][1:] == [
        "customer: There is no customer with the key 'nobody' in this tenant.",
        "services: Unknown service(s): mainframe. Use the slugs listed at /api/v1/services/.",
    ]
    assert problems[4] == [
        "email: Give an e-mail address or a phone number: it identifies the subscriber."
    ]
    ann = Subscriber.objects.get(email="ann@example.com")
    assert problems[5] == [f"phone: Subscriber #{ann.pk} already has this phone number."]
    assert problems[6] == ["email: Row 2 has the same email; give each one once."]
    assert problems[7] == [
        "webhook_url: 192.168.1.1 is not a public address; give a URL on the public internet."
    ]
    assert report.rows[0].outcome == "added"  # would have been
    assert list(Subscriber.objects.values_list("email", flat=True)) == ["ann@example.com"]


def test_a_subscribers_file_needs_a_column_that_identifies_people(tenant_db) -> None:
    report = csv_import_subscribers("name,services\nAnn,all\n", actor="pytest")
    assert report.file_errors == ("The file needs an email or a phone column to identify rows.",)


def test_a_row_sharing_only_a_phone_number_with_an_earlier_row_is_a_duplicate(tenant_db) -> None:
    content = (
        "email,phone,name\n"
        "ann@example.com,+1 415 555 0100,Ann\n"
        ",+14155550100,Ann on call\n"
        "bob@example.com,,Bob\n"
        "BOB@example.com,+44 20 7946 0958,Bob\n"
    )
    report = csv_import_subscribers(content, actor="pytest")

    assert not report.applied
    assert outcomes(report) == [
        (2, "ann@example.com", "added"),
        (3, "+14155550100", "rejected"),
        (4, "bob@example.com", "added"),
        (5, "BOB@example.com", "rejected"),
    ]
    assert report.rows[1].problems == ["phone: Row 2 has the same phone; give each one once."]
    assert report.rows[3].problems == ["email: Row 4 has the same email; give each one once."]
    assert not Subscriber.objects.exists()


def test_a_monthly_fee_that_is_not_a_number_rejects_the_row(tenant_db) -> None:
    content = (
        "external_key,name,monthly_fee\nacme,Acme,NaN\nglobex,Globex,Infinity\ninitech,Initech,10\n"
    )
    report = csv_import_customers(content, actor="pytest")

    assert not report.applied
    assert outcomes(report) == [
        (2, "acme", "rejected"),
        (3, "globex", "rejected"),
        (4, "initech", "added"),
    ]
    assert report.rows[0].problems == ["monthly_fee: 'NaN' is not an amount such as 1250.00."]
    assert report.rows[1].problems == ["monthly_fee: 'Infinity' is not an amount such as 1250.00."]
    assert not Customer.objects.exists()
