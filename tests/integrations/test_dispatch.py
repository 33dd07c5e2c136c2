"""From stored events to tasks: the hook only kicks the dispatcher; the dispatcher sends one
`integrations.process_event` per new event, once; the sweep recovers lost messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.periodic import tenant_jobs
from apps.integrations import kv
from apps.integrations.choices import EventStatus, Source
from apps.integrations.inbound.base import inbound_sources
from apps.integrations.models import InboundEvent
from apps.integrations.services import inbound_events_store, inbound_events_sweep
from apps.integrations.services.inbound import (
    _kick_key,
    inbound_events_dispatch,
    kick_claim,
)
from tests.integrations.conftest import am_alert, am_payload


@pytest.fixture(autouse=True)
def _no_pending_kick(tenant_db) -> None:
    kv.client().delete(_kick_key("test"))


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
    assert len(sends) == 1  # the tasks go out once the claim is committed
    assert not InboundEvent.objects.filter(queued_at__isnull=True).exists()
    assert inbound_events_dispatch() == []


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
