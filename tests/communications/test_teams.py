"""Microsoft Teams webhooks (Adaptive Card) against a local fake: the card, retries and
refusals, and a legacy connector's 200 that reports a failure."""

import pytest

from apps.communications import delivery
from apps.communications.channels.teams import TeamsChannel
from apps.communications.models import Delivery
from apps.communications.services import message_draft, message_publish
from apps.incidents.services import incident_open
from tests.factories import SubscriberFactory
from tests.fakes_channels import channel_registered
from tests.fakes_chat import start_fake_chat

ACTOR = "pytest"


@pytest.fixture
def teams():
    fake, server = start_fake_chat(ok=(202, ""))
    with channel_registered(TeamsChannel(timeout=2)):
        yield fake
    server.shutdown()


@pytest.fixture
def endpoints(catalog, teams):
    return [
        SubscriberFactory(email="", teams_webhook_url=f"{teams.url}/workflows/{n}/triggers/manual")
        for n in range(3)
    ]


def publish():
    incident = incident_open(
        title="API errors",
        severity="P1",
        services={"api": "major_outage"},
        body="We are investigating API errors.",
        actor=ACTOR,
    )
    message = message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=["teams"], actor=ACTOR
    )
    message = message_publish(message=message, actor=ACTOR, approver=True)
    delivery.fanout(message.pk)
    return message


def ids() -> list[int]:
    return list(Delivery.objects.order_by("subscriber_id").values_list("id", flat=True))


def test_each_channel_gets_an_adaptive_card(teams, endpoints) -> None:
    message = publish()
    delivery.send_batch(message.pk, "teams", ids())
    assert len(teams.received) == 3
    got = teams.received[0].json
    assert got["type"] == "message"
    (attachment,) = got["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    (block,) = card["body"]
    assert block["type"] == "TextBlock" and block["wrap"] is True
    assert block["text"].startswith("Test Tenant: API errors (Investigating).")
    assert block["text"].endswith(f"https://test.localhost/incidents/{message.incident_id}/")
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Status page", "url": "https://test.localhost/"}
    ]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    message.refresh_from_db()
    assert message.state == "sent"


def test_503_and_429_retry_and_a_refusal_fails_with_the_reason(teams, endpoints) -> None:
    message = publish()
    teams.answers = [(503, "Service Unavailable"), (404, "Workflow not found"), (429, "")]
    first, second, third = ids()
    delivery.send_batch(message.pk, "teams", [first, second, third])
    rows = {r.pk: r for r in Delivery.objects.all()}
    assert rows[first].status == "pending" and rows[first].error.startswith("HTTP 503")
    assert rows[second].status == "failed"
    assert rows[second].error == "HTTP 404: Workflow not found"
    assert rows[third].status == "pending"
    delivery.send_batch(message.pk, "teams", [first, second, third])
    assert [Delivery.objects.get(pk=i).status for i in (first, second, third)] == [
        "sent",
        "failed",
        "sent",
    ]
    assert len(teams.received) == 5


def test_a_legacy_connector_reporting_a_throttle_in_a_200_is_retried(teams, endpoints):
    message = publish()
    teams.answers = [
        (
            200,
            "Webhook message delivery failed with error: Microsoft Teams endpoint returned "
            "HTTP error 429 with ContextId tcid=0,server=msgapi-canary-eus2-0,cv=deadbeef.0.",
        ),
        (200, "1"),  # a connector's success
    ]
    first, second, _ = ids()
    delivery.send_batch(message.pk, "teams", [first, second])
    throttled = Delivery.objects.get(pk=first)
    assert throttled.status == "pending" and throttled.error.startswith("HTTP 429: Webhook")
    assert Delivery.objects.get(pk=second).status == "sent"
