"""SMS through the real `twilio` client against a local fake of Twilio's Messages API:
who gets a text, what it says, retries and refusals; and how many segments a text takes."""

import pytest

from apps.communications import delivery
from apps.communications.channels.sms import SmsChannel, sms_segments
from apps.communications.models import Delivery, DeliveryAttempt
from apps.communications.services import message_draft, message_publish
from apps.core.exceptions import ValidationFailed
from apps.incidents.services import incident_open
from apps.subscribers.choices import CustomerTier
from tests.factories import CustomerFactory, SubscriberFactory
from tests.fakes_channels import channel_registered
from tests.fakes_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, start_fake_twilio

ACTOR = "pytest"


# --- segments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("GSM-7", 0)),
        ("a" * 160, ("GSM-7", 1)),
        ("a" * 161, ("GSM-7", 2)),
        ("a" * 306, ("GSM-7", 2)),
        ("a" * 307, ("GSM-7", 3)),
        ("€" * 80, ("GSM-7", 1)),  # an extension character takes two septets
        ("€" * 81, ("GSM-7", 2)),
        ("Zürich: Ärger, Ça va? £5 @ 10:00", ("GSM-7", 1)),  # all in the GSM alphabet
        ("ç" * 70, ("UCS-2", 1)),  # lower-case ç is not GSM-7 (only Ç is)
        ("Ж" * 70, ("UCS-2", 1)),
        ("Ж" * 71, ("UCS-2", 2)),
        ("Ж" * 134, ("UCS-2", 2)),
        ("Ж" * 135, ("UCS-2", 3)),
        ("🔥" * 35, ("UCS-2", 1)),  # an emoji is two UTF-16 units
        ("🔥" * 36, ("UCS-2", 2)),
    ],
)
def test_sms_segments(text, expected) -> None:
    assert sms_segments(text) == expected


def test_an_escaped_character_is_not_split_across_segments() -> None:
    # 152 septets then a two-septet "€": it cannot fit in segment one's last septet.
    assert sms_segments("a" * 152 + "€" + "a" * 10) == ("GSM-7", 2)
    assert sms_segments("a" * 152 + "€" + "a" * 152) == ("GSM-7", 3)


def test_validate_reports_a_text_that_takes_more_than_one_segment() -> None:
    channel = SmsChannel()
    assert channel.validate({"text": "Acme: API errors (investigating)."}) == []
    assert channel.validate({"text": "x" * 200}) == [
        "The SMS text takes 2 segments (GSM-7); one segment holds 160 characters."
    ]
    assert channel.validate({"text": "Ошибка " * 11}) == [
        "The SMS text takes 2 segments (UCS-2); one segment holds 70 characters."
    ]


# --- deliveries through the fake Twilio -------------------------------------------------


@pytest.fixture
def twilio():
    fake, server = start_fake_twilio()
    yield fake
    server.shutdown()


@pytest.fixture
def sms(twilio):
    channel = SmsChannel(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        base_url=twilio.url,
        timeout=1,
    )
    with channel_registered(channel):
        yield channel


@pytest.fixture
def phones(catalog):
    enterprise = CustomerFactory(tier=CustomerTier.ENTERPRISE)
    standard = CustomerFactory(tier=CustomerTier.STANDARD)
    return {
        "ada": SubscriberFactory(email="", phone="+33612345678", customer=enterprise),
        "bob": SubscriberFactory(email="", phone="+4915112345678", customer=enterprise),
        "std": SubscriberFactory(email="", phone="+14155550100", customer=standard),
    }


def publish(severity: str = "P1", channels=("sms",)):
    incident = incident_open(
        title="Payments failing",
        severity=severity,
        services={"payments": "major_outage"},
        body="We are investigating failed card payments.",
        actor=ACTOR,
    )
    message = message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=list(channels), actor=ACTOR
    )
    message = message_publish(message=message, actor=ACTOR, approver=True)
    delivery.fanout(message.pk)
    return message


def ids() -> list[int]:
    return list(Delivery.objects.order_by("subscriber_id").values_list("id", flat=True))


def test_a_p1_alert_texts_enterprise_customers_only(sms, twilio, phones) -> None:
    message = publish()
    assert message.__class__.objects.get(pk=message.pk).audience == {"sms": {"recipients": 2}}
    delivery.send_batch(message.pk, "sms", ids())
    assert sorted(s.form["To"] for s in twilio.received) == ["+33612345678", "+4915112345678"]
    for got in twilio.received:
        assert got.account == ACCOUNT_SID
        assert got.form["From"] == FROM_NUMBER
        assert got.form["Body"].startswith("Test Tenant: Payments failing (Investigating). ")
        assert got.form["Body"].endswith(f"https://test.localhost/incidents/{message.incident_id}/")
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    sids = set(DeliveryAttempt.objects.values_list("provider_id", flat=True))
    assert len(sids) == 2 and all(s.startswith("SM") for s in sids)
    message.refresh_from_db()
    assert message.state == "sent"


def test_sms_is_not_allowed_below_the_policy(sms, twilio, phones) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        publish(severity="P2")
    assert "sms" in str(excinfo.value.fields["channels"])
    assert twilio.received == []


def test_503_and_429_are_retried_and_an_invalid_number_fails_with_twilios_reason(
    sms, twilio, phones
) -> None:
    message = publish()
    first, second = ids()
    twilio.statuses = [503, 400]
    delivery.send_batch(message.pk, "sms", [first, second])
    retried, refused = Delivery.objects.get(pk=first), Delivery.objects.get(pk=second)
    assert retried.status == "pending" and retried.error.startswith("HTTP 503")
    assert refused.status == "failed"
    assert refused.error == (
        "HTTP 400: 21211 The 'To' number +4915112345678 is not a valid phone number."
    )
    twilio.statuses = [429]
    delivery.send_batch(message.pk, "sms", [first])
    assert Delivery.objects.get(pk=first).status == "pending"
    assert Delivery.objects.get(pk=first).error.startswith("HTTP 429: 20429")
    delivery.send_batch(message.pk, "sms", [first, second])  # the failed one is not resent
    assert Delivery.objects.get(pk=first).status == "sent"
    assert Delivery.objects.get(pk=first).attempts == 3
    assert [s.form["To"] for s in twilio.received].count("+4915112345678") == 1
    assert len(twilio.received) == 4


def test_a_timeout_is_retried(sms, twilio, phones) -> None:
    message = publish()
    first, _ = ids()
    twilio.delay = 1.5
    delivery.send_batch(message.pk, "sms", [first])
    row = Delivery.objects.get(pk=first)
    assert row.status == "pending" and "timed out" in row.error.lower()


def test_missing_credentials_fail_with_the_settings_to_set(twilio, phones) -> None:
    channel = SmsChannel(
        account_sid="", auth_token="", from_number=FROM_NUMBER, base_url=twilio.url
    )
    with channel_registered(channel):
        message = publish()
        delivery.send_batch(message.pk, "sms", ids())
    assert set(Delivery.objects.values_list("error", flat=True)) == {
        "Twilio is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN."
    }
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}
    assert twilio.received == []
