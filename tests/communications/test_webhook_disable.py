"""A subscriber webhook endpoint that keeps failing is disabled, its owner told by e-mail,
and it gets no new deliveries until it is turned back on."""

import base64
import secrets

import pytest
from django.core import mail
from django.test import override_settings

from apps.communications import delivery
from apps.communications.channels.endpoint_health import DISABLED_REASON
from apps.communications.models import Delivery
from apps.communications.services import message_draft, message_publish
from apps.core.models import AuditEvent
from apps.incidents.services import incident_open
from apps.subscribers.services import subscriber_update, subscriber_webhook_enable
from tests.factories import SubscriberFactory
from tests.webhook_receiver import start_receiver

ACTOR = "pytest"


@pytest.fixture
def receiver():
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()


@pytest.fixture
def incident(catalog):
    return incident_open(
        title="API errors",
        severity="P2",
        services={"api": "major_outage"},
        body="We are investigating API errors.",
        actor=ACTOR,
    )


@pytest.fixture
def endpoint(catalog, receiver):
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    return SubscriberFactory(
        email="ops@example.com",
        name="Ops",
        webhook_url=f"{receiver.url}/hook",
        webhook_secret=secret,
        subscription__channels=["webhook"],
    )


def send_update(incident, n: int, capture) -> Delivery:
    message = message_draft(
        kind="progress_update",
        incident=incident,
        channels=["webhook"],
        extra={"update": f"Update {n}."},
        actor=ACTOR,
    )
    message = message_publish(message=message, actor=ACTOR, approver=True)
    delivery.fanout(message.pk)
    row = Delivery.objects.get(message=message)
    with capture(execute=True):
        delivery.send_batch(message.pk, "webhook", [row.pk])
    row.refresh_from_db()
    return row


@override_settings(CLARION_WEBHOOK_DISABLE_AFTER=3)
def test_three_failures_in_a_row_disable_the_endpoint_and_tell_its_owner(
    incident, endpoint, receiver, django_capture_on_commit_callbacks
) -> None:
    receiver.statuses = [410, 410, 410]
    rows = [send_update(incident, n, django_capture_on_commit_callbacks) for n in range(3)]
    assert [r.status for r in rows] == ["failed"] * 3
    endpoint.refresh_from_db()
    assert endpoint.webhook_disabled_at is not None
    reason = endpoint.webhook_disabled_reason
    assert reason.startswith("3 deliveries failed in a row; last: HTTP 410")
    [notice] = mail.outbox
    assert notice.to == ["ops@example.com"]
    assert notice.subject == "Test Tenant: your webhook endpoint is disabled"
    assert f"{receiver.url}/hook" in notice.body and "/subscriptions/" in notice.body
    assert AuditEvent.objects.filter(action="subscriber.webhook_disabled").count() == 1

    fourth = send_update(incident, 3, django_capture_on_commit_callbacks)
    assert fourth.status == "failed" and fourth.error == DISABLED_REASON
    assert fourth.attempts == 0  # never sent
    assert len(receiver.received) == 3
    endpoint.refresh_from_db()
    assert endpoint.webhook_failures == 3  # a skipped delivery is not another failure
    assert len(mail.outbox) == 1  # told once

    subscriber_webhook_enable(subscriber=endpoint, actor=ACTOR)
    fifth = send_update(incident, 4, django_capture_on_commit_callbacks)
    assert fifth.status == "sent" and len(receiver.received) == 4


@override_settings(CLARION_WEBHOOK_DISABLE_AFTER=3)
def test_a_success_resets_the_count(
    incident, endpoint, receiver, django_capture_on_commit_callbacks
) -> None:
    receiver.statuses = [404, 404, 204, 404, 404]
    for n in range(5):
        send_update(incident, n, django_capture_on_commit_callbacks)
    endpoint.refresh_from_db()
    assert endpoint.webhook_disabled_at is None and endpoint.webhook_failures == 2
    assert not mail.outbox


@override_settings(CLARION_WEBHOOK_DISABLE_AFTER=1)
def test_a_transient_failure_counts_once_the_retries_are_exhausted(
    incident, endpoint, receiver, django_capture_on_commit_callbacks
) -> None:
    receiver.statuses = [503, 503]
    message = message_draft(
        kind="progress_update",
        incident=incident,
        channels=["webhook"],
        extra={"update": "Still on it."},
        actor=ACTOR,
    )
    message = message_publish(message=message, actor=ACTOR, approver=True)
    delivery.fanout(message.pk)
    row = Delivery.objects.get(message=message)
    with django_capture_on_commit_callbacks(execute=True):
        delivery.send_batch(message.pk, "webhook", [row.pk])
    endpoint.refresh_from_db()
    assert endpoint.webhook_failures == 0  # being retried: not a failure yet
    Delivery.objects.filter(pk=row.pk).update(attempts=delivery.MAX_ATTEMPTS - 1)
    with django_capture_on_commit_callbacks(execute=True):
        delivery.send_batch(message.pk, "webhook", [row.pk])  # the last retry
    row.refresh_from_db()
    assert row.status == "failed" and row.error.startswith("gave up after 6 attempts: HTTP 503")
    endpoint.refresh_from_db()
    assert endpoint.webhook_disabled_at is not None
    assert mail.outbox[0].to == ["ops@example.com"]


@override_settings(CLARION_WEBHOOK_DISABLE_AFTER=1)
def test_an_endpoint_without_an_email_address_is_disabled_and_says_nobody_was_told(
    incident, receiver, catalog, django_capture_on_commit_callbacks
) -> None:
    quiet = SubscriberFactory(
        email="",
        webhook_url=f"{receiver.url}/quiet",
        webhook_secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
    )
    receiver.statuses = [404]
    send_update(incident, 0, django_capture_on_commit_callbacks)
    quiet.refresh_from_db()
    assert quiet.webhook_disabled_at is not None
    assert quiet.webhook_disabled_reason.endswith("(no e-mail address to tell)")
    assert not mail.outbox


@override_settings(CLARION_WEBHOOK_DISABLE_AFTER=2)
def test_a_new_webhook_url_starts_afresh(
    incident, endpoint, receiver, django_capture_on_commit_callbacks
) -> None:
    receiver.statuses = [410, 410, 204]
    for n in range(2):
        send_update(incident, n, django_capture_on_commit_callbacks)
    endpoint.refresh_from_db()
    assert endpoint.webhook_disabled_at is not None
    old_secret = endpoint.webhook_secret
    with override_settings(DEBUG=True):  # the local receiver is on loopback
        subscriber_update(subscriber=endpoint, webhook_url=f"{receiver.url}/new-hook", actor=ACTOR)
    endpoint.refresh_from_db()
    assert endpoint.webhook_disabled_at is None and endpoint.webhook_failures == 0
    assert endpoint.webhook_disabled_reason == "" and endpoint.webhook_secret != old_secret
    third = send_update(incident, 2, django_capture_on_commit_callbacks)
    assert third.status == "sent" and receiver.received[-1].path.endswith("/new-hook")
