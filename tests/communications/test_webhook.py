"""Subscriber webhooks: Statuspage's body, Standard Webhooks signatures checked by an
independent implementation, retries and refusals."""

import base64
import json
import secrets

import pytest
from standardwebhooks.webhooks import Webhook

from apps.communications import delivery
from apps.communications.models import Delivery
from apps.communications.services import message_draft, message_publish
from apps.incidents.services import incident_open
from apps.subscribers.tokens import manage_token_sign
from tests.factories import SubscriberFactory
from tests.webhook_receiver import start_receiver

ACTOR = "pytest"


@pytest.fixture
def receiver():
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()


def whsec() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@pytest.fixture
def subscribers(catalog, receiver):
    return [
        SubscriberFactory(email="", webhook_url=f"{receiver.url}/{n}", webhook_secret=whsec())
        for n in range(3)
    ]


def publish_webhooks(catalog):
    incident = incident_open(
        title="API errors",
        severity="P2",
        services={"api": "major_outage"},
        body="We are investigating API errors.",
        actor=ACTOR,
    )
    message = message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=["webhook"], actor=ACTOR
    )
    message = message_publish(message=message, actor=ACTOR, approver=True)
    delivery.fanout(message.pk)
    return incident, message


def send_all(message) -> None:
    delivery.send_batch(message.pk, "webhook", list(Delivery.objects.values_list("id", flat=True)))


def test_every_webhook_is_signed_and_verifies_independently(catalog, subscribers, receiver):
    _, message = publish_webhooks(catalog)
    send_all(message)
    assert len(receiver.received) == 3
    for subscriber, got in zip(
        subscribers, sorted(receiver.received, key=lambda r: r.path), strict=True
    ):
        headers = {k.lower(): v for k, v in got.headers.items()}
        assert headers["webhook-signature"].startswith("v1,")
        payload = Webhook(subscriber.webhook_secret).verify(got.body, headers)
        assert payload["incident"]["name"] == "API errors"
        assert payload["incident"]["impact"] == "major"
        assert payload["page"] == {
            "id": "test",
            "status_indicator": "major",
            "status_description": "Partial System Outage",
        }
        signed = manage_token_sign(subscriber.manage_token)
        assert payload["meta"]["unsubscribe"].endswith(f"/unsubscribe/{signed}/")
        assert headers["webhook-id"] == f"clarion-{message.pk}-{subscriber.pk}-webhook"


def test_a_forged_signature_does_not_verify(catalog, subscribers, receiver) -> None:
    _, message = publish_webhooks(catalog)
    send_all(message)
    got = receiver.received[0]
    headers = {k.lower(): v for k, v in got.headers.items()}
    tampered = json.dumps({**json.loads(got.body), "incident": {"name": "forged"}}).encode()
    from standardwebhooks.webhooks import WebhookVerificationError

    with pytest.raises(WebhookVerificationError):
        Webhook(subscribers[0].webhook_secret).verify(tampered, headers)


def test_5xx_is_retried_and_4xx_fails_with_the_reason(catalog, subscribers, receiver) -> None:
    _, message = publish_webhooks(catalog)
    receiver.statuses = [503, 410, 204]
    ids = list(Delivery.objects.order_by("id").values_list("id", flat=True))
    delivery.send_batch(message.pk, "webhook", ids)
    statuses = [Delivery.objects.get(pk=i).status for i in ids]
    assert statuses == ["pending", "failed", "sent"]
    assert Delivery.objects.get(pk=ids[1]).error.startswith("HTTP 410")
    delivery.send_batch(message.pk, "webhook", [ids[0]])
    assert Delivery.objects.get(pk=ids[0]).status == "sent"
    assert len(receiver.received) == 4  # 3 first tries + 1 retry; nothing twice
