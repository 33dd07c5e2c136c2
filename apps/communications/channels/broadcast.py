"""Broadcast channels (in-app banner, status page, social) and their ledger.

A broadcast reaches everyone at once, so it has no per-subscriber Delivery. Each message
gets one `BroadcastDelivery` row per (channel, target) instead, where the target is what
carries it: `banner` and `customerio` for in-app, `page` for the status page, one row per
social provider (`x`, `linkedin`, `log`). The rows follow the same life as deliveries:

1. `record()` (from the fan-out) writes them with conflicts ignored: a second fan-out
   creates nothing;
2. `queue()` sends their ids through the same `send_batch` task as deliveries, on the
   `send.webhook` queue (the providers are HTTP APIs);
3. `send()` claims pending rows under `SELECT ... FOR UPDATE SKIP LOCKED` (a row another
   worker holds, or one already sent, is not claimed: nothing is posted twice), renders the
   channel's text once with the fan-out's own renderer and records the outcome: sent, retried
   with backoff, or failed with the reason;
4. `requeue_stale()` (from the sweep) picks up what a lost task left behind.

A message is `sent` only when its deliveries and its broadcasts are all finished.
"""

from __future__ import annotations

import random
from abc import abstractmethod
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from celery import current_app
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.communications.channels.base import Channel, Outgoing, channels
from apps.communications.choices import AttemptOutcome, ChannelKey, DeliveryStatus
from apps.communications.models import Message
from apps.subscribers.models import BroadcastDelivery

CHANNELS = frozenset({ChannelKey.IN_APP, ChannelKey.STATUS_PAGE, ChannelKey.SOCIAL})
QUEUE = "send.webhook"
SEND_TASK = "communications.send_batch"  # delivery.SEND_BATCH (a test keeps them equal)
MAX_ATTEMPTS = 6
INTERRUPTED = (
    f"gave up after {MAX_ATTEMPTS} attempts that never finished (the worker stopped or the "
    "batch failed before recording a result; see the worker's log)"
)
PENDING_GRACE = timedelta(minutes=2)
SENDING_GRACE = timedelta(minutes=10)
UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)

Variants = Callable[[Message, str, set[str]], dict[str, dict[str, str]]]


class BroadcastChannel(Channel):
    """A channel that posts once per message, to the targets `targets()` names."""

    per_subscriber: ClassVar[bool] = False

    @abstractmethod
    def targets(self) -> list[str]:
        """The providers this installation posts to (one ledger row each)."""


def subject_refs(message: Message) -> dict[str, str]:
    """What a broadcast is about, as extra parts its channel can read."""
    return {
        "incident": str(message.incident_id or ""),
        "update": str(message.update_id or ""),
        "maintenance": str(message.maintenance_id or ""),
        "kind": message.kind,
    }


def record(message_id: int, channel: str) -> dict[str, Any]:
    """The channel's ledger rows for the message (created once); the audience entry."""
    implementation = channels._items.get(channel)
    if not isinstance(implementation, BroadcastChannel):
        return {"skipped": f"no {channel} provider is configured"}
    targets = implementation.targets()
    BroadcastDelivery.objects.bulk_create(
        [BroadcastDelivery(message_id=message_id, channel=channel, target=t) for t in targets],
        ignore_conflicts=True,
    )
    return {"broadcast": targets}


def queue(message_id: int, *, only_stale: bool = False) -> int:
    """Queue a send for each pending broadcast of the message."""
    qs = BroadcastDelivery.objects.filter(message_id=message_id, status=DeliveryStatus.PENDING)
    if only_stale:
        qs = qs.filter(queued_at__lt=timezone.now() - PENDING_GRACE)
    rows = list(qs.values_list("id", "channel"))
    if only_stale and rows:
        # Marked before the sends: a claim skips locked rows (see delivery.queue_pending).
        BroadcastDelivery.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            queued_at=timezone.now()
        )
    for pk, channel in rows:
        current_app.send_task(SEND_TASK, (message_id, channel, [pk]), queue=QUEUE)
    return len(rows)


def unfinished(message_id: int) -> bool:
    return BroadcastDelivery.objects.filter(message_id=message_id, status__in=UNFINISHED).exists()


def fail_exhausted(*, now: datetime) -> set[int]:
    """Broadcasts stuck in `sending` whose every attempt was cut off fail with the reason
    (rather than being retried for ever); returns their messages, to be finished."""
    exhausted = BroadcastDelivery.objects.filter(
        status=DeliveryStatus.SENDING,
        queued_at__lt=now - SENDING_GRACE,
        attempts__gte=MAX_ATTEMPTS,
    )
    messages = set(exhausted.values_list("message_id", flat=True).distinct())
    exhausted.update(status=DeliveryStatus.FAILED, error=INTERRUPTED)
    return messages


def requeue_stale(*, skip: Collection[int] = ()) -> int:
    """Reset broadcasts stuck in `sending` and re-queue the stale pending ones (messages in
    `skip` were re-queued by the caller already)."""
    now = timezone.now()
    BroadcastDelivery.objects.filter(
        status=DeliveryStatus.SENDING, queued_at__lt=now - SENDING_GRACE
    ).update(status=DeliveryStatus.PENDING, queued_at=now - PENDING_GRACE * 2)
    messages = set(
        BroadcastDelivery.objects.filter(
            status=DeliveryStatus.PENDING, queued_at__lt=now - PENDING_GRACE
        )
        .exclude(message_id__in=list(skip))
        .values_list("message_id", flat=True)
        .distinct()
    )
    return sum(queue(m, only_stale=True) for m in messages)


def _claim(ids: Sequence[int]) -> list[BroadcastDelivery]:
    with transaction.atomic():
        rows = list(
            BroadcastDelivery.objects.select_for_update(skip_locked=True).filter(
                pk__in=ids, status=DeliveryStatus.PENDING
            )
        )
        if rows:
            BroadcastDelivery.objects.filter(pk__in=[r.pk for r in rows]).update(
                status=DeliveryStatus.SENDING,
                attempts=F("attempts") + 1,
                queued_at=timezone.now(),
            )
    return rows


def broadcast_parts(
    message: Message,
    channel: str,
    *,
    variants: Variants,
    tokens: Mapping[str, str],
    zone: str = "UTC",
) -> dict[str, str]:
    """The channel's parts for everyone: rendered by the fan-out's renderer (in UTC unless
    a zone is known, e.g. a banner's customer), with no recipient (no name; the status page
    stands for the personal links)."""
    parts = variants(message, channel, {zone})[zone]
    page = str(message.context.get("status_page_url", ""))
    fill = {"recipient_name": "", "manage_url": page, "unsubscribe_url": page}
    out = {}
    for part, text in parts.items():
        text = text.replace(f" {tokens['recipient_name']}", "")  # "Hello," not "Hello ,"
        for name, token in tokens.items():
            text = text.replace(token, fill.get(name, ""))
        out[part] = text.strip()
    out["url"] = page
    return out


def send(
    message_id: int,
    channel: str,
    ids: Sequence[int],
    *,
    variants: Variants,
    tokens: Mapping[str, str],
) -> dict[str, int]:
    """Post the still-pending broadcasts among `ids`; counts by outcome."""
    message = Message.objects.filter(pk=message_id).first()
    rows = _claim(ids)
    if message is None or not rows:
        return {}
    implementation = channels[channel]
    parts = broadcast_parts(message, channel, variants=variants, tokens=tokens)
    batch = [
        Outgoing(
            delivery_id=row.pk,
            idempotency_key=row.idempotency_key,
            address=row.target,
            parts={**parts, **subject_refs(message)},
        )
        for row in rows
    ]
    results = implementation.send(batch)
    by_id = {row.pk: row for row in rows}
    counts: defaultdict[str, int] = defaultdict(int)
    retry: list[int] = []
    now = timezone.now()
    content = {k: v for k, v in parts.items() if k != "url"}
    for result in results:
        row = by_id[result.delivery_id]
        attempts = row.attempts + 1
        counts[str(result.outcome)] += 1
        log = [
            *row.attempt_log,
            {
                "at": now.isoformat(),
                "outcome": str(result.outcome),
                "provider_id": result.provider_id[:200],
                "error": result.error[:500],
                "duration_ms": result.duration_ms,
            },
        ]
        update: dict[str, Any] = {"attempt_log": log, "content": content}
        if result.outcome == AttemptOutcome.SENT:
            update |= {
                "status": DeliveryStatus.SENT,
                "sent_at": now,
                "error": "",
                "provider_id": result.provider_id[:200],
            }
        elif result.outcome == AttemptOutcome.TRANSIENT and attempts < MAX_ATTEMPTS:
            update |= {"status": DeliveryStatus.PENDING, "error": result.error, "queued_at": now}
            retry.append(row.pk)
        else:
            reason = result.error or "refused by the provider"
            if result.outcome == AttemptOutcome.TRANSIENT:
                reason = f"gave up after {attempts} attempts: {reason}"
            update |= {"status": DeliveryStatus.FAILED, "error": reason}
        BroadcastDelivery.objects.filter(pk=row.pk).update(**update)
    for pk in retry:
        delay = min(300, 2 ** (by_id[pk].attempts + 1)) * (0.5 + random.random())  # noqa: S311
        current_app.send_task(
            SEND_TASK, (message_id, channel, [pk]), queue="retry", countdown=delay
        )
    return dict(counts)


def broadcast_counts(message: Message) -> dict[str, dict[str, int]]:
    """Channel -> status -> number of broadcast rows (like `selectors.delivery_counts`)."""
    counts: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for channel, status in BroadcastDelivery.objects.filter(message=message).values_list(
        "channel", "status"
    ):
        counts[channel][status] = counts[channel].get(status, 0) + 1
    return dict(counts)


def broadcast_failures(message: Message) -> list[dict[str, Any]]:
    """The failed broadcasts with their reasons."""
    return [
        {"channel": row.channel, "target": row.target, "attempts": row.attempts, "error": row.error}
        for row in BroadcastDelivery.objects.filter(message=message, status=DeliveryStatus.FAILED)
    ]
