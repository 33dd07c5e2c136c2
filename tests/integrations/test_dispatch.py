"""From stored events to tasks: the hook only kicks the dispatcher (and not even that while
one is pending); the dispatcher sends each new event to the workers once, in batches, and
looks again until a round finds nothing; the sweep recovers lost messages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery.signals import before_task_publish
from django.utils import timezone

from apps.core.periodic import tenant_jobs
from apps.integrations import kv
from apps.integrations.choices import EventStatus, Source
from apps.integrations.inbound.base import inbound_sources
from apps.integrations.models import InboundEvent
from apps.integrations.selectors import hook_cache_clear
from apps.integrations.services import (
    inbound,
    inbound_events_store,
    inbound_events_sweep,
    integration_create,
)
from apps.integrations.services.inbound import (
    DISPATCH_EVENTS,
    FOLLOW_UP_SECONDS,
    KICK_MEMORY_SECONDS,
    PROCESS_BATCH,
    PROCESS_EVENTS,
    _kick,
    _kick_key,
    inbound_events_dispatch,
    kick_claim,
)
from apps.integrations.tasks import process_events
from tests.integrations.conftest import am_alert, am_payload
from tests.processes import RedisServer, private_broker


@pytest.fixture(autouse=True)
def _no_pending_kick(tenant_db) -> None:
    kv.client().delete(_kick_key("test"))
    inbound._kick_seen.clear()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis of this module's own as the broker: what these tests send stays queued
    there, out of reach of the session's worker (which would run it meanwhile)."""
    with private_broker(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def published(broker: RedisServer) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """(task name, message headers) of every task this test's thread sends."""
    sent: list[tuple[str, dict[str, Any]]] = []
    thread = threading.get_ident()

    def record(sender: str, headers: dict[str, Any], body: Any, **_: Any) -> None:
        if threading.get_ident() == thread:  # not what the session's worker thread sends
            sent.append((sender, {**headers, "args": body[0], "kwargs": body[1]}))

    before_task_publish.connect(record, weak=False)
    try:
        yield sent
    finally:
        before_task_publish.disconnect(record)


def store(integration, *fingerprints: str) -> None:
    envelopes = inbound_sources[Source.ALERTMANAGER].split(
        am_payload(*(am_alert(f) for f in fingerprints)), {}
    )
    inbound_events_store(integration=integration, envelopes=envelopes, headers={})


def test_one_kick_per_burst_until_the_dispatcher_runs(alertmanager) -> None:
    assert kick_claim() is True
    assert kick_claim() is False  # a dispatcher is already on its way
    assert inbound_events_dispatch() == []  # it runs (nothing to do) and clears the kick
    assert kick_claim() is True


def test_the_dispatcher_claims_each_new_event_once_in_order(
    alertmanager, django_capture_on_commit_callbacks
) -> None:
    integration, _ = alertmanager
    store(integration, "f1", "f2")
    store(integration, "f3")
    with django_capture_on_commit_callbacks() as sends:
        claimed = inbound_events_dispatch()
    ids = list(InboundEvent.objects.order_by("pk").values_list("pk", flat=True))
    assert claimed == ids
    assert len(sends) == 2  # the tasks and the next round go out once the claim is committed
    assert not InboundEvent.objects.filter(queued_at__isnull=True).exists()
    assert inbound_events_dispatch() == []


def test_events_go_to_the_workers_in_batches_and_the_dispatcher_looks_again(
    alertmanager, published, django_capture_on_commit_callbacks
) -> None:
    integration, _ = alertmanager
    store(integration, *(f"f{n}" for n in range(PROCESS_BATCH + 5)))
    with django_capture_on_commit_callbacks(execute=True):
        claimed = inbound_events_dispatch()
    batches = [h["args"][0] for name, h in published if name == PROCESS_EVENTS]
    assert batches == [claimed[:PROCESS_BATCH], claimed[PROCESS_BATCH:]]
    [follow_up] = [h for n, h in published if n == DISPATCH_EVENTS]
    assert follow_up["eta"] is not None and follow_up["kwargs"] == {}
    assert kv.client().get(_kick_key("test")) is not None  # hooks need not kick meanwhile


def test_a_full_batch_sends_the_next_round_at_once(
    alertmanager, published, django_capture_on_commit_callbacks
) -> None:
    integration, _ = alertmanager
    store(integration, "f1", "f2", "f3")
    with django_capture_on_commit_callbacks(execute=True):
        assert len(inbound_events_dispatch(limit=2)) == 2
    [follow_up] = [h for name, h in published if name == DISPATCH_EVENTS]
    assert follow_up["eta"] is None


def test_a_hook_that_skipped_the_kick_is_claimed_by_the_last_round(
    alertmanager, published, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    """The race the kick memory opens: a round clears the kick just before a hook, which
    saw it pending a moment ago, commits its event and sends no kick. The round that found
    nothing looks once more, later than any such hook commits."""
    assert FOLLOW_UP_SECONDS > KICK_MEMORY_SECONDS
    monkeypatch.setattr(inbound, "KICK_MEMORY_SECONDS", 60)  # however slow this machine is
    integration, _ = alertmanager
    key = _kick_key("test")
    store(integration, "f1")
    _kick()  # the first hook of a burst: no dispatcher pending, it sends one
    assert [name for name, _ in published] == [DISPATCH_EVENTS]
    assert len(inbound_events_dispatch()) == 1  # that round claims f1 and keeps the kick
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_events_dispatch() == []  # the next round finds nothing: it clears it
    assert kv.client().get(key) is None
    [(_, last_round)] = published[1:]
    assert last_round["kwargs"] == {"last_round": True} and last_round["eta"] is not None

    store(integration, "f2")
    _kick()  # within the memory of the kick it saw: no round trip, nothing sent
    assert kv.client().get(key) is None and len(published) == 2
    with django_capture_on_commit_callbacks(execute=True):
        claimed = inbound_events_dispatch(last_round=True)
    assert claimed == [InboundEvent.objects.get(payload__alerts__0__fingerprint="f2").pk]
    assert [name for name, _ in published[2:]] == [PROCESS_EVENTS, DISPATCH_EVENTS]
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_events_dispatch() == []
        assert inbound_events_dispatch(last_round=True) == []  # the chain ends here
    assert [h["kwargs"] for _, h in published[4:]] == [{"last_round": True}]


def test_after_its_memory_a_hook_kicks_again(alertmanager, published, monkeypatch) -> None:
    monkeypatch.setattr(inbound, "KICK_MEMORY_SECONDS", 0)
    _kick()
    kv.client().delete(_kick_key("test"))  # the dispatcher ran
    _kick()
    assert [name for name, _ in published] == [DISPATCH_EVENTS, DISPATCH_EVENTS]


def test_ignored_and_processed_events_are_never_dispatched(alertmanager) -> None:
    integration, _ = alertmanager
    store(integration, "f1")
    InboundEvent.objects.update(status=EventStatus.IGNORED)
    assert inbound_events_dispatch() == []


def test_the_sweep_resends_lost_tasks_and_never_queued_events(
    alertmanager, django_capture_on_commit_callbacks
) -> None:
    integration, _ = alertmanager
    store(integration, "lost", "never", "fresh")
    now = timezone.now()
    InboundEvent.objects.filter(payload__alerts__0__fingerprint="lost").update(
        queued_at=now - timedelta(minutes=6)
    )
    InboundEvent.objects.filter(payload__alerts__0__fingerprint="never").update(
        received_at=now - timedelta(minutes=2)
    )
    with django_capture_on_commit_callbacks() as sends:
        assert inbound_events_sweep(now=now) == 2
    assert len(sends) == 1
    fresh = InboundEvent.objects.get(payload__alerts__0__fingerprint="fresh")
    assert fresh.queued_at is None  # the dispatcher's, not the sweep's
    assert inbound_events_sweep(now=now) == 0


def test_the_sweep_runs_in_the_per_tenant_tick(alertmanager) -> None:
    integration, _ = alertmanager
    store(integration, "f1")
    InboundEvent.objects.update(received_at=timezone.now() - timedelta(minutes=2))
    job = tenant_jobs["apps.integrations.periodic.events_sweep"]
    assert job() == 1
    assert InboundEvent.objects.get().queued_at is not None


def test_a_batch_processes_each_event_and_one_failing_does_not_stop_the_others(
    alertmanager, catalog
) -> None:
    integration, _ = alertmanager
    store(integration, "f1", "f2")
    other, _ = integration_create(source=Source.GRAFANA, actor="pytest")
    store(other, "broken")
    # A source no longer installed: processing its event raises, unexpectedly.
    type(other).objects.filter(pk=other.pk).update(source="retired")
    hook_cache_clear()
    ids = list(InboundEvent.objects.order_by("pk").values_list("pk", flat=True))
    assert process_events(ids) == 2
    failed = InboundEvent.objects.get(integration=other)
    assert failed.status == EventStatus.FAILED and "KeyError" in failed.reason
    assert set(
        InboundEvent.objects.filter(integration=integration).values_list("status", flat=True)
    ) == {EventStatus.UNROUTED}  # processed: no rule routes them
