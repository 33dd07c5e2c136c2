"""Resolving: the all-clear, credits before the resolution message, its SLA paragraph per
recipient, and pre-approval during an extended outage."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.communications import delivery
from apps.communications.models import Delivery, Message
from apps.communications.services import message_publish
from apps.core.events import emit
from apps.core.exceptions import ValidationFailed
from apps.incidents.services import incident_open, incident_resolve
from apps.postmortems.models import SlaCredit
from tests.factories import ALL_CLEAR, CustomerFactory, SubscriberFactory

ACTOR = "pytest"


def text_of(message) -> str:
    return message.get_payload()[0].get_payload(decode=True).decode()


@pytest.fixture
def people(catalog, policy):
    eur = CustomerFactory(
        tier="enterprise", region=catalog["eu"], monthly_fee=Decimal("1000"), currency="EUR"
    )
    usd = CustomerFactory(
        tier="business", region=catalog["eu"], monthly_fee=Decimal("2500"), currency="USD"
    )
    no_sla = CustomerFactory(tier="standard", region=catalog["eu"], monthly_fee=Decimal("90"))
    return {
        "ada": SubscriberFactory(email="ada@example.com", name="Ada", customer=eur),
        "uma": SubscriberFactory(email="uma@example.com", name="Uma", customer=usd),
        "sam": SubscriberFactory(email="sam@example.com", name="Sam", customer=no_sla),
        "solo": SubscriberFactory(email="solo@example.com", name="Solo"),  # no customer
    }


def two_hour_outage():
    return incident_open(
        title="Card payments failing",
        severity="P1",
        services={"payments": "major_outage"},
        regions=["eu"],
        body="We are investigating failed card payments.",
        started_at=timezone.now() - timedelta(hours=2),
        actor=ACTOR,
    )


def test_resolving_a_confirmed_incident_needs_every_part_of_the_all_clear(catalog) -> None:
    incident = two_hour_outage()
    with pytest.raises(ValidationFailed) as caught:
        incident_resolve(incident=incident, body="Fixed.", root_cause="A bad deploy.", actor=ACTOR)
    assert set(caught.value.fields) == {"what_was_affected", "what_we_fixed", "prevention"}
    assert caught.value.fields["prevention"] == ["Say what will prevent it from happening again."]


def test_the_sla_paragraph_reaches_only_credited_customers_in_their_currency(
    people, smtp, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = two_hour_outage()
        incident_resolve(
            incident=incident, body="Card payments work again.", **ALL_CLEAR, actor=ACTOR
        )
    # credits exist as soon as the resolution is announced, before anything is rendered
    amounts = {c.currency: c.amount for c in SlaCredit.objects.filter(incident=incident)}
    assert amounts == {"EUR": Decimal("100.00"), "USD": Decimal("250.00")}
    message = Message.objects.get(incident=incident, kind="resolution")
    message = message_publish(message=message, actor=ACTOR, approver=True)
    delivery.fanout(message.pk)
    ids = list(
        Delivery.objects.filter(message=message, channel="email").values_list("id", flat=True)
    )
    delivery.send_batch(message.pk, "email", ids)

    ada = text_of(people_mail(smtp, "ada@example.com"))
    uma = text_of(people_mail(smtp, "uma@example.com"))
    assert "qualifies you for a credit of EUR 100.00; we will confirm it on your account." in ada
    assert "qualifies you for a credit of USD 250.00; we will confirm it on your account." in uma
    for other in ("sam@example.com", "solo@example.com"):
        assert "SLA credit" not in text_of(people_mail(smtp, other))
    # the all-clear's parts are in every copy
    assert "Root cause: A failed database failover." in ada
    assert "What we fixed: We moved traffic to the healthy replica." in ada
    assert "What we are doing to prevent it: We test failover weekly." in ada
    # the preview staff see carries no one's credit
    assert "SLA credit" not in message.rendered["email"]["text"]


def people_mail(smtp, address: str):
    [mail] = smtp.to(address)
    return mail


def test_an_extended_outage_pre_approves_the_credits_already_owed(
    people, django_capture_on_commit_callbacks
) -> None:
    incident = two_hour_outage()
    with django_capture_on_commit_callbacks(execute=True):
        emit("incident.extended_outage", incident_id=incident.pk)
    credits = SlaCredit.objects.filter(incident=incident)
    assert {(c.currency, c.state, c.pre_approved) for c in credits} == {
        ("EUR", "approved", True),
        ("USD", "approved", True),
    }
    assert all(c.approved_by_label == "Clarion (extended outage)" for c in credits)
    # on resolve the pre-approved credits are brought up to date, not duplicated
    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident=incident, body="Back.", **ALL_CLEAR, actor=ACTOR)
    assert SlaCredit.objects.filter(incident=incident).count() == 2
    assert set(SlaCredit.objects.values_list("state", flat=True)) == {"approved"}


def test_an_outage_below_the_threshold_earns_no_credit_and_no_paragraph(
    people, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = incident_open(
            title="Brief blip",
            severity="P2",
            services={"payments": "major_outage"},
            body="Investigating.",
            actor=ACTOR,
        )
        incident_resolve(incident=incident, body="Fine again.", **ALL_CLEAR, actor=ACTOR)
    assert not SlaCredit.objects.exists()
