"""Tasks of support coordination: thin, ids only, on the `integrations` queue (never on the
queues that carry customer notifications, so a help desk that is down delays nobody's
e-mail). Transient failures retry with backoff on the `retry` queue; a 429 retries after
its `Retry-After`. What runs out of retries is picked up by the per-tenant sweep."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from apps.core.exceptions import TransientError
from apps.integrations.outbound.helpdesk import RateLimited
from apps.integrations.services import helpdesk, support_chat

logger = logging.getLogger(__name__)
MAX_RETRIES = 8


def _retry(task: Task, exc: TransientError) -> Any:  # type: ignore[type-arg]
    """Retry later: after a 429's Retry-After, else with exponential backoff."""
    if isinstance(exc, RateLimited):
        countdown = exc.retry_after
    else:
        countdown = min(2 ** (task.request.retries + 1), 300)
    raise task.retry(exc=exc, countdown=countdown, max_retries=MAX_RETRIES, queue="retry")


@shared_task(bind=True, name="integrations.helpdesk_flag", acks_late=True)
def helpdesk_flag(self: Task, incident_id: int) -> str:  # type: ignore[type-arg]
    try:
        problem = helpdesk.helpdesk_flag(incident_id=incident_id)
    except TransientError as exc:
        return _retry(self, exc)  # type: ignore[no-any-return]
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
        return _retry(self, exc)  # type: ignore[no-any-return]
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
    work a task gave up on (flag published incidents, close resolved ones)."""
    due = helpdesk.helpdesk_due()
    for incident_id in due["flag"]:
        helpdesk_flag.delay(incident_id)
    for incident_id in due["close"]:
        helpdesk_close.delay(incident_id)
    return {name: len(ids) for name, ids in due.items()}
