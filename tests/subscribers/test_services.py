"""Customer, subscriber, suppression and segment use-cases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings

from apps.core.exceptions import Conflict, ValidationFailed
from apps.core.models import AuditEvent
from apps.incidents import services as incidents
from apps.subscribers import selectors
from apps.subscribers.models import Customer, Subscriber, Suppression
from apps.subscribers.services import (
    UNCHANGED,
    customer_delete,
    customer_upsert,
    segment_create,
    segment_update,
    subscriber_confirm,
    subscriber_create,
    subscriber_delete,
    subscriber_unsubscribe,
    subscriber_update,
    suppression_add,
    suppression_remove,
)
from apps.subscribers.validators import (
    normalize_email,
    normalize_locale,
    normalize_phone,
    validate_webhook_url,
)
from tests.factories import CustomerFactory, SubscriberFactory

# --- validators (shared with the admin and the public subscribe page) ---------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("Ann@Example.COM", "ann@example.com"), ("  bob@example.net ", "bob@example.net")],
)
def test_email_addresses_are_normalised(raw: str, normalised: str) -> None:
    assert normalize_email(raw) == normalised


@pytest.mark.parametrize("raw", ["ann", "ann@", "ann@localhost", "a b@example.com"])
def test_invalid_email_addresses_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="is not a valid e-mail address"):
        normalize_email(raw)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+1 (415) 555-0123", "+14155550123"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_numbers_become_e164(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["555-0123", "+1 415", "call me", "+999 123 456"])
def test_phone_numbers_without_country_or_invalid_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="international format"):
        normalize_phone(raw)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "http://2130706433/hook",
        "http://0x7f.0.0.1/hook",
        "https://printer.local/hook",
        "https://intranet/hook",
        "https://db.internal/hook",
    ],
)
def test_webhook_urls_into_private_networks_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="is not a public address"):
        validate_webhook_url(url, allow_private=False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.net/hook", "must start with http:// or https://"),
        ("https:///hook", "must start with"),
        ("https://user:pw@example.net/hook", "Leave the user name and password out"),
        ("https://example.net:99999/hook", "is not a valid URL"),
    ],
)
def test_malformed_webhook_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_webhook_url(url, allow_private=False)


def test_slack_and_teams_urls_must_be_https() -> None:
    assert validate_webhook_url("https://hooks.example.net/x", https_only=True)
    with pytest.raises(ValidationError, match="must start with https://"):
        validate_webhook_url("http://hooks.example.net/x", https_only=True)


def test_private_webhook_urls_are_allowed_in_debug_for_local_receivers() -> None:
    with override_settings(DEBUG=True):
        assert validate_webhook_url("http://127.0.0.1:9000/hook") == "http://127.0.0.1:9000/hook"
    with pytest.raises(ValidationError):
        validate_webhook_url("http://127.0.0.1:9000/hook")


@pytest.mark.parametrize(("raw", "tag"), [("EN", "en"), ("en_us", "en-US"), ("pt-BR", "pt-BR")])
def test_locales_are_language_tags(raw: str, tag: str) -> None:
    assert normalize_locale(raw) == tag


# --- customers ----------------------------------------------------------------------------


def test_a_customer_is_created_then_updated_by_its_key_and_only_real_changes_are_audited(
    tenant_db, regions
) -> None:
    customer, outcome = customer_upsert(
        external_key="acme",
        name="Acme",
        tier="enterprise",
        region="eu",
        monthly_fee=Decimal("1000.00"),
        actor="pytest",
    )
    assert outcome == "added"
    assert (customer.time_zone, customer.locale, customer.currency, customer.active) == (
        "UTC",
        "en",
        "USD",
        True,
    )
    _, outcome = customer_upsert(external_key="acme", name="Acme", actor="pytest")
    assert outcome == "unchanged"
    customer, outcome = customer_upsert(external_key="acme", tier="business", actor="pytest")
    assert (outcome, customer.tier, customer.name) == ("updated", "business", "Acme")
    actions = list(
        AuditEvent.objects.filter(action__startswith="customer.")
        .order_by("id")
        .values_list("action", "details")
    )
    assert actions == [
        ("customer.created", {"tier": "enterprise", "region": "eu"}),
        ("customer.updated", {"tier": {"from": "enterprise", "to": "business"}}),
    ]


def test_a_customer_refusal_lists_every_problem(tenant_db) -> None:
    with pytest.raises(ValidationFailed) as caught:
        customer_upsert(
            external_key="has space",
            name="",
            tier="gold",
            region="mars",
            time_zone="Mars/Olympus",
            monthly_fee=Decimal("-1"),
            currency="euro",
            hubspot_company_id="abc",
            actor="pytest",
        )
    assert set(caught.value.fields) == {
        "external_key",
        "name",
        "tier",
        "region",
        "time_zone",
        "monthly_fee",
        "currency",
        "hubspot_company_id",
    }
    assert not Customer.objects.exists()


def test_a_customer_with_subscribers_is_deactivated_not_deleted(tenant_db) -> None:
    customer = CustomerFactory()
    SubscriberFactory(customer=customer)
    with pytest.raises(Conflict, match="Deactivate the customer instead"):
        customer_delete(customer=customer, actor="pytest")
    customer_upsert(external_key=customer.external_key, active=False, actor="pytest")
    assert not selectors.subscribers_receiving().exists()


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("0015g00000AbCdE", "0015g00000AbCdEAAV"),  # the form Salesforce pages show
        ("001A0000006Vm9r", "001A0000006Vm9rIAC"),  # Salesforce's documented example
        ("0015g00000AbCdEAAV", "0015g00000AbCdEAAV"),  # already the API's form
    ],
)
def test_salesforce_account_ids_are_kept_in_the_18_character_form_the_api_returns(
    tenant_db, given: str, stored: str
) -> None:
    customer, _ = customer_upsert(
        external_key="acme", name="Acme", salesforce_account_id=f" {given} ", actor="pytest"
    )
    customer.refresh_from_db()
    assert customer.salesforce_account_id == stored
    # Found by either form; given again in either form, nothing changes.
    assert list(selectors.customers_list(search=given[:15])) == [customer]
    _, outcome = customer_upsert(
        external_key="acme", salesforce_account_id=given[:15], actor="pytest"
    )
    assert outcome == "unchanged"
    with pytest.raises(ValidationFailed) as caught:
        customer_upsert(
            external_key="globex", name="Globex", salesforce_account_id=given[:15], actor="pytest"
        )
    assert caught.value.fields == {
        "salesforce_account_id": ["This Salesforce account is already linked to Acme (acme)."]
    }


@pytest.mark.parametrize("given", ["0015g00000AbCd", "0015g00000AbCdEAA", "0015g00000AbCdE-AV"])
def test_a_salesforce_account_id_of_another_length_or_with_other_characters_is_refused(
    tenant_db, given: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        customer_upsert(
            external_key="acme", name="Acme", salesforce_account_id=given, actor="pytest"
        )
    assert caught.value.fields == {
        "salesforce_account_id": [
            "A Salesforce account id has 15 or 18 letters and digits, e.g. 0015g00000AbCdEAAV."
        ]
    }
    assert not Customer.objects.exists()


@pytest.mark.parametrize("fee", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_a_monthly_fee_that_is_not_a_number_is_refused_not_a_server_error(
    tenant_db, fee: str
) -> None:
    CustomerFactory(external_key="acme", name="Acme", monthly_fee=Decimal("10.00"))
    with pytest.raises(ValidationFailed) as caught:
        customer_upsert(external_key="acme", monthly_fee=Decimal(fee), actor="pytest")
    assert set(caught.value.fields) == {"monthly_fee"}
    assert "is not an amount" in caught.value.fields["monthly_fee"][0]
    assert Customer.objects.get().monthly_fee == Decimal("10.00")


def test_a_customer_named_by_a_segment_is_not_deleted(tenant_db) -> None:
    customer = CustomerFactory(external_key="acme", name="Acme")
    CustomerFactory(external_key="globex", name="Globex")
    segment = segment_create(name="Acme executives", customers=["acme"], actor="pytest")

    with pytest.raises(Conflict) as caught:
        customer_delete(customer=customer, actor="pytest")

    assert caught.value.code == "customer_in_segments"
    assert "'Acme executives'" in caught.value.message
    # Still aimed at Acme: had it gone, the empty list would mean any customer.
    assert [c.external_key for c in segment.customers.all()] == ["acme"]
    segment_update(segment=segment, customers=["globex"], actor="pytest")
    customer_delete(customer=customer, actor="pytest")
    assert not Customer.objects.filter(external_key="acme").exists()


# --- subscribers --------------------------------------------------------------------------


def test_a_new_subscriber_gets_an_unguessable_manage_token_and_waits_for_confirmation(
    tenant_db, services
) -> None:
    one = subscriber_create(email="one@example.com", actor="pytest")
    two = subscriber_create(email="two@example.com", actor="pytest")
    assert len(one.manage_token) >= 43 and one.manage_token != two.manage_token
    assert one.confirmed_at is None and one.source == "self"
    assert not selectors.subscribers_receiving().exists()

    subscriber_confirm(subscriber=one, actor="pytest")
    assert list(selectors.subscribers_receiving()) == [one]


def test_channels_default_to_what_the_contact_details_allow(tenant_db, services) -> None:
    subscriber = subscriber_create(
        email="ann@example.com",
        slack_webhook_url="https://hooks.slack.com/services/T0/B0/x",
        actor="pytest",
    )
    assert subscriber.reachable_channels == ["email", "slack"]
    assert subscriber.subscription.all_services is True

    with pytest.raises(ValidationFailed) as caught:
        subscriber_create(email="bob@example.com", channels=["sms", "teams"], actor="pytest")
    assert caught.value.fields == {
        "channels": ["sms needs a phone number.", "teams needs a Teams webhook URL."]
    }
    with pytest.raises(ValidationFailed) as caught:
        subscriber_create(actor="pytest")
    assert caught.value.fields == {
        "email": [
            "Give an e-mail address, a phone number or a webhook URL to reach the subscriber."
        ]
    }


def test_a_second_subscriber_with_the_same_address_is_a_conflict(tenant_db) -> None:
    first = subscriber_create(email="ann@example.com", phone="+14155550100", actor="pytest")
    with pytest.raises(Conflict) as caught:
        subscriber_create(email="ANN@example.com", phone="+1 415 555 0100", actor="pytest")
    assert caught.value.fields == {
        "email": [f"Subscriber #{first.pk} already has this e-mail address."],
        "phone": [f"Subscriber #{first.pk} already has this phone number."],
    }


def test_an_update_changes_what_is_given_and_keeps_the_rest(tenant_db, services, regions) -> None:
    subscriber = subscriber_create(
        email="ann@example.com", name="Ann", services=["api"], actor="pytest"
    )
    subscriber = subscriber_update(
        subscriber=subscriber,
        phone="+14155550100",
        region="eu",
        services="all",
        kinds=["incidents"],
        actor="pytest",
    )
    subscriber.refresh_from_db()
    assert (subscriber.email, subscriber.name, subscriber.phone) == (
        "ann@example.com",
        "Ann",
        "+14155550100",
    )
    assert subscriber.region.code == "eu"
    assert subscriber.subscription.all_services is True
    assert subscriber.subscription.kinds == ["incidents"]
    audit = AuditEvent.objects.filter(action="subscriber.updated").get()
    assert set(audit.details) == {"phone", "region", "all_services", "services", "kinds"}

    AuditEvent.objects.all().delete()
    subscriber_update(subscriber=subscriber, name="Ann", email=UNCHANGED, actor="pytest")
    assert not AuditEvent.objects.exists()  # nothing changed, nothing written


def test_removing_the_only_contact_of_the_accepted_channels_is_refused(tenant_db) -> None:
    subscriber = subscriber_create(
        email="ann@example.com", phone="+14155550100", channels=["sms"], actor="pytest"
    )
    with pytest.raises(ValidationFailed) as caught:
        subscriber_update(subscriber=subscriber, phone="", actor="pytest")
    assert caught.value.fields["channels"] == [
        "None of the accepted channels (sms) can reach this subscriber; its contact details "
        "allow email."
    ]


def test_a_webhook_url_gets_a_standard_webhooks_secret_stored_encrypted(tenant_db) -> None:
    subscriber = subscriber_create(webhook_url="https://hooks.example.net/a", actor="pytest")
    assert subscriber.webhook_secret.startswith("whsec_")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT webhook_secret FROM subscribers_subscriber WHERE id = %s", [subscriber.pk]
        )
        stored = cursor.fetchone()[0]
    assert "whsec_" not in stored  # encrypted at rest
    assert Subscriber.objects.get(pk=subscriber.pk).webhook_secret == subscriber.webhook_secret


def test_unsubscribing_suppresses_the_addresses_and_confirming_again_lifts_only_that(
    tenant_db,
) -> None:
    subscriber = subscriber_create(
        email="ann@example.com", phone="+14155550100", confirmed=True, actor="pytest"
    )
    suppression_add(channel="sms", address="+14155550100", reason="complained", actor="pytest")
    subscriber_unsubscribe(subscriber=subscriber, note="Too many e-mails", actor="pytest")
    subscriber_unsubscribe(subscriber=subscriber, actor="pytest")  # already: a no-op
    assert set(Suppression.objects.values_list("channel", "address", "reason")) == {
        ("email", "ann@example.com", "unsubscribed"),
        ("sms", "+14155550100", "complained"),  # the first reason stays
    }
    assert AuditEvent.objects.filter(action="subscriber.unsubscribed").count() == 1

    with pytest.raises(Conflict, match="only they can subscribe again"):
        subscriber_confirm(subscriber=subscriber, actor="pytest")
    subscriber = subscriber_confirm(subscriber=subscriber, resubscribe=True, actor="pytest")
    assert subscriber.unsubscribed_at is None
    assert set(Suppression.objects.values_list("channel", "reason")) == {("sms", "complained")}


def test_erasing_a_subscriber_keeps_its_suppressions(tenant_db) -> None:
    subscriber = subscriber_create(email="ann@example.com", confirmed=True, actor="pytest")
    subscriber_unsubscribe(subscriber=subscriber, actor="pytest")
    subscriber_delete(subscriber=subscriber, actor="pytest")
    assert not Subscriber.objects.exists()
    again = subscriber_create(email="ann@example.com", confirmed=True, actor="pytest")
    assert selectors.subscribers_receiving().filter(pk=again.pk).exists()
    assert Suppression.objects.filter(address="ann@example.com").exists()


# --- suppressions -------------------------------------------------------------------------


def test_suppressions_are_stored_as_the_subscribers_store_the_address(tenant_db) -> None:
    first = suppression_add(
        channel="email", address=" Ann@Example.COM ", reason="bounced", actor="pytest"
    )
    again = suppression_add(
        channel="email", address="ann@example.com", reason="complained", actor="pytest"
    )
    assert again.pk == first.pk and again.reason == "bounced"
    phone = suppression_add(
        channel="sms", address="+1 415 555 0100", reason="bounced", actor="pytest"
    )
    assert phone.address == "+14155550100"
    with pytest.raises(ValidationFailed) as caught:
        suppression_add(channel="pager", address="x", reason="lost", actor="pytest")
    assert set(caught.value.fields) == {"channel", "reason"}
    suppression_remove(suppression=phone, actor="pytest")
    assert list(
        AuditEvent.objects.filter(action__startswith="suppression.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == [
        "suppression.added",
        "suppression.added",
        "suppression.removed",
    ]


# --- segments -----------------------------------------------------------------------------


def test_a_segment_selects_by_tier_region_service_and_customer(
    tenant_db, regions, services
) -> None:
    big_eu = CustomerFactory(external_key="big-eu", tier="enterprise", region=regions["eu"])
    big_us = CustomerFactory(external_key="big-us", tier="enterprise", region=regions["us"])
    small_eu = CustomerFactory(external_key="small-eu", tier="standard", region=regions["eu"])
    SubscriberFactory(name="big eu api", customer=big_eu, subscription__services=[services["api"]])
    SubscriberFactory(name="big eu all", customer=big_eu)
    SubscriberFactory(
        name="big eu payments", customer=big_eu, subscription__services=[services["payments"]]
    )
    SubscriberFactory(name="big us", customer=big_us)
    SubscriberFactory(name="small eu", customer=small_eu)
    SubscriberFactory(name="no region")  # a segment is deliberate: unknown region is out
    SubscriberFactory(name="pending", customer=big_eu, unconfirmed=True)

    segment = segment_create(
        name="Enterprise EU API",
        tiers=["enterprise"],
        regions=["eu"],
        services=["api"],
        actor="pytest",
    )
    members = set(selectors.segment_members(segment).values_list("name", flat=True))
    assert members == {"big eu api", "big eu all"}

    segment = segment_update(
        segment=segment, services=[], customers=["big-eu", "big-us"], regions=[], actor="pytest"
    )
    members = set(selectors.segment_members(segment).values_list("name", flat=True))
    assert members == {"big eu api", "big eu all", "big eu payments", "big us"}

    preview = selectors.segment_preview(segment, sample=2)
    assert preview.count == 4 and len(preview.sample) == 2

    with pytest.raises(ValidationFailed) as caught:
        segment_create(name="Enterprise EU API", tiers=["gold"], actor="pytest")
    assert set(caught.value.fields) == {"name", "tiers"}


def test_a_segment_whose_regions_or_services_were_all_deleted_selects_nobody(
    tenant_db, regions, services
) -> None:
    eu = CustomerFactory(external_key="eu", region=regions["eu"])
    us = CustomerFactory(external_key="us", region=regions["us"])
    SubscriberFactory(name="eu api", customer=eu, subscription__services=[services["api"]])
    SubscriberFactory(
        name="us payments", customer=us, subscription__services=[services["payments"]]
    )
    SubscriberFactory(name="us all", customer=us)
    by_region = segment_create(name="EU and APAC", regions=["eu", "apac"], actor="pytest")
    by_service = segment_create(name="API users", services=["api"], actor="pytest")
    anyone = segment_create(name="Everyone", actor="pytest")

    # As the incidents admin deletes them.
    regions["apac"].delete()
    assert names(by_region) == {"eu api"}  # the region left still narrows it
    regions["eu"].delete()
    services["api"].delete()

    assert names(by_region) == set()
    assert names(by_service) == set()
    assert names(anyone) == {"eu api", "us payments", "us all"}
    incident = incidents.incident_open(
        title="Payments delayed",
        severity="P1",
        services={"payments": "major_outage"},
        actor="pytest",
    )
    audience = selectors.audience_for(incident=incident, channel="email", segment=by_service)
    assert not audience.exists()

    # Lifting the limit is deliberate, and audited.
    by_region = segment_update(segment=by_region, name="Anywhere", regions=[], actor="pytest")
    assert names(by_region) == {"eu api", "us payments", "us all"}
    updated = AuditEvent.objects.filter(action="segment.updated").latest("id")
    assert updated.details["regions"] == {"from": ["(all deleted: selects nobody)"], "to": []}


def names(segment) -> set[str]:
    return set(selectors.segment_members(segment).values_list("name", flat=True))
