"""Thin tasks: ids in, one service call."""

from __future__ import annotations

from celery import shared_task

from apps.core.exceptions import TransientError
from apps.postmortems.salesforce import credits_push_salesforce

# Salesforce down: retried after up to 1, 2, 4, ... minutes, then up to an hour at a time,
# over about five hours at most (full jitter: half that on average) on the `retry` queue.
# Whatever is still not pushed then is queued again by the per-tenant sweep.
PUSH_MAX_RETRIES = 10
PUSH_BACKOFF_SECONDS = 60
PUSH_BACKOFF_MAX_SECONDS = 3600


@shared_task(
    name="postmortems.push_credits",
    acks_late=True,
    autoretry_for=(TransientError,),
    retry_backoff=PUSH_BACKOFF_SECONDS,
    retry_backoff_max=PUSH_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=PUSH_MAX_RETRIES,
    retry_kwargs={"queue": "retry"},
)
def push_credits(credit_ids: list[int]) -> dict[str, int]:
    return credits_push_salesforce(credit_ids=credit_ids)
