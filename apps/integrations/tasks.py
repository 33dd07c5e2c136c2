"""Tasks of the integrations app: thin, ids only, routed to the `integrations` queue."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from apps.core.exceptions import TransientError
from apps.integrations.services.inbound import (
    DISPATCH_EVENTS,
    PROCESS_EVENT,
    PROCESS_EVENTS,
    inbound_events_dispatch,
)
from apps.integrations.services.processing import (
    inbound_event_fail,
    inbound_event_process,
    maintenance_alerts_release,
)

logger = logging.getLogger(__name__)


@shared_task(name=DISPATCH_EVENTS, acks_late=True)
def dispatch_events(last_round: bool = False) -> int:
    """Send the stored events nobody queued yet to `integrations.process_events`."""
    return len(inbound_events_dispatch(last_round=last_round))


@shared_task(name=PROCESS_EVENTS, acks_late=True)
def process_events(event_ids: list[int]) -> int:
    """Process a batch of stored events, each on its own (`inbound_event_process`): one
    that meets a transient database error is retried alone (`integrations.process_event`
    on the retry queue), one that fails otherwise is marked failed; the rest go on.
    Returns how many were processed here."""
    return _process(event_ids)


@shared_task(name="integrations.release_maintenance_alerts", acks_late=True)
def release_maintenance_alerts(window_id: int) -> int:
    """A maintenance window is over: the alerts still firing under it arrive anew
    (`maintenance_alerts_release`), processed here like a batch. Returns how many."""
    return _process(maintenance_alerts_release(window_id=window_id))


def _process(event_ids: list[int]) -> int:
    done = 0
    for event_id in event_ids:
        try:
            inbound_event_process(event_id=event_id)
        except OperationalError as exc:  # a deadlock victim or a lost connection
            logger.warning("inbound event %s: %s; retrying it alone", event_id, exc)
            process_event.apply_async(args=[event_id], queue="retry", countdown=2)
            continue
        except Exception as exc:
            logger.exception("inbound event %s failed", event_id)
            inbound_event_fail(event_id=event_id, reason=f"{type(exc).__name__}: {exc}")
            continue
        done += 1
    return done


@shared_task(
    name=PROCESS_EVENT,
    acks_late=True,
    autoretry_for=(TransientError,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    retry_kwargs={"queue": "retry"},
)
def process_event(event_id: int) -> str | None:
    """Process one stored inbound event (see `inbound_event_process`)."""
    try:
        event = inbound_event_process(event_id=event_id)
    except OperationalError as exc:  # a deadlock victim or a lost connection: try later
        raise TransientError(f"database: {exc}") from exc
    except Exception as exc:
        inbound_event_fail(event_id=event_id, reason=f"{type(exc).__name__}: {exc}")
        raise
    if event is None:
        logger.warning("inbound event %s no longer exists; nothing to process", event_id)
        return None
    return str(event.status)
