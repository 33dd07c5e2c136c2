"""Slack through the real `slack_sdk` WebhookClient against a local fake incoming webhook:
what the channel shows, per-recipient wording, retries and refusals."""

import pytest

from apps.communications import delivery
from apps.communications.channels.slack import SlackChannel
from apps.communications.models import Delivery, MessageTemplate
from apps.communications.services import message_draft, message_publish
from apps.incidents.services import incident_open
from tests.factories import SubscriberFactory
from tests.fakes_channels import channel_registered
from tests.fakes_chat import start_fake_chat

ACTOR = "pytest"


@pytest.fixture
def slack():
    fake, server = start_fake_chat(ok=(200, "ok"))
    with channel_registered(SlackChannel(timeout=2)):
        yield fake
    server.shutdown()


@pytest.fixture
def workspaces(catalog, slack):
    return [
        SubscriberFactory(
            email="", name=name, slack_webhook_url=f"{slack.url}/services/T0/B{n}/secret{n}"
        )
        for n, name in enumerate(["Ada", "Bob", "Cy"])
    ]


def publish(title: str = "Payments & refunds failing <EU>"):
    incident = incident_open(
        title=title,
        severity="P1",
        services={"payments": "major_outage"},
        body="We are investigating failed card payments.",
        actor=ACTOR,
    )
    message = message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=["slack"], actor=ACTOR
    )
    message = message_publish(message=message, actor=ACTOR, approver=True)
    delivery.fanout(message.pk)
    return message


def ids() -> list[int]:
    return list(Delivery.objects.order_by("subscriber_id").values_list("id", flat=True))


def test_each_workspace_gets_the_text_and_blocks(slack, workspaces) -> None:
    message = publish()
    delivery.send_batch(message.pk, "slack", ids())
    assert sorted(p.path for p in slack.received) == [
        "/services/T0/B0/secret0",
        "/services/T0/B1/secret1",
        "/services/T0/B2/secret2",
    ]
    got = slack.received[0].json
    link = f"https://test.localhost/incidents/{message.incident_id}/"
    assert got["text"].startswith("Test Tenant: Payments & refunds failing <EU> (Investigating).")
    assert got["text"].endswith(link)
    section, context = got["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    # Slack's control characters are escaped, so the title shows as written
    assert section["text"]["text"].startswith(
        "Test Tenant: Payments &amp; refunds failing &lt;EU&gt; (Investigating)."
    )
    assert context == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "<https://test.localhost/|Status page>"}],
    }
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    message.refresh_from_db()
    assert message.state == "sent" and message.audience == {"slack": {"recipients": 3}}


def test_per_recipient_wording_reaches_each_workspace(slack, workspaces) -> None:
    MessageTemplate.objects.filter(kind="initial_alert", channel="slack", part="text").update(
        source="Hi {{ recipient_name }}: {{ incident.title }}. Manage: {{ manage_url }}"
    )
    message = publish(title="API errors")
    delivery.send_batch(message.pk, "slack", ids())
    texts = sorted(p.json["text"] for p in slack.received)
    assert [t.split(". Manage: ")[0] for t in texts] == [
        "Hi Ada: API errors",
        "Hi Bob: API errors",
        "Hi Cy: API errors",
    ]
    assert all("/subscriptions/" in t and "@@clarion" not in t for t in texts)


def test_rate_limits_and_outages_retry_refusals_fail_with_slacks_reason(slack, workspaces):
    message = publish()
    slack.answers = [(429, "rate_limited"), (404, "no_service"), (410, "channel_is_archived")]
    first, second, third = ids()
    delivery.send_batch(message.pk, "slack", [first, second, third])
    rows = {r.pk: r for r in Delivery.objects.all()}
    assert rows[first].status == "pending" and rows[first].error == "HTTP 429: rate_limited"
    assert rows[second].status == "failed" and rows[second].error == "HTTP 404: no_service"
    assert rows[third].status == "failed"
    assert rows[third].error == "HTTP 410: channel_is_archived"
    slack.answers = [(500, "rollup_error")]
    delivery.send_batch(message.pk, "slack", [first])
    assert Delivery.objects.get(pk=first).status == "pending"
    delivery.send_batch(message.pk, "slack", [first, second, third])
    assert Delivery.objects.get(pk=first).status == "sent"
    assert len(slack.received) == 5  # 3 first tries + 2 retries of the first; no refusal resent


def test_an_unreachable_webhook_is_retried(catalog) -> None:
    fake, server = start_fake_chat()
    server.shutdown()
    server.server_close()  # nothing listens on that port any more
    SubscriberFactory(email="", slack_webhook_url=f"{fake.url}/services/T0/B0/gone")
    with channel_registered(SlackChannel(timeout=2)):
        message = publish()
        delivery.send_batch(message.pk, "slack", ids())
    row = Delivery.objects.get()
    assert row.status == "pending" and "refused" in row.error.lower()
