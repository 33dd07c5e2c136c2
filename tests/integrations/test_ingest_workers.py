"""From webhook to incident with real `celery worker` processes on a private Redis: hooks
kick the dispatcher only when none is pending (and not even ask Redis right after seeing
one), so what matters is that no stored event is ever left waiting for the sweep.

Committed data in a tenant of its own, as in tests/communications/test_reliability.py.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from apps.incidents.models import Incident, Service
from apps.integrations.choices import EventStatus, Source
from apps.integrations.models import AlertState, InboundEvent, RoutingRule
from apps.integrations.services import integration_create
from apps.integrations.services.inbound import FOLLOW_UP_SECONDS, KICK_MEMORY_SECONDS
from apps.tenants.models import Tenant
from tests.integrations import signing
from tests.integrations.conftest import am_alert, am_payload
from tests.processes import RedisServer, Workers, private_broker, wait_for, worker_env
from tests.processes import own_tenant as fresh_tenant

pytestmark = pytest.mark.worker

GROUPS = 3  # alert groups, each routed to a service of its own


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with private_broker(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def workers(django_db_setup: None, broker: RedisServer) -> Iterator[Workers]:
    pool = Workers(worker_env(broker.url), "integrations,default,retry")
    try:
        yield pool
    finally:
        pool.kill_all()


@pytest.fixture
def db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The test database without the rolled-back transaction (worker processes see what a
    test writes)."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def own_tenant(db: None) -> Iterator[Tenant]:
    with fresh_tenant("ing", name="Ingest") as tenant:
        for group in range(GROUPS):
            service = Service.objects.create(slug=f"svc-{group}", name=f"Service {group}")
            rule = RoutingRule.objects.create(
                name=f"Group {group}", matchers={"service": f"svc-{group}"}, position=group
            )
            rule.services.add(service)
        yield tenant


def test_bursts_and_pauses_around_the_dispatchers_rounds_leave_no_event_behind(
    own_tenant: Tenant, workers: Workers
) -> None:
    """Bursts of webhooks (with redeliveries) separated by pauses shorter than, about as
    long as and longer than the kick memory and the dispatcher's follow-up: whenever a
    hook skips the kick, a dispatcher round must still claim its event. No beat runs here:
    an event left to the sweep would never be processed."""
    workers.shared("ingest")
    integration, secret = integration_create(source=Source.ALERTMANAGER, actor="pytest")
    client = Client(HTTP_HOST=f"{own_tenant.slug}.{settings.CLARION_BASE_DOMAIN}")
    rng = random.Random(11)
    pauses = [0.0, KICK_MEMORY_SECONDS / 2, KICK_MEMORY_SECONDS, FOLLOW_UP_SECONDS, 0.5, 1.0]
    sent: list[bytes] = []
    answers: Counter[str] = Counter()
    for burst in range(16):
        for n in range(rng.randint(1, 12)):
            if sent and rng.random() < 0.2:
                body = rng.choice(sent)  # a redelivery
            else:
                group = rng.randrange(GROUPS)
                alert = am_alert(f"b{burst}-{n}", service=f"svc-{group}")
                body = json.dumps(am_payload(alert)).encode()
                sent.append(body)
            response = client.post(
                integration.hook_path,
                data=body,
                content_type="application/json",
                headers=signing.bearer(secret),
            )
            assert response.status_code == 202, response.content
            answers[response.json()["status"]] += 1
        time.sleep(rng.choice(pauses))

    def all_processed() -> bool:
        return not InboundEvent.objects.filter(status=EventStatus.RECEIVED).exists()

    wait_for(all_processed, 30, "every stored event to be processed", workers)
    events = InboundEvent.objects.all()
    assert len(events) == len(sent) == answers["accepted"]
    assert answers["duplicate"] > 0
    assert {e.status for e in events} == {EventStatus.PROCESSED}
    assert AlertState.objects.count() == len(sent)
    # One triage incident per alert group: the storm does not open one per alert.
    assert Incident.objects.count() == GROUPS
    assert Counter(e.incident_id for e in events).keys() == set(
        Incident.objects.values_list("pk", flat=True)
    )
