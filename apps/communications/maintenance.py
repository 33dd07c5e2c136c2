"""What subscribers (and staff) hear about a maintenance window.

From the incidents domain's events: a notice when it is scheduled, `maintenance_started`,
`maintenance_completed`, `maintenance_rescheduled` when it moves, and when its end moves
later: `maintenance_overrun` with the revised end while it runs, `maintenance_rescheduled`
before it starts. A cancelled window gets `maintenance_cancelled`, sent only to the people
an earlier message about it reached, on the channels they heard it on (nobody told, nothing
sent) and never on the status page or the in-app banner, which stop showing the window by
themselves; whatever about the window had not gone out yet is cancelled with it.

From the cadence tick (`maintenance_due`): reminders before the start (72 h, 24 h and 1 h
by default; `CadenceSettings.maintenance_reminder_hours`), and 30 minutes before the
planned end of a window still open, an overrun: staff are alerted and the window's planned
end moves later by the tenant's maintenance buffer (50% of the planned duration by default,
at least 30 minutes), which tells subscribers the revised end through the `extended` event.

Maintenance messages need no approval (the approval rule covers P1/P2 incidents) and are
published at once; a message that cannot be published stays a draft with its problem.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from apps.communications.choices import ChannelKey, MessageKind, MessageState, ReminderKind
from apps.communications.context import status_page_url
from apps.communications.models import CadenceSettings, Message
from apps.communications.rendering import local
from apps.communications.services import (
    message_cancel,
    message_draft,
    message_publish,
    told_channels,
)
from apps.communications.staff import ACTOR, Recipient, guarded, reminder_claim, staff_alert
from apps.core.events import DomainEvent, subscribe
from apps.core.exceptions import ApplicationError
from apps.incidents import events
from apps.incidents.choices import ACTIVE_MAINTENANCE, MaintenanceStatus
from apps.incidents.models import MaintenanceWindow
from apps.incidents.selectors import policy_settings
from apps.incidents.services import maintenance_extend

logger = logging.getLogger(__name__)

MIN_OVERRUN_EXTENSION = timedelta(minutes=30)
ROUND_TO = timedelta(minutes=15)
# Messages that already told subscribers the window's time: no reminder is due right after.
ANNOUNCING = (MessageKind.MAINTENANCE_NOTICE, MessageKind.MAINTENANCE_RESCHEDULED)
# Surfaces that show the window itself (and drop it once cancelled): no cancellation there.
SHOWS_THE_WINDOW = (ChannelKey.STATUS_PAGE, ChannelKey.IN_APP)


def maintenance_message_send(
    *,
    window: MaintenanceWindow,
    kind: str,
    extra: dict[str, Any] | None = None,
    channels: list[str] | None = None,
) -> Message | None:
    """Draft the message and publish it unless it waits for an approver; a problem (a
    broken template, say) leaves the draft for a person and is logged."""
    try:
        message = message_draft(
            kind=kind, maintenance=window, channels=channels, extra=extra, actor=ACTOR
        )
        if not message.requires_approval:
            message = message_publish(message=message, actor=ACTOR)
    except ApplicationError as exc:
        logger.warning(
            "maintenance %s: %s not published: %s %s", window.pk, kind, exc.message, exc.fields
        )
        return None
    return message


def message_for_maintenance(event: DomainEvent) -> None:
    window_id = event.data.get("window_id")
    window = MaintenanceWindow.objects.filter(pk=window_id).first() if window_id else None
    if window is None:
        return
    extra: dict[str, Any] = {}
    if event.name == events.MAINTENANCE_SCHEDULED:
        kind = MessageKind.MAINTENANCE_NOTICE
    elif event.name == events.MAINTENANCE_STARTED:
        kind = MessageKind.MAINTENANCE_STARTED
    elif event.name == events.MAINTENANCE_COMPLETED:
        kind = MessageKind.MAINTENANCE_COMPLETED
    elif event.name == events.MAINTENANCE_RESCHEDULED:
        kind = MessageKind.MAINTENANCE_RESCHEDULED
        extra["previous_start"] = event.data.get("previous_start")
    elif event.name == events.MAINTENANCE_EXTENDED and window.status in ACTIVE_MAINTENANCE:
        kind = MessageKind.MAINTENANCE_OVERRUN
        extra["revised_end"] = window.scheduled_end.isoformat()
    elif event.name == events.MAINTENANCE_EXTENDED and window.status == MaintenanceStatus.SCHEDULED:
        kind = MessageKind.MAINTENANCE_RESCHEDULED  # a longer plan: same start, later end
        extra["previous_start"] = window.scheduled_start.isoformat()
    else:
        return
    maintenance_message_send(window=window, kind=kind, extra=extra)


def cancellation_for_maintenance(event: DomainEvent) -> None:
    window_id = event.data.get("window_id")
    window = MaintenanceWindow.objects.filter(pk=window_id).first() if window_id else None
    if window is None or window.status != MaintenanceStatus.CANCELLED:
        return
    messages = window.messages.all()
    if messages.filter(kind=MessageKind.MAINTENANCE_CANCELLED).exists():
        return  # told already (the handler may run twice)
    for waiting in messages.filter(state__in=(MessageState.DRAFT, MessageState.APPROVED)):
        message_cancel(message=waiting, actor=ACTOR)
    chosen = [c for c in told_channels(maintenance=window) if c not in SHOWS_THE_WINDOW]
    if not chosen:
        return  # nobody heard of the window: nothing to call off
    maintenance_message_send(
        window=window,
        kind=MessageKind.MAINTENANCE_CANCELLED,
        channels=chosen,
        extra={"reason": event.data.get("reason", "")},
    )


# --- the tick -----------------------------------------------------------------------------


def _hours(hours: int) -> str:
    return "1 hour" if hours == 1 else f"{hours} hours"


def _reminders(*, now: datetime, cadence: CadenceSettings) -> int:
    """The closest reminder point each upcoming window has passed, once per start time;
    none when the window was announced (or moved) after that point."""
    offsets = sorted({h for h in cadence.maintenance_reminder_hours if h > 0})
    if not offsets:
        return 0
    created = 0
    upcoming = MaintenanceWindow.objects.upcoming().filter(
        scheduled_start__gt=now, scheduled_start__lte=now + timedelta(hours=offsets[-1])
    )
    for window in upcoming:
        created += guarded(
            partial(_reminder, window, now=now, offsets=offsets), what=f"maintenance {window.pk}"
        )
    return created


def _reminder(window: MaintenanceWindow, *, now: datetime, offsets: list[int]) -> int:
    hours = min(h for h in offsets if window.scheduled_start - timedelta(hours=h) <= now)
    point = window.scheduled_start - timedelta(hours=hours)
    if window.messages.filter(kind__in=ANNOUNCING, created_at__gte=point).exists():
        return 0
    reminder = reminder_claim(
        key=f"maintenance_reminder:{window.pk}:{window.scheduled_start.isoformat()}:{hours}",
        kind=ReminderKind.MAINTENANCE_REMINDER,
        due_at=point,
        maintenance=window,
    )
    if reminder is None:
        return 0
    message = maintenance_message_send(
        window=window, kind=MessageKind.MAINTENANCE_REMINDER, extra={"starts_in": _hours(hours)}
    )
    if message is not None:
        reminder.message = message
        reminder.save(update_fields=["message"])
    return 1


def revised_end(window: MaintenanceWindow, *, now: datetime) -> datetime:
    """The planned end plus the tenant's buffer share of the planned duration (at least 30
    minutes, and at least 30 minutes from now), rounded up to a quarter hour."""
    planned = window.scheduled_end - window.scheduled_start
    extension = max(planned * policy_settings().maintenance_buffer_pct / 100, MIN_OVERRUN_EXTENSION)
    end = max(window.scheduled_end + extension, now + MIN_OVERRUN_EXTENSION)
    step = ROUND_TO.total_seconds()
    stamp = math.ceil(end.timestamp() / step) * step
    return datetime.fromtimestamp(stamp, tz=end.tzinfo)


def _staff(window: MaintenanceWindow, cadence: CadenceSettings) -> list[Recipient]:
    people: list[Recipient] = []
    if window.created_by is not None:
        people.append((window.created_by.email, window.created_by.time_zone or "UTC"))
    return people + [(email, "UTC") for email in cadence.staff_emails]


def _overrun(window: MaintenanceWindow, *, now: datetime, cadence: CadenceSettings) -> int:
    planned_end = window.scheduled_end
    lead = cadence.maintenance_overrun_lead
    reminder = reminder_claim(
        key=f"maintenance_overrun:{window.pk}:{planned_end.isoformat()}",
        kind=ReminderKind.MAINTENANCE_OVERRUN,
        due_at=planned_end - lead,
        maintenance=window,
    )
    if reminder is None:
        return 0
    new_end = revised_end(window, now=now)
    # Subscribers hear the revised end from the `maintenance.extended` event's handler.
    window = maintenance_extend(
        window=window,
        new_end=new_end,
        reason=f"Still in progress {int(lead.total_seconds() // 60)} minutes before the "
        f"planned end: the expected end moves to {new_end:%Y-%m-%d %H:%M} UTC.",
        actor=ACTOR,
    )
    link = f"{status_page_url()}admin/incidents/maintenancewindow/{window.pk}/change/"

    def compose(zone: str) -> tuple[str, str]:
        return (
            f"[Overrun] Maintenance still in progress: {window.title}",
            f"The maintenance '{window.title}' was planned to end at "
            f"{local(planned_end, zone)} and is still in progress. Subscribers are told it "
            f"now ends by {local(new_end, zone)}. Complete it when the work is done, or "
            f"extend it if it needs longer: {link}",
        )

    staff_alert(
        reminder,
        compose=compose,
        emails=_staff(window, cadence),
        slack_url=cadence.staff_slack_webhook_url,
    )
    return 1


def _overruns(*, now: datetime, cadence: CadenceSettings) -> int:
    """Windows still open within the lead time of their planned end, once per end."""
    running = (
        MaintenanceWindow.objects.active()
        .filter(scheduled_end__lte=now + cadence.maintenance_overrun_lead)
        .select_related("created_by")
    )
    return sum(
        guarded(
            partial(_overrun, window, now=now, cadence=cadence), what=f"maintenance {window.pk}"
        )
        for window in running
    )


def maintenance_due(*, now: datetime, cadence: CadenceSettings) -> int:
    """Create the maintenance reminders and overruns due at `now`; return how many."""
    return _reminders(now=now, cadence=cadence) + _overruns(now=now, cadence=cadence)


def connect() -> None:
    for name in (
        events.MAINTENANCE_SCHEDULED,
        events.MAINTENANCE_STARTED,
        events.MAINTENANCE_COMPLETED,
        events.MAINTENANCE_RESCHEDULED,
        events.MAINTENANCE_EXTENDED,
    ):
        subscribe(name, message_for_maintenance)
    subscribe(events.MAINTENANCE_CANCELLED, cancellation_for_maintenance)
