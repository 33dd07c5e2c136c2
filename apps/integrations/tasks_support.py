"""Tasks of support coordination: thin, ids only, on the `integrations` queue (never on the
queues that carry customer notifications, so a help desk that is down delays nobody's
e-mail). Transient failures retry with backoff on the `retry` queue; a 429 retries after
its `Retry-After`. While a flag or close task is queued or retrying, the per-tenant sweep
leaves its incident alone; what runs out of retries is queued again by the sweep (one chain
at a time), what the help desk refused for good is not (see `helpdesk.helpdesk_due`)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.utils import timezone

from apps.core.exceptions import TransientError
from apps.integrations.outbound.helpdesk import RateLimited
from apps.integrations.services import helpdesk, support_chat

logger = logging.getLogger(__name__)
MAX_RETRIES = 8


def _retry(
    task: Task,  # type: ignore[type-arg]
    exc: TransientError,
    *,
    incident_id: int | None = None,
) -> Any:
    """Retry later: after a 429's Retry-After, else with exponential backoff. With
    `incident_id` (flag, close), the sweep is told the incident is this chain's until the
    retry is due, or, out of retries, that it is the sweep's again."""
    if isinstance(exc, RateLimited):
        countdown = exc.retry_after
    else:
        countdown = min(2 ** (task.request.retries + 1), 300)
    if incident_id is not None:
        last = task.request.retries >= MAX_RETRIES
        due_at = None if last else timezone.now() + timedelta(seconds=countdown)
        helpdesk.helpdesk_requeued(incident_id=incident_id, due_at=due_at)
    raise task.retry(exc=exc, countdown=countdown, max_retries=MAX_RETRIES, queue="retry")


@shared_task(bind=True, name="integrations.helpdesk_flag", acks_late=True)
def helpdesk_flag(self: Task, incident_id: int) -> str:  # type: ignore[type-arg]
    try:
        problem = helpdesk.helpdesk_flag(incident_id=incident_id)
    except TransientError as exc:
        return _retry(self, exc, incident_id=incident_id)  # type: ignore[no-any-return]
    return "flagged" if problem is not None and problem.flagged_at else "skipped"


@shared_task(bind=True, name="integrations.helpdesk_ticket", acks_late=True)
def helpdesk_ticket(self: Task, delivery_id: int) -> str:  # type: ignore[type-arg]
    try:
        return helpdesk.helpdesk_ticket_received(delivery_id=delivery_id)
    except TransientError as exc:
        return _retry(self, exc)  # type: ignore[no-any-return]


@shared_task(bind=True, name="integrations.helpdesk_close", acks_late=True)
def helpdesk_close(self: Task, incident_id: int) -> str:  # type: ignore[type-arg]
    try:
        problem = helpdesk.helpdesk_close(incident_id=incident_id)
    except TransientError as exc:
        return _retry(self, exc, incident_id=incident_id)  # type: ignore[no-any-return]
    return "closed" if problem is not None and problem.closed_at else "skipped"


@shared_task(bind=True, name="integrations.support_chat", acks_late=True)
def support_chat_notify(  # type: ignore[no-untyped-def]
    self: Task,  # type: ignore[type-arg]
    event: str,
    incident_id: int,
    update_id: int | None = None,
    due: str = "",
):
    try:
        return support_chat.support_chat_notify(
            event=event, incident_id=incident_id, update_id=update_id, due=due
        )
    except TransientError as exc:
        return _retry(self, exc)


def helpdesk_sweep() -> dict[str, int]:
    """Per-tenant periodic job (CLARION_TENANT_PERIODIC_JOBS): queue again the help-desk
    work no task is on (a chain ran out of retries, a message was lost): flag published
    incidents, close resolved ones. Work queued or retrying, or refused for good, is left
    alone (`helpdesk.helpdesk_due`); each incident is claimed before its task is queued, so
    overlapping ticks queue it once. Returns how many tasks were queued."""
    due = helpdesk.helpdesk_due()
    queued = {"flag": 0, "close": 0}
    for work, task in (("flag", helpdesk_flag), ("close", helpdesk_close)):
        for incident_id in due[work]:
            if helpdesk.helpdesk_claim(incident_id=incident_id):
                task.delay(incident_id)
                queued[work] += 1
    return queued
