"""A worker process reuses its database connection across tasks: one left inside a failed
transaction must not make every later task fail."""

import pytest
from celery.signals import task_postrun
from django.db import DataError, connections

from config.celery import _after_each_task, close_connections_left_in_a_transaction


def test_a_connection_left_in_a_failed_transaction_is_closed_after_the_task(db) -> None:
    worker = connections.create_connection("default")  # a worker's own, in autocommit
    try:
        with worker.cursor() as cursor:
            cursor.execute("BEGIN")  # a task's raw transaction, never finished
            with pytest.raises(DataError):
                cursor.execute("SELECT 1 / 0")
        healthy = connections.create_connection("default")
        healthy.ensure_connection()

        close_connections_left_in_a_transaction([worker, healthy])

        assert worker.connection is None  # closed: the next task opens a fresh one
        assert healthy.connection is not None
        with worker.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
        healthy.close()
    finally:
        worker.close()
    assert _after_each_task in task_postrun._live_receivers(None)  # run after every task
