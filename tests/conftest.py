"""Two tenants for the whole session (committed once), each test in a rolled-back
transaction inside the `test` tenant's schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.test import Client, override_settings
from rest_framework.test import APIClient

from apps.core.models import ApiKey
from apps.core.services import apikey_create
from apps.statuspage import store
from apps.tenants.models import Tenant
from apps.tenants.selectors import host_cache_clear
from apps.tenants.services import tenant_create
from config.celery import app as celery_app
from config.celery_queues import QUEUE_NAMES
from tests.smtp_sink import start_sink

TEST_HOST = "test.localhost"
OTHER_HOST = "other.localhost"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker) -> None:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        tenant_create(slug="test", name="Test Tenant")
        tenant_create(slug="other", name="Other Tenant")


@pytest.fixture(autouse=True)
def _public_schema_after_each_test() -> Iterator[None]:
    """Requests switch the connection's schema; the next test starts from public again."""
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _fresh_status_page_cache() -> None:
    """Rendered status pages live in Redis and hosts in a process cache, outside the
    rolled-back transaction."""
    host_cache_clear()
    client = store.client()
    keys = list(client.scan_iter(f"{store.key_prefix()}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="session")
def celery_worker(django_db_blocker) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A real Celery worker (in a thread of this process) on the real broker, all queues.

    Session-scoped and started before any test transaction: starting a worker closes the
    database connections of the process. The worker has its own connection, so it sees only
    committed data (the session tenants), not a test's uncommitted rows."""
    celery_app.control.purge()
    with start_worker(
        celery_app,
        pool="solo",
        perform_ping_check=False,
        queues=list(QUEUE_NAMES),
        loglevel="WARNING",
        shutdown_timeout=10,
    ) as worker:
        yield worker
    # The worker thread's own database session outlives the thread; end it so that the
    # test database can be dropped.
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def idle_worker(celery_worker):  # type: ignore[no-untyped-def]
    """The session worker with an empty broker: the tasks earlier tests' on-commit hooks
    left queued (help desk, chat, exports) are discarded, so this test's tasks do not wait
    behind them."""
    celery_app.control.purge()
    return celery_worker


@pytest.fixture
def tenant(db: None) -> Tenant:
    return Tenant.objects.get(slug="test")


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    return Tenant.objects.get(slug="other")


@pytest.fixture
def tenant_db(tenant: Tenant) -> Iterator[Tenant]:
    """The database, inside the test tenant's schema."""
    connection.set_tenant(tenant)
    yield tenant
    connection.set_schema_to_public()


@pytest.fixture
def tenant_client(tenant_db: Tenant) -> Client:
    return Client(HTTP_HOST=TEST_HOST)


@pytest.fixture
def api_key(tenant_db: Tenant) -> tuple[ApiKey, str]:
    return apikey_create(name="Test suite", actor="pytest")


@pytest.fixture
def api_client(api_key: tuple[ApiKey, str]) -> APIClient:
    client = APIClient(HTTP_HOST=TEST_HOST)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    return client


@pytest.fixture
def smtp():
    """A real SMTP server; Django's SMTP backend is pointed at it."""
    sink, controller = start_sink()
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST=controller.hostname,
        EMAIL_PORT=controller.port,
        EMAIL_USE_TLS=False,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_TIMEOUT=5,
    ):
        yield sink
    controller.stop()


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks queued with `.delay()`/`.apply_async()` (by handlers too) run at once, in this
    process and transaction (their retries too, at once)."""
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = False
