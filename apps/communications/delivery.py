"""Fan-out and sending: the path from a published message to each recipient, once.

1. `fanout(message_id)` writes one Delivery row per (message, subscriber, channel) in bulk
   with conflicts ignored (running it again creates nothing) and queues batches of ids.
2. `send_batch(...)` claims its pending rows under `SELECT ... FOR UPDATE SKIP LOCKED` (a
   row another worker holds is skipped, a row already sent is not pending), renders each
   channel once per variant (time zone) and only substitutes the per-recipient parts,
   hands the batch to the channel, and records every outcome: sent, failed with the reason,
   or pending again with a later retry.
3. `sweep()` (every minute per tenant) re-queues what a lost broker message or a dead
   worker left behind: pending rows not picked up, rows stuck in `sending`, and messages
   whose fan-out never ran.
"""

from __future__ import annotations

import json
import logging
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from itertools import islice
from typing import Any

from celery import current_app
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.html import escape, linebreaks

from apps.communications.audience import message_audience
from apps.communications.channels import broadcast, endpoint_health
from apps.communications.channels.base import Outgoing, SendResult, channels
from apps.communications.choices import (
    AttemptOutcome,
    ChannelKey,
    DeliveryStatus,
    MessageKind,
    MessageState,
)
from apps.communications.context import (
    decode,
    recipient_values,
    status_page_url,
    subscriber_links,
)
from apps.communications.models import Delivery, DeliveryAttempt, Message, MessageTemplate
from apps.communications.rendering import render, template_parse
from apps.core.tenancy import current_tenant, tenant_xact_lock
from apps.statuspage import selectors as statuspage
from apps.subscribers.models import Subscriber
from apps.subscribers.selectors import audience_ids_iter

logger = logging.getLogger(__name__)

FANOUT = "communications.fanout_message"
SEND_BATCH = "communications.send_batch"
FANOUT_CHUNK = 2000
BATCH_SIZE = 250
MAX_ATTEMPTS = broadcast.MAX_ATTEMPTS
INTERRUPTED = broadcast.INTERRUPTED
PENDING_GRACE = timedelta(minutes=2)
SENDING_GRACE = timedelta(minutes=10)
QUEUE: dict[str, str] = {
    ChannelKey.EMAIL: "send.email",
    ChannelKey.SMS: "send.sms",
    ChannelKey.WEBHOOK: "send.webhook",
    ChannelKey.SLACK: "send.webhook",
    ChannelKey.TEAMS: "send.webhook",
}
# Per-recipient values, filled after rendering the shared text once per variant.
# (Markers that survive HTML escaping and JSON encoding unchanged.)
TOKENS = {
    "recipient_name": "@@clarion-recipient-name@@",
    "manage_url": "@@clarion-manage-url@@",
    "unsubscribe_url": "@@clarion-unsubscribe-url@@",
}
_MAINTENANCE_KINDS = {k for k in MessageKind.values if k.startswith("maintenance")}


def subscription_kind(kind: str) -> str:
    if kind in _MAINTENANCE_KINDS:
        return "maintenance"
    if kind == MessageKind.POSTMORTEM_PUBLISHED:
        return "postmortems"
    return "incidents"


def _chunks(items: Iterable[int], size: int) -> Iterator[list[int]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def fanout(message_id: int) -> dict[str, Any]:
    """Write the message's deliveries and queue their sends; safe to run again."""
    message = (
        Message.objects.select_related("incident", "maintenance").filter(pk=message_id).first()
    )
    if message is None or message.state != MessageState.SENDING:
        return {}
    audience: dict[str, Any] = {}
    for channel in message.channels:
        implementation = channels._items.get(channel)
        if channel not in QUEUE:
            audience[channel] = broadcast.record(message.pk, channel)
            continue
        if implementation is None:
            audience[channel] = {"skipped": f"no {channel} provider is configured"}
            continue
        qs = message_audience(message, channel, kind=subscription_kind(message.kind))
        total = 0
        for ids in _chunks(audience_ids_iter(qs, chunk_size=FANOUT_CHUNK), FANOUT_CHUNK):
            Delivery.objects.bulk_create(
                [Delivery(message_id=message.pk, subscriber_id=i, channel=channel) for i in ids],
                ignore_conflicts=True,
            )
            total += len(ids)
        audience[channel] = {"recipients": total}
    endpoint_health.skip_disabled(message.pk)
    Message.objects.filter(pk=message.pk).update(audience=audience)
    queue_pending(message.pk)
    _finish_if_done(message.pk)
    return audience


def queue_pending(message_id: int, *, only_stale: bool = False) -> int:
    """Queue send batches for the message's pending deliveries (`only_stale`: those queued
    longer than PENDING_GRACE ago, whose task was lost).

    Stale rows are marked queued in one committed statement *before* their tasks are sent:
    a batch claims with SKIP LOCKED, so a task racing this process's own update would skip
    the rows it still locked and leave them pending until the next sweep."""
    if only_stale:
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {connection.ops.quote_name(Delivery._meta.db_table)} "  # noqa: S608
                "SET queued_at = %s WHERE message_id = %s AND status = %s AND queued_at < %s "
                "RETURNING id, channel",
                [now, message_id, DeliveryStatus.PENDING, now - PENDING_GRACE],
            )
            found: Iterable[tuple[int, str]] = sorted(cursor.fetchall())
    else:
        found = (
            Delivery.objects.filter(message_id=message_id, status=DeliveryStatus.PENDING)
            .order_by("id")
            .values_list("id", "channel")
            .iterator(chunk_size=5000)
        )
    by_channel: defaultdict[str, list[int]] = defaultdict(list)
    for pk, channel in found:
        by_channel[channel].append(pk)
    queued = 0
    for channel, ids in by_channel.items():
        for batch in _chunks(ids, BATCH_SIZE):
            current_app.send_task(SEND_BATCH, (message_id, channel, batch), queue=QUEUE[channel])
            queued += len(batch)
    return queued + broadcast.queue(message_id, only_stale=only_stale)


def _claim(ids: Sequence[int]) -> list[Delivery]:
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=ids, status=DeliveryStatus.PENDING)
            .select_related("subscriber", "subscriber__customer")
        )
        if rows:
            Delivery.objects.filter(pk__in=[r.pk for r in rows]).update(
                status=DeliveryStatus.SENDING,
                attempts=F("attempts") + 1,
                queued_at=timezone.now(),
            )
    return rows


def _address(subscriber: Subscriber, channel: str) -> str:
    field = {
        "email": "email",
        "sms": "phone",
        "webhook": "webhook_url",
        "slack": "slack_webhook_url",
        "teams": "teams_webhook_url",
    }[channel]
    return str(getattr(subscriber, field))


def _zone(subscriber: Subscriber) -> str:
    customer = subscriber.customer
    return subscriber.time_zone or (customer.time_zone if customer else "") or "UTC"


def _variants(message: Message, channel: str, zones: set[str]) -> dict[str, dict[str, str]]:
    """The channel's parts rendered once per time zone, per-recipient values as tokens."""
    if channel == ChannelKey.WEBHOOK:  # one JSON document, whatever the zone
        body = json.dumps(webhook_payload(message, unsubscribe=TOKENS["unsubscribe_url"]))
        return {zone: {"json": body} for zone in zones}
    sources = {
        t.part: t.source
        for t in MessageTemplate.objects.filter(kind=message.kind, channel=channel, locale="en")
    }
    compiled = {
        part: template_parse(src, kind=message.kind, html=part == "html")[0]
        for part, src in sources.items()
    }
    base = decode(message.context)
    variants = {}
    for key in zones:
        zone, _, own = key.partition("|")  # see _variant_key
        context = {**base, **(json.loads(own) if own else {}), **TOKENS, "time_zone": zone}
        parts = {part: render(template, context) for part, template in compiled.items()}
        if channel == ChannelKey.EMAIL and "html" not in parts and "text" in parts:
            parts["html"] = linebreaks(escape(parts["text"]))
        variants[key] = parts
    return variants


def _variant_key(zone: str, values: dict[str, Any]) -> str:
    """A variant: a time zone, plus the recipient's own template values when a recipient
    context provider gives some (as JSON after a `|`, which no zone name contains)."""
    return f"{zone}|{json.dumps(values, sort_keys=True, default=str)}" if values else zone


def webhook_payload(message: Message, *, unsubscribe: str) -> dict[str, Any]:
    """Statuspage's webhook body: `meta`, `page`, and the incident (or maintenance)."""
    page_id = current_tenant().slug
    base = status_page_url()
    if message.incident is not None:
        incident = statuspage.public_incidents().filter(pk=message.incident_id).first()
        subject = (
            statuspage.incident_json(incident, page_id, base)
            if incident
            else {"id": str(message.incident_id), "name": message.context.get("incident")}
        )
        impact = subject.get("impact", "none")
    else:
        window = statuspage.public_maintenances().filter(pk=message.maintenance_id).first()
        subject = statuspage.maintenance_json(window, page_id, base) if window else {}
        impact = "maintenance"
    return {
        "meta": {
            "unsubscribe": unsubscribe,
            "documentation": f"{base}api/v2/summary.json",
            "generated_at": statuspage.iso(timezone.now()),
            "kind": message.kind,
        },
        "page": {
            "id": page_id,
            "status_indicator": impact,
            "status_description": statuspage.INDICATOR_DESCRIPTION.get(impact, ""),
        },
        "incident": subject,
    }


def _personalise(
    parts: dict[str, str], subscriber: Subscriber, links: dict[str, str]
) -> dict[str, str]:
    name = subscriber.name or ""
    out = {}
    for part, text in parts.items():
        value_name = escape(name) if part == "html" else name
        out[part] = (
            text.replace(TOKENS["recipient_name"], value_name)
            .replace(TOKENS["manage_url"], links["manage"])
            .replace(TOKENS["unsubscribe_url"], links["unsubscribe"])
        )
    return out


def send_batch(message_id: int, channel: str, ids: Sequence[int]) -> dict[str, int]:
    """Send the still-pending deliveries among `ids`; return counts by outcome."""
    if channel in broadcast.CHANNELS:  # `ids` are BroadcastDelivery rows
        posted = broadcast.send(message_id, channel, ids, variants=_variants, tokens=TOKENS)
        _finish_if_done(message_id)
        return posted
    message = Message.objects.filter(pk=message_id).first()
    rows = _claim(ids)
    if message is None or not rows:
        return {}
    implementation = channels[channel]
    own = recipient_values(message, [r.subscriber for r in rows])
    keys = {r.pk: _variant_key(_zone(r.subscriber), own.get(r.subscriber_id, {})) for r in rows}
    variants = _variants(message, channel, set(keys.values()))
    batch = []
    for row in rows:
        links = subscriber_links(row.subscriber.manage_token)
        headers = {}
        if channel == ChannelKey.EMAIL:
            headers = {
                "List-Unsubscribe": f"<{links['unsubscribe']}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        batch.append(
            Outgoing(
                delivery_id=row.pk,
                idempotency_key=row.idempotency_key,
                address=_address(row.subscriber, channel),
                parts=_personalise(variants[keys[row.pk]], row.subscriber, links),
                headers=headers,
                secret=getattr(row.subscriber, "webhook_secret", "") or "",
            )
        )
    results: list[SendResult] = []
    with _commits_not_waiting_for_disk():
        for result in implementation.send(batch):  # a channel yields each result as it comes
            results.append(result)
            if result.outcome == AttemptOutcome.SENT:
                _record_sent(result)
    by_id = {row.pk: row for row in rows}
    counts: defaultdict[str, int] = defaultdict(int)
    retry: list[int] = []
    now = timezone.now()
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery_id=r.delivery_id,
            outcome=r.outcome,
            at=now,
            provider_id=r.provider_id[:200],
            error=r.error[:500],
            duration_ms=r.duration_ms,
        )
        for r in results
        if r.outcome != AttemptOutcome.SENT
    )
    for result in results:
        row = by_id[result.delivery_id]
        attempts = row.attempts + 1
        counts[str(result.outcome)] += 1
        if result.outcome == AttemptOutcome.SENT:
            continue  # recorded when it came
        if result.outcome == AttemptOutcome.TRANSIENT and attempts < MAX_ATTEMPTS:
            Delivery.objects.filter(pk=row.pk).update(
                status=DeliveryStatus.PENDING, error=result.error, queued_at=now
            )
            retry.append(row.pk)
        else:
            reason = result.error or "refused by the provider"
            if result.outcome == AttemptOutcome.TRANSIENT:
                reason = f"gave up after {attempts} attempts: {reason}"
            Delivery.objects.filter(pk=row.pk).update(status=DeliveryStatus.FAILED, error=reason)
    if retry:
        attempt = max(by_id[i].attempts for i in retry) + 1
        delay = min(300, 2**attempt) * (0.5 + random.random())  # noqa: S311 - jitter
        current_app.send_task(
            SEND_BATCH, (message_id, channel, retry), queue="retry", countdown=delay
        )
    endpoint_health.record(channel, [r.delivery_id for r in results])
    _finish_if_done(message_id)
    return dict(counts)


# One statement (atomic on its own, one round trip): the attempt and the delivery's status.
_RECORD_SENT = """
WITH attempt AS (
    INSERT INTO {attempts} (delivery_id, outcome, at, provider_id, error, duration_ms)
    VALUES (%s, %s, %s, %s, '', %s)
)
UPDATE {deliveries} SET status = %s, sent_at = %s, error = '' WHERE id = %s
"""


def _record_sent(result: SendResult) -> None:
    """Mark one delivery sent, with its attempt, before the next provider call: a worker
    killed in the middle of a batch leaves `sending` only what it had not handed over, and
    the sweep re-sends exactly that. Its commit does not wait for the disk (see
    `_commits_not_waiting_for_disk`)."""
    now = timezone.now()
    sql = _RECORD_SENT.format(
        attempts=connection.ops.quote_name(DeliveryAttempt._meta.db_table),
        deliveries=connection.ops.quote_name(Delivery._meta.db_table),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                result.delivery_id,
                AttemptOutcome.SENT,
                now,
                result.provider_id[:200],
                result.duration_ms,
                DeliveryStatus.SENT,
                now,
                result.delivery_id,
            ],
        )


@contextmanager
def _commits_not_waiting_for_disk() -> Iterator[None]:
    """Per-item records commit without waiting for the WAL flush: a dead worker loses
    nothing PostgreSQL has; only a crash of PostgreSQL itself could forget the last fraction
    of a second, and so re-send those few. The connection's setting is restored after."""
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _finish_if_done(message_id: int) -> None:
    unfinished = Delivery.objects.filter(
        message_id=message_id, status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING)
    )
    if not unfinished.exists() and not broadcast.unfinished(message_id):
        Message.objects.filter(pk=message_id, state=MessageState.SENDING).update(
            state=MessageState.SENT, sent_at=timezone.now()
        )


def sweep() -> dict[str, int]:
    """Re-queue what was lost; one sweep at a time per tenant (advisory lock)."""
    with transaction.atomic():
        if not tenant_xact_lock("sweep"):
            return {"skipped": 1}
        now = timezone.now()
        stuck = Delivery.objects.filter(
            status=DeliveryStatus.SENDING, queued_at__lt=now - SENDING_GRACE
        )
        # A row whose every attempt was cut off (a worker killed, a batch that crashed
        # before recording) stops here with its reason instead of cycling for ever.
        exhausted = stuck.filter(attempts__gte=MAX_ATTEMPTS)
        finished = set(exhausted.values_list("message_id", flat=True).distinct())
        gave_up = exhausted.update(status=DeliveryStatus.FAILED, error=INTERRUPTED)
        finished |= broadcast.fail_exhausted(now=now)
        reset = stuck.update(status=DeliveryStatus.PENDING, queued_at=now - PENDING_GRACE * 2)
        lost_fanouts = list(
            Message.objects.filter(
                state=MessageState.SENDING, audience={}, fanout_started_at__lt=now - PENDING_GRACE
            ).values_list("pk", flat=True)
        )
        pending_messages = set(
            Delivery.objects.filter(
                status=DeliveryStatus.PENDING, queued_at__lt=now - PENDING_GRACE
            )
            .values_list("message_id", flat=True)
            .distinct()
        )
    for message_id in lost_fanouts:
        current_app.send_task(FANOUT, (message_id,), queue="fanout")
    for message_id in finished:
        _finish_if_done(message_id)
    requeued = sum(queue_pending(m, only_stale=True) for m in pending_messages)
    requeued += broadcast.requeue_stale(skip=pending_messages)
    return {
        "reset_stuck": reset,
        "gave_up": gave_up,
        "fanouts": len(lost_fanouts),
        "requeued": requeued,
    }
