"""Broadcast channels: the in-app banner (and its Customer.io push), the status page and
social posts (log, X, LinkedIn through local fakes), each recorded once per message."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.communications import delivery
from apps.communications.channels import broadcast
from apps.communications.channels.in_app import InAppChannel
from apps.communications.channels.social import SocialChannel, little_escape
from apps.communications.models import MessageTemplate
from apps.communications.services import message_approve, message_draft, message_publish
from apps.core.exceptions import Conflict, ValidationFailed
from apps.core.tenancy import current_schema
from apps.incidents.models import Region
from apps.incidents.services import (
    incident_attach_child,
    incident_open,
    maintenance_schedule,
)
from apps.statuspage import store
from apps.subscribers.models import BroadcastDelivery
from tests.factories import CustomerFactory
from tests.fakes_channels import channel_registered
from tests.fakes_social import TOKEN, start_fake_social

ACTOR = "pytest"


@pytest.fixture
def incident(catalog):
    return incident_open(
        title="Payments failing",
        severity="P2",
        services={"payments": "major_outage"},
        regions=["eu"],
        body="We are investigating failed card payments.",
        actor=ACTOR,
    )


@pytest.fixture
def fake():
    fake, server = start_fake_social()
    yield fake
    server.shutdown()


def publish(incident, channels):
    message = message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=channels, actor=ACTOR
    )
    message = message_publish(message=message, actor=ACTOR, approver=True)
    delivery.fanout(message.pk)
    return message


def send_broadcasts(message) -> None:
    for channel in ("in_app", "status_page", "social"):
        ids = list(
            BroadcastDelivery.objects.filter(message=message, channel=channel).values_list(
                "id", flat=True
            )
        )
        if ids:
            delivery.send_batch(message.pk, channel, ids)


def test_each_broadcast_is_one_ledger_row_sent_once(incident, caplog) -> None:
    caplog.set_level(logging.INFO, logger="clarion.social")
    message = publish(incident, ["in_app", "status_page", "social"])
    delivery.fanout(message.pk)  # a redelivered fan-out task creates nothing
    rows = BroadcastDelivery.objects.filter(message=message)
    assert sorted(rows.values_list("channel", "target")) == [
        ("in_app", "banner"),
        ("social", "log"),
        ("status_page", "page"),
    ]
    message.refresh_from_db()
    assert message.audience["social"] == {"broadcast": ["log"]}
    assert message.state == "sending"  # not sent while its broadcasts are pending
    send_broadcasts(message)
    send_broadcasts(message)  # a redelivered batch posts nothing twice
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    posts = [r for r in caplog.records if r.name == "clarion.social"]
    assert len(posts) == 1
    assert "Payments failing in Europe (Investigating)" in posts[0].getMessage()
    assert "@@clarion" not in posts[0].getMessage()
    message.refresh_from_db()
    assert message.state == "sent"
    page = rows.get(channel="status_page")
    assert page.provider_id == f"https://test.localhost/incidents/{incident.pk}/"
    assert page.attempt_log[0]["outcome"] == "sent"


def test_the_api_counts_broadcasts_per_channel(incident, api_client) -> None:
    message = publish(incident, ["status_page", "social"])
    send_broadcasts(message)
    body = api_client.get(f"/api/v1/messages/{message.pk}/").json()
    assert body["deliveries"] == {"status_page": {"sent": 1}, "social": {"sent": 1}}
    assert body["broadcast_failures"] == []


def test_the_status_page_broadcast_refreshes_the_cached_page(incident) -> None:
    message = publish(incident, ["status_page"])
    before = store.version_current(current_schema())
    send_broadcasts(message)
    assert store.version_current(current_schema()) == before + 1


def test_the_banner_shows_the_in_app_line_in_the_customers_zone(incident, tenant_client):
    eu = Region.objects.get(code="eu")
    CustomerFactory(external_key="paris-co", region=eu, time_zone="Europe/Paris")
    CustomerFactory(external_key="dublin-co", region=eu, time_zone="UTC")
    banner = tenant_client.get("/api/v2/banner.json?customer=paris-co").json()["banners"][0]
    assert banner["message"] == "We are investigating failed card payments."  # the raw update
    MessageTemplate.objects.filter(kind="initial_alert", channel="in_app").update(
        source="{{ incident.title }} since {{ started_at|local:time_zone }}. {{ status_page_url }}"
    )
    message = publish(incident, ["in_app"])
    send_broadcasts(message)
    banner = tenant_client.get("/api/v2/banner.json?customer=paris-co").json()["banners"][0]
    assert banner["message"].startswith("Payments failing since ")
    assert banner["message"].endswith(f"CET. https://test.localhost/incidents/{incident.pk}/")
    dublin = tenant_client.get("/api/v2/banner.json?customer=dublin-co").json()["banners"][0]
    assert " UTC. " in dublin["message"]  # each customer's own zone, named


def test_the_banner_is_pushed_to_customerio(incident, fake) -> None:
    channel = InAppChannel(
        customerio_api_key=TOKEN, customerio_broadcast_id="7", customerio_url=fake.url
    )
    with channel_registered(channel):
        message = publish(incident, ["in_app"])
        send_broadcasts(message)
    push = BroadcastDelivery.objects.get(message=message, target="customerio")
    assert push.status == "sent" and push.provider_id
    [request] = fake.to("/v1/campaigns/7/triggers")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.json["data"]["headline"].startswith("Test Tenant: Payments failing")
    assert request.json["data"]["incident"] == str(incident.pk)


def test_x_and_linkedin_posts(incident, fake) -> None:
    channel = SocialChannel(
        providers=["x", "linkedin"],
        x_url=fake.url,
        x_token=TOKEN,
        linkedin_url=fake.url,
        linkedin_token=TOKEN,
        linkedin_author="urn:li:organization:2414183",
    )
    with channel_registered(channel):
        message = publish(incident, ["social"])
        send_broadcasts(message)
        send_broadcasts(message)
    rows = {r.target: r for r in BroadcastDelivery.objects.filter(message=message)}
    assert rows["x"].status == "sent" and rows["x"].provider_id.isdigit()
    assert rows["linkedin"].provider_id.startswith("urn:li:share:")
    [tweet] = fake.to("/2/tweets")
    assert tweet.json["text"].startswith("Test Tenant: Payments failing in Europe (Investigating).")
    [post] = fake.to("/rest/posts")
    assert post.json["author"] == "urn:li:organization:2414183"
    assert r"Payments failing in Europe \(Investigating\)." in post.json["commentary"]
    assert f"https://test.localhost/incidents/{incident.pk}/" in post.json["commentary"]
    assert post.headers["X-Restli-Protocol-Version"] == "2.0.0"


def test_a_rate_limited_post_is_retried_and_a_refused_one_fails_with_the_reason(
    incident, fake
) -> None:
    channel = SocialChannel(providers=["x"], x_url=fake.url, x_token="expired")
    fake.answers.append((429, "Too Many Requests"))
    with channel_registered(channel):
        message = publish(incident, ["social"])
        send_broadcasts(message)
        row = BroadcastDelivery.objects.get(message=message)
        assert row.status == "pending" and "429" in row.error
        send_broadcasts(message)  # the retry: the token is refused
    row.refresh_from_db()
    assert row.status == "failed" and row.attempts == 2
    assert row.error.startswith("X HTTP 401")
    assert [a["outcome"] for a in row.attempt_log] == ["transient", "permanent"]
    message.refresh_from_db()
    assert message.state == "sent"  # finished, with a failure the message page shows


def test_a_social_text_over_280_characters_cannot_be_approved(incident) -> None:
    MessageTemplate.objects.filter(kind="initial_alert", channel="social").update(
        source="{{ update }} " + "x" * 260
    )
    message = message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=["social"], actor=ACTOR
    )
    with pytest.raises(ValidationFailed) as caught:
        message_approve(message=message, actor=ACTOR)
    [problem] = caught.value.fields["channels"]
    assert problem.startswith("social: The social text is ")
    assert "a post holds 280" in problem


def test_linkedin_little_format_escapes_reserved_characters_but_not_urls() -> None:
    assert little_escape("API (EU) #1 down: https://x.test/a_(b)") == (
        r"API \(EU\) \#1 down: https://x.test/a_(b)"
    )


def test_the_task_name_is_the_one_the_fanout_uses() -> None:
    assert broadcast.SEND_TASK == delivery.SEND_BATCH


def test_channels_may_be_widened_by_an_approver_only_and_then_need_approval(catalog) -> None:
    incident = incident_open(
        title="Slow API",
        severity="P3",  # policy: in-app and status page
        services={"api": "degraded_performance"},
        body="The API is slow.",
        actor=ACTOR,
    )
    update = incident.updates.get()
    with pytest.raises(ValidationFailed) as caught:
        message_draft(kind="initial_alert", update=update, channels=["email"], actor=ACTOR)
    assert caught.value.fields["channels"] == ["Not in the policy for this message: email."]
    with pytest.raises(ValidationFailed) as caught:
        message_draft(kind="initial_alert", update=update, channels=["fax"], actor=ACTOR)
    assert caught.value.fields["channels"][0].startswith("Unknown: fax;")
    narrowed = message_draft(
        kind="initial_alert", update=update, channels=["status_page"], actor=ACTOR
    )
    assert narrowed.channels == ["status_page"] and not narrowed.requires_approval
    narrowed.delete()
    widened = message_draft(
        kind="initial_alert",
        update=update,
        channels=["status_page", "email"],
        approver=True,
        actor=ACTOR,
    )
    assert widened.requires_approval  # a P3 message, but widened past the policy
    with pytest.raises(Conflict) as refused:
        message_publish(message=widened, actor=ACTOR)
    assert refused.value.code == "approval_required"
    assert message_publish(message=widened, actor=ACTOR, approver=True).state == "sending"


def test_a_maintenance_notice_reaches_the_page_and_the_banner(catalog, tenant_client) -> None:
    CustomerFactory(external_key="paris-co", time_zone="Europe/Paris")
    start = timezone.now() + timedelta(hours=3)
    window = maintenance_schedule(
        title="Payments maintenance",
        services=["payments"],
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        customer_action="Retry failed payments after the window.",
        actor=ACTOR,
    )
    message = message_draft(
        kind="maintenance_notice",
        maintenance=window,
        channels=["in_app", "status_page"],
        actor=ACTOR,
    )
    message = message_publish(message=message, actor=ACTOR)
    delivery.fanout(message.pk)
    send_broadcasts(message)
    rows = BroadcastDelivery.objects.filter(message=message)
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    banners = tenant_client.get("/api/v2/banner.json?customer=paris-co").json()["banners"]
    [banner] = [b for b in banners if b["id"] == f"maintenance-{window.pk}"]
    assert banner["message"].startswith("Test Tenant: maintenance ")
    assert " CET to " in banner["message"]


def test_the_page_broadcast_fails_with_the_reason_when_the_incident_left_the_page(
    incident, catalog
) -> None:
    parent = incident_open(
        title="Checkout down",
        severity="P2",
        services={"payments": "major_outage"},
        body="Checkout is down.",
        actor=ACTOR,
    )
    message = publish(incident, ["status_page"])
    incident_attach_child(child=incident, parent=parent, actor=ACTOR)  # its parent speaks
    send_broadcasts(message)
    row = BroadcastDelivery.objects.get(message=message)
    assert row.status == "failed"
    assert row.error == (
        f"Incident #{incident.pk} is not on the status page (customer impact not confirmed, "
        "or it is attached to a parent)."
    )
