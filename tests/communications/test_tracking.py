"""Bounces and complaints posted by the e-mail provider to anymail's tracking webhook (real
SendGrid Event Webhook payloads, basic auth) suppress the address and fail the delivery."""

import base64
import json
import time

import pytest
from django.db import connection
from django.test import Client, override_settings

from apps.communications import delivery
from apps.communications.models import Delivery
from apps.communications.services import message_draft, message_publish
from apps.incidents.services import incident_open
from apps.subscribers.models import Suppression
from tests.conftest import OTHER_HOST
from tests.factories import SubscriberFactory

ACTOR = "pytest"
SECRET = "clarion:s3cret-webhook-pass"
URL = "/anymail/sendgrid/tracking/"


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def sendgrid_event(event: str, email: str, smtp_id: str, **fields) -> dict:
    """One event as SendGrid's Event Webhook posts it."""
    return {
        "email": email,
        "timestamp": int(time.time()),
        "smtp-id": smtp_id,
        "event": event,
        "category": ["clarion"],
        "sg_event_id": f"sg-{event}-{email}",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        **fields,
    }


@pytest.fixture
def sent(catalog, smtp):
    ada = SubscriberFactory(email="ada@example.com", name="Ada")
    bob = SubscriberFactory(email="bob@example.com")
    incident = incident_open(
        title="Payments failing",
        severity="P2",
        services={"payments": "major_outage"},
        body="Investigating.",
        actor=ACTOR,
    )
    message = message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=["email"], actor=ACTOR
    )
    message = message_publish(message=message, actor=ACTOR, approver=True)
    delivery.fanout(message.pk)
    delivery.send_batch(message.pk, "email", list(Delivery.objects.values_list("id", flat=True)))
    return {"ada": ada, "bob": bob, "message": message, "incident": incident}


def message_id_of(subscriber) -> str:
    """The id the provider reports back: the Message-ID it received (SendGrid's `smtp-id`)."""
    row = Delivery.objects.filter(subscriber=subscriber, status="sent").get()
    return row.attempt_log.get().provider_id


def post(client: Client, events: list[dict], auth: str = SECRET):
    return client.post(
        URL, json.dumps(events), content_type="application/json", HTTP_AUTHORIZATION=basic(auth)
    )


@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_a_bounce_suppresses_the_address_and_fails_the_delivery(sent, tenant_client) -> None:
    smtp_id = message_id_of(sent["ada"])
    assert smtp_id.startswith("<clarion-")
    bounce = sendgrid_event(
        "bounce",
        "Ada@Example.com",
        smtp_id,
        reason="550 5.1.1 The email account that you tried to reach does not exist.",
        status="5.1.1",
        type="bounce",
        bounce_classification="Invalid Address",
    )
    assert post(tenant_client, [bounce]).status_code == 200
    suppression = Suppression.objects.get()
    assert (suppression.channel, suppression.address, suppression.reason) == (
        "email",
        "ada@example.com",
        "bounced",
    )
    ada = Delivery.objects.get(subscriber=sent["ada"])
    assert ada.status == "failed"  # it never arrived
    assert ada.error == (
        "bounced: 550 5.1.1 The email account that you tried to reach does not exist."
    )
    assert Delivery.objects.get(subscriber=sent["bob"]).status == "sent"
    assert post(tenant_client, [bounce]).status_code == 200  # the provider retries: no change
    assert Suppression.objects.count() == 1


@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_a_complaint_suppresses_but_the_delivery_stays_delivered(sent, tenant_client) -> None:
    spam = sendgrid_event("spamreport", "bob@example.com", message_id_of(sent["bob"]))
    assert post(tenant_client, [spam]).status_code == 200
    assert Suppression.objects.get().reason == "complained"
    assert Delivery.objects.get(subscriber=sent["bob"]).status == "sent"


@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_a_bounce_stops_what_is_still_queued_for_the_address(sent, tenant_client) -> None:
    progress = message_draft(
        kind="progress_update",
        incident=sent["incident"],
        channels=["email"],
        extra={"update": "Still on it."},
        actor=ACTOR,
    )
    progress = message_publish(message=progress, actor=ACTOR, approver=True)
    delivery.fanout(progress.pk)  # pending, not sent yet
    dropped = sendgrid_event(
        "dropped", "ada@example.com", message_id_of(sent["ada"]), reason="Bounced Address"
    )
    assert post(tenant_client, [dropped]).status_code == 200
    queued = Delivery.objects.get(message=progress, subscriber=sent["ada"])
    assert queued.status == "failed"
    assert queued.error.startswith("not sent: ada@example.com is suppressed (rejected (bounced)")
    assert Delivery.objects.get(message=progress, subscriber=sent["bob"]).status == "pending"


@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_delivered_and_opened_events_change_nothing(sent, tenant_client) -> None:
    events = [
        sendgrid_event("delivered", "ada@example.com", message_id_of(sent["ada"]), response="250"),
        sendgrid_event("open", "ada@example.com", message_id_of(sent["ada"])),
    ]
    assert post(tenant_client, events).status_code == 200
    assert not Suppression.objects.exists()
    assert Delivery.objects.get(subscriber=sent["ada"]).status == "sent"


@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_wrong_credentials_are_refused(sent, tenant_client) -> None:
    bounce = sendgrid_event("bounce", "ada@example.com", message_id_of(sent["ada"]))
    assert post(tenant_client, [bounce], auth="clarion:guess").status_code == 400
    assert not Suppression.objects.exists()


@override_settings(ANYMAIL={"WEBHOOK_SECRET": ""})
def test_without_a_secret_the_webhook_is_closed(sent, tenant_client) -> None:
    bounce = sendgrid_event("bounce", "ada@example.com", message_id_of(sent["ada"]))
    response = post(tenant_client, [bounce])
    assert response.status_code == 403
    assert b"ANYMAIL_WEBHOOK_SECRET" in response.content
    assert not Suppression.objects.exists()


@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_a_bounce_on_another_tenants_host_stays_there(sent, tenant) -> None:
    bounce = sendgrid_event("bounce", "ada@example.com", message_id_of(sent["ada"]))
    assert post(Client(HTTP_HOST=OTHER_HOST), [bounce]).status_code == 200
    connection.set_tenant(tenant)
    assert not Suppression.objects.exists()
    assert Delivery.objects.get(subscriber=sent["ada"]).status == "sent"


def postmark_bounce(email: str, message_id: str, bounce_type: str = "HardBounce") -> dict:
    """A bounce as Postmark's bounce webhook posts it."""
    return {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": bounce_type,
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "clarion",
        "MessageID": message_id,
        "Metadata": {},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, "
        "mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "notifications@localhost",
        "BouncedAt": "2026-11-26T16:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "[P2] Payments failing",
    }


@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_a_postmark_hard_bounce(sent, tenant_client) -> None:
    provider_id = message_id_of(sent["bob"])  # Postmark's MessageID, as the backend recorded it
    response = tenant_client.post(
        "/anymail/postmark/tracking/",
        json.dumps(postmark_bounce("bob@example.com", provider_id)),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(SECRET),
    )
    assert response.status_code == 200
    assert Suppression.objects.get().address == "bob@example.com"
    bob = Delivery.objects.get(subscriber=sent["bob"])
    assert bob.status == "failed"
    assert bob.error == (
        "bounced: smtp;550 5.1.1 The email account that you tried to reach does not exist."
    )


@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_a_soft_bounce_fails_the_delivery_but_keeps_the_address(sent, tenant_client) -> None:
    event = postmark_bounce("bob@example.com", message_id_of(sent["bob"]), "SoftBounce")
    event["Details"] = "smtp;452 4.2.2 Mailbox full"
    response = tenant_client.post(
        "/anymail/postmark/tracking/",
        json.dumps(event),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(SECRET),
    )
    assert response.status_code == 200
    assert not Suppression.objects.exists()
    bob = Delivery.objects.get(subscriber=sent["bob"])
    assert (bob.status, bob.error) == ("failed", "soft bounce: smtp;452 4.2.2 Mailbox full")
