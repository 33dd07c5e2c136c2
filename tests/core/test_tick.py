"""The public tick reaches every tenant's schema, through the real broker and a real worker."""

import time
import uuid

import pytest
import redis
from django.conf import settings
from django.db import connection

from apps.core.periodic import tenant_jobs
from apps.core.tasks import tenant_tick, tick
from config.celery import app
from config.celery_queues import QUEUE_NAMES


@pytest.fixture
def recorder():
    """A per-tenant job that writes the schema it ran in to a Redis list."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = f"test-tick-{uuid.uuid4().hex}"
    name = f"tests.record_schema.{key}"
    tenant_jobs.register(name, lambda: client.rpush(key, connection.schema_name))
    yield client, key
    tenant_jobs.unregister(name)
    client.delete(key)


@pytest.mark.worker
@pytest.mark.django_db
def test_tick_reaches_every_tenant_schema_through_a_worker(
    idle_worker, recorder, tenant, other_tenant
):
    client, key = recorder
    tick.delay()  # from the public schema, as beat sends it
    deadline = time.monotonic() + 20
    while client.llen(key) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # a stray extra run would show up here
    seen = sorted(s.decode() for s in client.lrange(key, 0, -1))
    assert seen == ["other", "test"]  # each tenant once; never the template or public


def test_a_failing_job_does_not_stop_the_others(tenant_db) -> None:
    ran = []

    def broken() -> None:
        raise RuntimeError("boom")

    tenant_jobs.register("tests.broken", broken)
    tenant_jobs.register("tests.fine", lambda: ran.append(connection.schema_name))
    try:
        assert "tests.fine" in tenant_tick()
    finally:
        tenant_jobs.unregister("tests.broken")
        tenant_jobs.unregister("tests.fine")
    assert ran == ["test"]


def test_beat_runs_the_tick_every_minute_from_the_database_scheduler() -> None:
    assert app.conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"
    entry = app.conf.beat_schedule["clarion-tick"]
    assert entry["task"] == tick.name == "core.tick"
    assert entry["schedule"] == 60.0


def test_each_queue_has_its_own_routing_key() -> None:
    queues = app.amqp.queues
    assert set(QUEUE_NAMES) <= set(queues)
    keys = [queues[name].routing_key for name in QUEUE_NAMES]
    assert keys == list(QUEUE_NAMES)  # a message routed to one queue reaches no other
