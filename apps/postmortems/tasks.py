"""Thin tasks: ids in, one service call."""

from __future__ import annotations

from celery import shared_task

from apps.core.exceptions import TransientError
from apps.postmortems.salesforce import credits_push_salesforce


@shared_task(
    name="postmortems.push_credits",
    acks_late=True,
    autoretry_for=(TransientError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=6,
)
def push_credits(credit_ids: list[int]) -> dict[str, int]:
    return credits_push_salesforce(credit_ids=credit_ids)
