"""Thin tasks: ids in, one call out. Routed by name to the `fanout`, `send.*` and `retry`
queues (see config/celery_queues.py and delivery.QUEUE)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from celery import shared_task

from apps.communications import delivery

logger = logging.getLogger(__name__)


@shared_task(name=delivery.FANOUT, acks_late=True)
def fanout_message(message_id: int) -> dict[str, Any]:
    return delivery.fanout(message_id)


@shared_task(name=delivery.SEND_BATCH, acks_late=True)
def send_batch(message_id: int, channel: str, ids: Sequence[int]) -> dict[str, int]:
    return delivery.send_batch(message_id, channel, ids)


def sweep() -> dict[str, int]:
    """Per-tenant periodic job (CLARION_TENANT_PERIODIC_JOBS)."""
    return delivery.sweep()
