"""What the cadence tick records and who on the staff it tells.

A `Reminder` is something the tick does once per due time; its unique key (kind, object,
due time) is claimed in the transaction that does the work, so a second or overlapping
tick does nothing. `StaffAlert` rows are the e-mails and staff Slack posts it produces:
sent after the work is committed, through the same channel modules as subscriber messages;
one that fails for a transient reason stays pending and is sent by the next tick.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.communications.channels.base import Outgoing, channels
from apps.communications.choices import AttemptOutcome, DeliveryStatus, StaffChannel
from apps.communications.models import CadenceSettings, Reminder, StaffAlert
from apps.core.exceptions import ApplicationError
from apps.incidents.models import Incident, MaintenanceWindow

logger = logging.getLogger(__name__)

ACTOR = "Clarion"
MAX_ALERT_ATTEMPTS = 5
SENDING_GRACE = timedelta(minutes=10)

# (address, time zone) of an e-mail recipient
Recipient = tuple[str, str]
Compose = Callable[[str], tuple[str, str]]  # time zone -> (subject, text)


def cadence_settings() -> CadenceSettings:
    """The tenant's cadence settings: its row, or the defaults while it has none."""
    found = CadenceSettings.objects.filter(pk=CadenceSettings.singleton_pk).first()
    return found or CadenceSettings(pk=CadenceSettings.singleton_pk)


def reminder_claim(
    *,
    key: str,
    kind: str,
    due_at: datetime,
    incident: Incident | None = None,
    maintenance: MaintenanceWindow | None = None,
) -> Reminder | None:
    """The new reminder for `key`, or None when a tick (this one or one running at the same
    time) already made it. A concurrent insert of the same key waits for the other
    transaction and then fails on the unique index, so exactly one tick gets the row."""
    try:
        with transaction.atomic():
            reminder, created = Reminder.objects.get_or_create(
                key=key,
                defaults={
                    "kind": kind,
                    "due_at": due_at,
                    "incident": incident,
                    "maintenance": maintenance,
                },
            )
    except IntegrityError:
        return None
    return reminder if created else None


def guarded(work: Callable[[], int], *, what: str) -> int:
    """Run one object's cadence work in a savepoint. An ApplicationError (a refused move, a
    broken template) undoes that work alone, its reminder included so that the next tick
    tries again, and is logged; the other objects' work goes on."""
    try:
        with transaction.atomic():
            return work()
    except ApplicationError as exc:
        logger.warning("cadence: %s: %s %s", what, exc.message, exc.fields)
        return 0


def staff_alert(
    reminder: Reminder,
    *,
    compose: Compose,
    emails: Iterable[Recipient],
    slack_url: str,
) -> list[StaffAlert]:
    """Queue the reminder's alert to each e-mail address (in that person's time zone) and
    to the staff Slack channel (UTC); each address once."""
    rows: dict[tuple[str, str], StaffAlert] = {}
    for address, zone in emails:
        if address and (StaffChannel.EMAIL, address.lower()) not in rows:
            subject, text = compose(zone)
            rows[(StaffChannel.EMAIL, address.lower())] = StaffAlert(
                reminder=reminder,
                channel=StaffChannel.EMAIL,
                address=address,
                subject=subject[:300],
                text=text,
            )
    if slack_url:
        subject, text = compose("UTC")
        rows[(StaffChannel.SLACK, slack_url)] = StaffAlert(
            reminder=reminder,
            channel=StaffChannel.SLACK,
            address=slack_url,
            subject=subject[:300],
            text=f"*{subject}*\n{text}",
        )
    if not rows:
        logger.warning("%s: nobody to tell (no commander, contacts or staff Slack)", reminder)
    return StaffAlert.objects.bulk_create(rows.values(), ignore_conflicts=True)


def staff_alerts_send() -> dict[str, int]:
    """Send the pending staff alerts (rows another tick holds are skipped); a transient
    failure leaves the row pending for the next tick, up to MAX_ALERT_ATTEMPTS."""
    now = timezone.now()
    StaffAlert.objects.filter(
        status=DeliveryStatus.SENDING, queued_at__lt=now - SENDING_GRACE
    ).update(status=DeliveryStatus.PENDING)
    with transaction.atomic():
        rows = list(
            StaffAlert.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING)
            .order_by("id")[:500]
        )
        StaffAlert.objects.filter(pk__in=[r.pk for r in rows]).update(
            status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, queued_at=now
        )
    by_channel: defaultdict[str, list[StaffAlert]] = defaultdict(list)
    for row in rows:
        by_channel[row.channel].append(row)
    counts: defaultdict[str, int] = defaultdict(int)
    for channel, batch in by_channel.items():
        implementation = channels._items.get(channel)
        if implementation is None:
            StaffAlert.objects.filter(pk__in=[r.pk for r in batch]).update(
                status=DeliveryStatus.FAILED, error=f"no {channel} channel is configured"
            )
            counts["failed"] += len(batch)
            continue
        results = implementation.send(
            [
                Outgoing(
                    delivery_id=row.pk,
                    idempotency_key=row.idempotency_key,
                    address=row.address,
                    parts={"subject": row.subject, "text": row.text},
                )
                for row in batch
            ]
        )
        attempts = {row.pk: row.attempts + 1 for row in batch}
        for result in results:
            _record(result.delivery_id, result.outcome, result.error, attempts[result.delivery_id])
            counts[str(result.outcome)] += 1
    return dict(counts)


def _record(pk: int, outcome: AttemptOutcome, error: str, attempts: int) -> None:
    qs = StaffAlert.objects.filter(pk=pk)
    if outcome == AttemptOutcome.SENT:
        qs.update(status=DeliveryStatus.SENT, sent_at=timezone.now(), error="")
    elif outcome == AttemptOutcome.TRANSIENT and attempts < MAX_ALERT_ATTEMPTS:
        qs.update(status=DeliveryStatus.PENDING, error=error)
    else:
        reason = error or "refused by the provider"
        if outcome == AttemptOutcome.TRANSIENT:
            reason = f"gave up after {attempts} attempts: {reason}"
        qs.update(status=DeliveryStatus.FAILED, error=reason)
