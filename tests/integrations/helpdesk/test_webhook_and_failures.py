"""The Zendesk webhook (signature, staleness, idempotency, speed), 429 with Retry-After,
and a help desk that is down while customer notifications still go out."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.test import Client

from apps.communications.models import Delivery
from apps.communications.services import message_publish
from apps.integrations.models_support import (
    HelpdeskAction,
    HelpdeskProblem,
    HelpdeskTicketLink,
    HelpdeskWebhookDelivery,
)
from apps.integrations.outbound.helpdesk import RateLimited
from apps.integrations.services.helpdesk import helpdesk_flag
from apps.integrations.tasks_support import helpdesk_flag as helpdesk_flag_task
from apps.integrations.tasks_support import helpdesk_sweep, helpdesk_ticket
from config.celery import app as celery_app
from tests.conftest import OTHER_HOST
from tests.integrations.helpdesk.conftest import ACTOR, open_payments_incident, post_webhook, sign


def test_forged_unsigned_and_stale_calls_are_refused_and_store_nothing(
    zendesk_installation,
) -> None:
    payload = {"ticket_id": "1001"}
    forged = post_webhook(zendesk_installation, payload, secret="not-the-secret")
    stale = post_webhook(zendesk_installation, payload, at=datetime.now(UTC) - timedelta(minutes=6))
    unsigned = Client(HTTP_HOST="test.localhost").post(
        zendesk_installation.hook_path, data=payload, content_type="application/json"
    )
    wrong_token = Client(HTTP_HOST="test.localhost").post(
        "/hooks/zendesk/nope/", data=payload, content_type="application/json"
    )
    assert [r.status_code for r in (forged, stale, unsigned, wrong_token)] == [401] * 4
    assert forged.json()["error"]["code"] == "signature_invalid"
    assert stale.json()["error"]["code"] == "stale"
    assert unsigned.json()["error"]["code"] == "signature_missing"
    assert not HelpdeskWebhookDelivery.objects.exists()


def test_another_tenants_host_does_not_know_the_hook(zendesk_installation) -> None:
    body = b'{"ticket_id": "1001"}'
    response = Client(HTTP_HOST=OTHER_HOST).post(
        zendesk_installation.hook_path,
        data=body,
        content_type="application/json",
        headers=sign(body),
    )
    assert response.status_code == 401


def test_the_same_webhook_delivered_twice_links_once_and_answers_fast(
    zendesk, zendesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_payments_incident(started_at=datetime.now(UTC) - timedelta(minutes=5))
    assert HelpdeskProblem.objects.get(incident=incident).flagged_at is not None
    ticket = zendesk.add_ticket("Payments fail", "card error")
    started = time.monotonic()
    first = post_webhook(zendesk_installation, {"ticket_id": str(ticket)})
    elapsed = time.monotonic() - started
    assert first.status_code == 202 and first.json() == {"status": "accepted"}
    assert elapsed < 0.2  # stored and queued; the Zendesk work runs in the task
    # (the test transaction never commits: run the queued task as the worker would)
    helpdesk_ticket.delay(HelpdeskWebhookDelivery.objects.get().pk)
    with django_capture_on_commit_callbacks(execute=True):
        again = post_webhook(zendesk_installation, {"ticket_id": str(ticket)})
    assert again.status_code == 202 and again.json() == {"status": "duplicate"}
    links = [c for c in zendesk.writes("PUT") if c.path == f"/api/v2/tickets/{ticket}.json"]
    assert len([c for c in links if "problem_id" in c.body["ticket"]]) == 1
    assert HelpdeskTicketLink.objects.filter(ticket_id=str(ticket)).count() == 1
    assert HelpdeskWebhookDelivery.objects.count() == 1


def test_a_429_with_a_short_retry_after_is_waited_out(zendesk, zendesk_installation) -> None:
    zendesk.add_ticket("Payments fail", "card error")
    incident = open_payments_incident(started_at=datetime.now(UTC) - timedelta(minutes=5))
    zendesk.answers.append((429, {"Retry-After": "1"}, {"error": "TooManyRequests"}))
    started = time.monotonic()
    problem = helpdesk_flag(incident_id=incident.pk)
    assert time.monotonic() - started >= 1.0
    assert problem is not None and problem.flagged_at is not None
    assert HelpdeskTicketLink.objects.filter(incident=incident).count() == 1


def test_a_429_with_a_long_retry_after_is_recorded_and_retried_after_it(
    zendesk, zendesk_installation, eager
) -> None:
    incident = open_payments_incident(started_at=datetime.now(UTC) - timedelta(minutes=5))
    zendesk.answers.append((429, {"Retry-After": "120"}, {"error": "TooManyRequests"}))
    try:
        helpdesk_flag(incident_id=incident.pk)
    except RateLimited as exc:
        assert exc.retry_after == 120
    else:
        raise AssertionError("a long Retry-After must not be slept through")
    failed = HelpdeskAction.objects.get(incident=incident, action="problem_created")
    assert failed.outcome == "failed" and "retry after 120 s" in failed.detail
    # The task retries (eagerly here, at once) and the second attempt succeeds.
    zendesk.answers.append((429, {"Retry-After": "120"}, {"error": "TooManyRequests"}))
    assert helpdesk_flag_task.delay(incident.pk).get() == "flagged"
    assert len(zendesk.writes("POST")) == 3  # two refused attempts, one created problem


def test_helpdesk_down_never_delays_customer_notifications(
    zendesk, zendesk_installation, world, eager, django_capture_on_commit_callbacks
) -> None:
    zendesk.down = True
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_payments_incident(severity="P2")
    message = incident.messages.get()
    with django_capture_on_commit_callbacks(execute=True):
        message_publish(message=message, actor=ACTOR, approver=True)
    # The fan-out ran at once: the e-mail delivery is written and queued on `send.email`.
    delivery = Delivery.objects.get(message=message, channel="email")
    assert delivery.subscriber.email == "ops@initech.example"
    message.refresh_from_db()
    assert message.state in ("sending", "sent")
    assert HelpdeskAction.objects.filter(incident=incident, outcome="failed").exists()
    assert not HelpdeskProblem.objects.exclude(external_id="").exists()
    # Separate queues: the help desk's tasks never share one with customer notifications.
    router = celery_app.amqp.router
    assert router.route({}, "integrations.helpdesk_flag")["queue"].name == "integrations"
    assert router.route({}, "communications.fanout_message")["queue"].name == "fanout"
    # Zendesk comes back: the per-tenant sweep finishes the job.
    zendesk.down = False
    assert helpdesk_sweep() == {"flag": 1, "close": 0}
    assert HelpdeskProblem.objects.get(incident=incident).flagged_at is not None
