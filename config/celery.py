"""The Celery app. Tasks carry the tenant's schema in their headers (tenant-schemas-celery)
and run in it; beat's schedule lives in the public schema (django-celery-beat).

    celery -A config worker -Q default,fanout,send.email,send.sms,send.webhook,integrations,retry
    celery -A config beat
"""

import os
from collections.abc import Iterable
from typing import Any

from celery.signals import task_postrun
from tenant_schemas_celery.app import CeleryApp

# Like the web server (config/wsgi.py): workers and beat of an installation run production
# settings unless told otherwise (`make run` and the tests set theirs).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = CeleryApp("clarion")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def close_connections_left_in_a_transaction(connections: Iterable[Any]) -> None:
    """Worker processes reuse their database connections across tasks (CELERY_DB_REUSE_MAX).
    A task that left one inside a transaction, or a failed one, would make every later task
    of the process fail ("current transaction is aborted"): close it, the next task opens a
    new one. Connections inside an atomic block (an eager task in a caller's transaction)
    are the caller's."""
    from psycopg import pq

    for connection in connections:
        raw = connection.connection
        if raw is None or connection.in_atomic_block:
            continue
        if raw.info.transaction_status != pq.TransactionStatus.IDLE:
            connection.close()


@task_postrun.connect(weak=False)
def _after_each_task(**_: object) -> None:
    from django.db import connections

    close_connections_left_in_a_transaction(connections.all(initialized_only=True))
