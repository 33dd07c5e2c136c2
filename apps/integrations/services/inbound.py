"""Storing what a hook received, and handing it to the workers.

The stored event row is the intent (an outbox): the hook inserts it once per event key, in
one statement, and then only *kicks* the dispatcher: at most one `integrations.
dispatch_events` message per tenant while a dispatcher is pending (a Redis `SET NX`), and
no Redis round trip at all within KICK_MEMORY_SECONDS of this process seeing one pending.
The dispatcher claims the events nobody queued yet and sends them to the workers in
`integrations.process_events` batches. Sending a Celery message costs more than the rest
of the request together, and even the `SET NX` costs a third of it, so the request path
does either only a few times a second during a storm instead of once per alert; a lost
message is recovered by the periodic sweep, and processing an event twice is harmless.

Why no event is left behind by a hook that skipped the kick: the dispatcher keeps the kick
while it finds events and runs again FOLLOW_UP_SECONDS later; the round that finds none
clears the kick and checks once more FOLLOW_UP_SECONDS later. A hook that skipped the kick
saw it pending less than KICK_MEMORY_SECONDS (< FOLLOW_UP_SECONDS) before its commit, so
some round claims after that commit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg
from celery import current_app
from django.db import connection, models, transaction
from django.utils import timezone

from apps.core.audit import Actor, audit_record
from apps.core.tenancy import current_schema
from apps.integrations import kv
from apps.integrations.choices import EventStatus
from apps.integrations.inbound.base import Envelope
from apps.integrations.models import InboundEvent, Integration
from apps.integrations.selectors import events_pending, events_unqueued

# The tasks (apps.integrations.tasks) are sent by name: they call these services.
PROCESS_EVENT = "integrations.process_event"
PROCESS_EVENTS = "integrations.process_events"
DISPATCH_EVENTS = "integrations.dispatch_events"

# A kick stays in force this long if its dispatcher never runs (a lost message).
KICK_TTL_SECONDS = 5
# After seeing a dispatcher pending, a process sends no kick for this long...
KICK_MEMORY_SECONDS = 0.2
# ...because the dispatcher always looks again this long after it last ran (see above).
FOLLOW_UP_SECONDS = 0.3
DISPATCH_BATCH = 200
# Events per `integrations.process_events` task: a task costs the worker about as much as
# processing an event, and a batch is still small enough to spread over the workers.
PROCESS_BATCH = 20

# schema -> when this process last saw its dispatcher pending (time.monotonic()).
_kick_seen: dict[str, float] = {}


@dataclass(frozen=True)
class Received:
    """What one delivery stored: new events to process, new ignored ones, and how many were
    already stored (a redelivery)."""

    queued: tuple[int, ...]
    ignored: int
    duplicates: int

    @property
    def status(self) -> str:
        if self.queued:
            return "accepted"
        if self.ignored:
            return "ignored"
        return "duplicate" if self.duplicates else "ignored"


def _column(name: str) -> str:
    field = InboundEvent._meta.get_field(name)
    assert isinstance(field, models.Field)
    return connection.ops.quote_name(field.column)


@lru_cache(maxsize=64)
def _insert_sql(rows: int) -> str:
    table = connection.ops.quote_name(InboundEvent._meta.db_table)
    columns = ", ".join(
        _column(name)
        for name in (
            "integration",
            "event_key",
            "event_type",
            "received_at",
            "headers",
            "payload",
            "status",
            "reason",
            "dedup_key",
            "alert_status",
            "title",
            "labels",
            "flapping",
        )
    )
    one = "(%s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, '', '', '', '{}'::jsonb, false)"
    conflict = ", ".join(_column(name) for name in ("integration", "event_key"))
    # Only quoted identifiers from the model and placeholders are interpolated here.
    return (
        f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * rows)} "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING id, status"
    )


def _fetch_prepared(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of `sql` run as a prepared statement of this database connection:
    PostgreSQL parses and plans the hooks' insert once per connection instead of once per
    webhook (a quarter of its work). Django's cursors bind parameters on the client and
    never prepare. Where prepared statements are off (`prepare_threshold` None in the
    database OPTIONS, as behind an old PgBouncer), it runs as any other query."""
    with connection.cursor() as cursor:  # sets the tenant's search_path if needed
        conn = cursor.cursor.connection
        if conn.prepare_threshold is None:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        # A schema change re-plans a prepared statement: one name serves every tenant.
        with connection.wrap_database_errors, psycopg.Cursor(conn) as prepared:
            prepared.execute(sql, params, prepare=True)
            return prepared.fetchall()


def _kick_key(schema: str) -> str:
    return kv.key("kick", schema)


def kick_claim() -> bool:
    """True for the first caller since the tenant's dispatcher last ran (or since the kick
    expired): that caller sends the dispatcher, the others need not."""
    return bool(kv.client().set(_kick_key(current_schema()), 1, nx=True, ex=KICK_TTL_SECONDS))


def _kick() -> None:
    """Have the dispatcher run soon for this tenant: send it unless a kick is pending (or
    was, a moment ago: then a dispatcher round claims after this caller's commit)."""
    schema = current_schema()
    seen = time.monotonic()  # taken before asking: the kick was pending no earlier
    if seen - _kick_seen.get(schema, float("-inf")) < KICK_MEMORY_SECONDS:
        return
    if kick_claim():
        current_app.send_task(DISPATCH_EVENTS)
    _kick_seen[schema] = seen


def _enqueue(event_ids: Sequence[int]) -> None:
    for start in range(0, len(event_ids), PROCESS_BATCH):
        current_app.send_task(PROCESS_EVENTS, args=[list(event_ids[start : start + PROCESS_BATCH])])


def inbound_events_store(
    *, integration: Integration, envelopes: Sequence[Envelope], headers: Mapping[str, str]
) -> Received:
    """Store each envelope unless an event with its key is already stored (INSERT ... ON
    CONFLICT DO NOTHING: concurrent redeliveries store one row) and, once the new rows are
    committed, kick the dispatcher so that each new, non-ignored event gets its
    `integrations.process_event` task.

    This runs inside the webhook's request, before its 202: nothing here parses alerts or
    touches incidents."""
    unique = list({e.event_key: e for e in envelopes}.values())
    if not unique:
        return Received(queued=(), ignored=0, duplicates=0)
    now = timezone.now()
    kept_headers = json.dumps(dict(headers))
    params: list[Any] = []
    for envelope in unique:
        params += [
            integration.pk,
            envelope.event_key,
            envelope.event_type[:100],
            now,
            kept_headers,
            json.dumps(envelope.payload),
            EventStatus.IGNORED if envelope.ignored else EventStatus.RECEIVED,
            envelope.reason,
        ]
    # One statement, atomic on its own: in autocommit (a webhook request) the rows are
    # committed when it returns and on_commit runs at once; inside a caller's transaction
    # the kick waits for its commit.
    inserted = _fetch_prepared(_insert_sql(len(unique)), params)
    queued = tuple(pk for pk, status in inserted if status == EventStatus.RECEIVED)
    if queued:
        # robust: the events are stored; should the broker be down, the sweep queues them.
        transaction.on_commit(_kick, robust=True)
    return Received(
        queued=queued,
        ignored=len(inserted) - len(queued),
        duplicates=len(unique) - len(inserted),
    )


def inbound_events_dispatch(*, limit: int = DISPATCH_BATCH, last_round: bool = False) -> list[int]:
    """Claim the stored events nobody queued yet (oldest first) and send them to the
    workers once the claim is committed (`integrations.process_events`, PROCESS_BATCH
    each). Returns their ids.

    Having claimed some, the dispatcher keeps the kick pending and runs again (at once
    after a full batch, else FOLLOW_UP_SECONDS later). Having claimed none, it clears the
    kick and, unless this was that `last_round`, looks once more FOLLOW_UP_SECONDS later
    for events whose hooks relied on the kick it cleared."""
    key = _kick_key(current_schema())
    ids = _claim(limit)
    if ids:
        kv.client().set(key, 1, ex=KICK_TTL_SECONDS)
        wait = 0 if len(ids) == limit else FOLLOW_UP_SECONDS
        transaction.on_commit(lambda: _dispatch_later(wait), robust=True)
    elif not last_round:
        kv.client().delete(key)
        transaction.on_commit(lambda: _dispatch_later(FOLLOW_UP_SECONDS, True), robust=True)
    return ids


def _dispatch_later(seconds: float, last_round: bool = False) -> None:
    kwargs = {"last_round": True} if last_round else {}
    current_app.send_task(DISPATCH_EVENTS, kwargs=kwargs, countdown=seconds)


def _claim(limit: int) -> list[int]:
    with transaction.atomic():
        with connection.cursor() as cursor:  # a lost claim is redone by the sweep
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        ids = list(
            events_unqueued()
            .select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        InboundEvent.objects.filter(pk__in=ids).update(queued_at=timezone.now())
        transaction.on_commit(lambda: _enqueue(ids))
    return ids


def inbound_events_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Send again the tasks of events still unprocessed well after they were queued (a lost
    message, a worker that died before acknowledging it) or never queued (the broker was
    down when they arrived). Processing an event twice is harmless."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            events_pending(now=now)
            .select_for_update(skip_locked=True)
            .order_by("received_at")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return 0
        InboundEvent.objects.filter(pk__in=ids).update(queued_at=now)
        transaction.on_commit(lambda: _enqueue(ids))
    return len(ids)


@transaction.atomic
def inbound_events_requeue(*, events: Iterable[InboundEvent], actor: Actor) -> int:
    """Process unrouted or failed events again (after a routing rule was added or a bug
    fixed); events already processed are left alone. Returns how many were queued."""
    updated = list(
        InboundEvent.objects.filter(
            pk__in=[e.pk for e in events],
            status__in=(EventStatus.UNROUTED, EventStatus.FAILED, EventStatus.RECEIVED),
        ).values_list("pk", flat=True)
    )
    if not updated:
        return 0
    InboundEvent.objects.filter(pk__in=updated).update(
        status=EventStatus.RECEIVED, reason="", processed_at=None, queued_at=None
    )
    audit_record(
        actor=actor, action="integration.events_requeued", details={"event_ids": updated[:100]}
    )
    transaction.on_commit(_kick)
    return len(updated)
