"""From a published incident update to each subscriber's inbox, exactly once, through a
real SMTP server."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.communications import delivery
from apps.communications.models import Delivery, Message
from apps.communications.services import (
    message_approve,
    message_cancel,
    message_draft,
    message_publish,
)
from apps.core.exceptions import Conflict, ValidationFailed
from apps.incidents.services import incident_open
from apps.subscribers.models import BroadcastDelivery, Subscriber
from apps.subscribers.tokens import manage_token_sign
from tests.factories import CustomerFactory, SubscriberFactory, SuppressionFactory

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
def audience(catalog) -> dict[str, Subscriber]:
    eu = CustomerFactory(region=catalog_region("eu"), time_zone="Europe/Paris")
    us = CustomerFactory(region=catalog_region("us"))
    return {
        "ada": SubscriberFactory(email="ada@example.com", name="Ada", customer=eu),
        "bob": SubscriberFactory(
            email="bob@example.com", customer=eu, time_zone="America/New_York"
        ),
        "us": SubscriberFactory(email="us@example.com", customer=us),  # other region
        "new": SubscriberFactory(email="new@example.com", customer=eu, unconfirmed=True),
        "api_only": SubscriberFactory(
            email="api@example.com", customer=eu, subscription__services=[catalog["api"]]
        ),
    }


def catalog_region(code: str):
    from apps.incidents.models import Region

    return Region.objects.get(code=code)


def published(incident, **kwargs) -> Message:
    message = message_draft(
        kind="initial_alert",
        update=incident.updates.get(),
        channels=["email"],
        actor=ACTOR,
        **kwargs,
    )
    return message_publish(message=message, actor=ACTOR, approver=True)


def test_a_published_alert_reaches_exactly_the_affected_subscribers(incident, audience, smtp):
    message = published(incident)
    assert message.state == "sending"
    delivery.fanout(message.pk)
    delivery.send_batch(message.pk, "email", list(Delivery.objects.values_list("id", flat=True)))
    assert sorted(m["To"] for m in smtp.accepted) == ["ada@example.com", "bob@example.com"]
    message.refresh_from_db()
    assert message.state == "sent" and message.audience == {"email": {"recipients": 2}}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_the_email_is_personal_local_and_unsubscribable(incident, audience, smtp) -> None:
    message = published(incident)
    delivery.fanout(message.pk)
    delivery.send_batch(message.pk, "email", list(Delivery.objects.values_list("id", flat=True)))
    ada = smtp.to("ada@example.com")[0]
    bob = smtp.to("bob@example.com")[0]
    assert ada["Subject"] == "[P2] Payments failing"
    text = ada.get_payload()[0].get_payload(decode=True).decode()
    html = ada.get_payload()[1].get_payload(decode=True).decode()
    assert text.startswith("Hello Ada,") and "<p>Hello Ada," in html
    assert "CET" in text  # the customer's zone
    assert "EST" in bob.get_payload()[0].get_payload(decode=True).decode()  # his own zone
    token = manage_token_sign(audience["ada"].manage_token)  # signed for this tenant
    unsubscribe = " ".join(ada["List-Unsubscribe"].split())  # unfold the header
    assert unsubscribe == f"<https://test.localhost/unsubscribe/{token}/>"
    assert ada["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"/subscriptions/{token}/" in text
    assert ada["Message-ID"].startswith(f"<clarion-{message.pk}-")


def test_fanning_out_or_sending_twice_sends_nothing_twice(incident, audience, smtp) -> None:
    message = published(incident)
    delivery.fanout(message.pk)
    delivery.fanout(message.pk)  # a redelivered fan-out task
    ids = list(Delivery.objects.values_list("id", flat=True))
    assert len(ids) == 2
    delivery.send_batch(message.pk, "email", ids)
    delivery.send_batch(message.pk, "email", ids)  # a redelivered batch
    message_publish(message=message, actor=ACTOR, approver=True)  # a second click
    assert len(smtp.accepted) == 2


def test_suppressed_addresses_get_nothing(incident, audience, smtp) -> None:
    SuppressionFactory(address="bob@example.com", reason="bounced")
    message = published(incident)
    delivery.fanout(message.pk)
    delivery.send_batch(message.pk, "email", list(Delivery.objects.values_list("id", flat=True)))
    assert [m["To"] for m in smtp.accepted] == ["ada@example.com"]


def test_a_temporary_refusal_is_retried_and_delivered(incident, audience, smtp) -> None:
    smtp.defer["bob@example.com"] = 1
    message = published(incident)
    delivery.fanout(message.pk)
    ids = list(Delivery.objects.values_list("id", flat=True))
    delivery.send_batch(message.pk, "email", ids)
    bob = Delivery.objects.get(subscriber=audience["bob"])
    assert bob.status == "pending" and "451" in bob.error
    assert bob.attempt_log.get().outcome == "transient"
    message.refresh_from_db()
    assert message.state == "sending"  # not done while a delivery is pending
    delivery.send_batch(message.pk, "email", [bob.pk])  # the retry
    bob.refresh_from_db()
    assert bob.status == "sent" and bob.attempts == 2
    assert len(smtp.to("bob@example.com")) == 1
    message.refresh_from_db()
    assert message.state == "sent"


def test_a_permanent_refusal_fails_that_delivery_with_its_reason(incident, audience, smtp):
    smtp.refuse["bob@example.com"] = "550 5.1.1 No such mailbox"
    message = published(incident)
    delivery.fanout(message.pk)
    delivery.send_batch(message.pk, "email", list(Delivery.objects.values_list("id", flat=True)))
    bob = Delivery.objects.get(subscriber=audience["bob"])
    assert bob.status == "failed" and "550" in bob.error and "No such mailbox" in bob.error
    assert Delivery.objects.get(subscriber=audience["ada"]).status == "sent"
    message.refresh_from_db()
    assert message.state == "sent"  # finished: every delivery has its outcome


def test_an_unreachable_server_leaves_deliveries_pending_with_the_reason(incident, audience):
    from django.test import override_settings

    message = published(incident)
    delivery.fanout(message.pk)
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=9,
        EMAIL_TIMEOUT=2,
    ):
        delivery.send_batch(
            message.pk, "email", list(Delivery.objects.values_list("id", flat=True))
        )
    for row in Delivery.objects.all():
        assert row.status == "pending" and "cannot connect" in row.error


def test_the_sweep_requeues_what_was_left_behind(incident, audience) -> None:
    message = published(incident)
    delivery.fanout(message.pk)
    long_ago = timezone.now() - timedelta(minutes=30)
    stuck = Delivery.objects.get(subscriber=audience["ada"])
    Delivery.objects.filter(pk=stuck.pk).update(status="sending", queued_at=long_ago)
    Delivery.objects.exclude(pk=stuck.pk).update(queued_at=long_ago)
    result = delivery.sweep()
    assert result["reset_stuck"] == 1 and result["requeued"] == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}


def test_a_row_whose_every_attempt_was_cut_off_fails_with_its_reason(incident, audience) -> None:
    """A worker killed mid-send, or a batch that crashes before recording, leaves its rows
    `sending`; the sweep puts them back, but only until their attempts are used up: then
    the row fails and says why, and the message can finish."""
    message = published(incident)
    delivery.fanout(message.pk)
    long_ago = timezone.now() - timedelta(minutes=30)
    rows = Delivery.objects.filter(message=message)
    doomed = rows.get(subscriber=audience["ada"])
    Delivery.objects.filter(pk=doomed.pk).update(
        status="sending", queued_at=long_ago, attempts=delivery.MAX_ATTEMPTS
    )
    rows.exclude(pk=doomed.pk).update(status="sent")
    result = delivery.sweep()
    assert (result["gave_up"], result["reset_stuck"]) == (1, 0)
    doomed.refresh_from_db()
    assert doomed.status == "failed" and doomed.error.startswith("gave up after 6 attempts")
    message.refresh_from_db()
    assert message.state == "sent"  # every row has its outcome


def test_a_broadcast_whose_every_attempt_was_cut_off_fails_and_the_message_finishes(
    incident, audience
) -> None:
    message = message_draft(
        kind="initial_alert",
        update=incident.updates.get(),
        channels=["email", "status_page"],
        actor=ACTOR,
    )
    message = message_publish(message=message, actor=ACTOR, approver=True)
    delivery.fanout(message.pk)
    Delivery.objects.filter(message=message).update(status="sent")
    long_ago = timezone.now() - timedelta(minutes=30)
    page = BroadcastDelivery.objects.get(message=message, channel="status_page")
    BroadcastDelivery.objects.filter(pk=page.pk).update(
        status="sending", queued_at=long_ago, attempts=delivery.MAX_ATTEMPTS
    )
    delivery.sweep()
    page.refresh_from_db()
    assert page.status == "failed" and page.error.startswith("gave up after 6 attempts")
    message.refresh_from_db()
    assert message.state == "sent"  # the stuck broadcast was its last unfinished item


def test_channels_may_be_narrowed_not_widened(incident) -> None:
    with pytest.raises(ValidationFailed) as caught:
        message_draft(
            kind="initial_alert",
            update=incident.updates.get(),
            channels=["email", "sms"],
            actor=ACTOR,
        )  # P2 sends no SMS
    assert "Not in the policy" in caught.value.fields["channels"][0]
    message = message_draft(kind="initial_alert", update=incident.updates.get(), actor=ACTOR)
    assert message.channels == [  # P2's policy, plus the subscribers' own endpoints
        "email",
        "in_app",
        "status_page",
        "social",
        "webhook",
        "slack",
        "teams",
    ]


def test_choosing_channels_for_an_update_with_a_draft_changes_that_draft(incident) -> None:
    """Posting the update drafted its message already (policy channels): a person narrowing
    the channels afterwards changes that draft, never makes a second message; once the
    message is approved, its channels are fixed."""
    update = incident.updates.get()
    drafted = message_draft(kind="initial_alert", update=update, actor=ACTOR)
    narrowed = message_draft(kind="initial_alert", update=update, channels=["email"], actor=ACTOR)
    assert narrowed.pk == drafted.pk and narrowed.channels == ["email"]
    assert Message.objects.filter(update=update).count() == 1
    assert set(narrowed.rendered) == {"email"}
    message_approve(message=narrowed, actor=ACTOR)
    with pytest.raises(Conflict, match="can no longer change"):
        message_draft(kind="initial_alert", update=update, channels=["slack"], actor=ACTOR)
    same = message_draft(kind="initial_alert", update=update, channels=["email"], actor=ACTOR)
    assert same.pk == drafted.pk


def test_an_empty_placeholder_blocks_approval_naming_it_and_the_channel(catalog) -> None:
    incident = incident_open(
        title="Slow API", severity="P3", services={"api": "degraded_performance"}, actor=ACTOR
    )
    message = message_draft(
        kind="progress_update", incident=incident, actor=ACTOR, channels=["status_page"]
    )  # no update: {{ update }} is empty
    with pytest.raises(ValidationFailed) as caught:
        message_approve(message=message, actor=ACTOR)
    assert (
        "The placeholder 'update' is empty in the status_page text."
        in caught.value.fields["context"]
    )


def test_p1_and_p2_messages_need_an_approver(catalog) -> None:
    incident = incident_open(
        title="Down",
        severity="P1",
        services={"api": "major_outage"},
        body="Investigating.",
        actor=ACTOR,
    )
    message = message_draft(kind="initial_alert", update=incident.updates.get(), actor=ACTOR)
    with pytest.raises(Conflict) as caught:
        message_publish(message=message, actor=ACTOR)
    assert caught.value.code == "approval_required"
    assert message_publish(message=message, actor=ACTOR, approver=True).state == "sending"


def test_nothing_external_before_impact_is_confirmed(catalog) -> None:
    incident = incident_open(title="Alert", severity="P3", source="grafana", actor=ACTOR)
    message = message_draft(
        kind="initial_alert", incident=incident, actor=ACTOR, extra={"update": "x"}
    )
    with pytest.raises(Conflict) as caught:
        message_approve(message=message, actor=ACTOR)
    assert caught.value.code == "impact_not_confirmed"


def test_a_cancelled_message_cannot_be_published(incident) -> None:
    message = message_draft(kind="initial_alert", update=incident.updates.get(), actor=ACTOR)
    message_cancel(message=message, actor=ACTOR)
    with pytest.raises(Conflict):
        message_publish(message=message, actor=ACTOR)


def test_a_posted_p3_update_is_published_at_once_p2_waits_for_approval(
    catalog, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        low = incident_open(
            title="Slow search",
            severity="P3",
            services={"api": "degraded_performance"},
            body="Search is slow.",
            actor=ACTOR,
        )
        high = incident_open(
            title="Payments down",
            severity="P2",
            services={"payments": "major_outage"},
            body="Payments fail.",
            actor=ACTOR,
        )
    assert Message.objects.get(incident=low).state == "sending"
    assert Message.objects.get(incident=low).kind == "initial_alert"
    assert Message.objects.get(incident=high).state == "draft"
    from apps.incidents.services import incident_post_update

    with django_capture_on_commit_callbacks(execute=True):
        incident_post_update(incident=low, body="Fix deployed.", actor=ACTOR)
        incident_post_update(incident=low, internal_note="quiet note", actor=ACTOR)
    kinds = list(Message.objects.filter(incident=low).order_by("id").values_list("kind", flat=True))
    assert kinds == ["initial_alert", "progress_update"]  # the internal note sent nothing


def test_the_api_lists_the_message_an_update_produced(
    catalog, api_client, django_capture_on_commit_callbacks
) -> None:
    incident = incident_open(
        title="Slow search", severity="P3", services={"api": "degraded_performance"}, actor=ACTOR
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            f"/api/v1/incidents/{incident.pk}/updates/",
            {"body": "Search is slow; we are on it."},
            format="json",
        )
    assert response.status_code == 201
    updates = api_client.get(f"/api/v1/incidents/{incident.pk}/updates/").json()["results"]
    message = Message.objects.get(update_id=updates[0]["id"])
    assert updates[0]["messages"] == [message.pk]
