"""Maintenance window use-cases: schedule, start, post an update, extend, complete, cancel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.core.audit import Actor, actor_label, audit_record
from apps.core.events import emit
from apps.core.exceptions import Conflict, ValidationFailed
from apps.incidents import events
from apps.incidents.choices import ACTIVE_MAINTENANCE, ExpectedImpact, MaintenanceStatus
from apps.incidents.models import MaintenanceUpdate, MaintenanceWindow
from apps.incidents.services.common import check_future, resolve_regions, resolve_services

OPEN_MAINTENANCE = (MaintenanceStatus.SCHEDULED, *ACTIVE_MAINTENANCE)


def _lock(window: MaintenanceWindow) -> MaintenanceWindow:
    return MaintenanceWindow.objects.select_for_update().get(pk=window.pk)


def _note(window: MaintenanceWindow, body: str, actor: Actor, now: datetime) -> MaintenanceUpdate:
    return MaintenanceUpdate.objects.create(
        window=window,
        status=window.status,
        body=body,
        author_label=actor_label(actor)[:200],
        created_at=now,
    )


def _refuse(window: MaintenanceWindow, doing: str) -> Conflict:
    return Conflict(
        f"Maintenance #{window.pk} is {window.get_status_display().lower()}; it cannot {doing}.",
        code=f"maintenance_{window.status}",
    )


@transaction.atomic
def maintenance_schedule(
    *,
    title: str,
    services: Sequence[str],
    scheduled_start: datetime,
    scheduled_end: datetime,
    regions: Sequence[str] = (),
    description: str = "",
    expected_impact: str = ExpectedImpact.DEGRADED,
    customer_action: str = "",
    contact_by: datetime | None = None,
    actor: Actor,
) -> MaintenanceWindow:
    """Announce a maintenance window on the given service slugs (and region codes)."""
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    if not title.strip():
        errors["title"] = ["Give the maintenance a title customers understand."]
    elif len(title.strip()) > 200:
        errors["title"] = ["Use at most 200 characters."]
    if not services:
        errors["services"] = ["Name at least one affected service."]
    service_rows, service_errors = resolve_services(dict.fromkeys(services, "under_maintenance"))
    region_rows, region_errors = resolve_regions(regions)
    errors |= service_errors | region_errors
    errors |= check_future("scheduled_start", scheduled_start, now)
    if scheduled_end <= scheduled_start:
        errors["scheduled_end"] = ["The window must end after it starts."]
    if expected_impact not in ExpectedImpact.values:
        errors["expected_impact"] = [f"Use one of {', '.join(ExpectedImpact.values)}."]
    if contact_by is not None and contact_by > scheduled_start:
        errors["contact_by"] = ["The contact deadline must be before the window starts."]
    if errors:
        raise ValidationFailed("The maintenance cannot be scheduled.", fields=errors)
    window = MaintenanceWindow.objects.create(
        title=title.strip(),
        description=description.strip(),
        scheduled_start=scheduled_start,
        scheduled_end=scheduled_end,
        expected_impact=expected_impact,
        customer_action=customer_action.strip(),
        contact_by=contact_by,
        created_by=actor if isinstance(actor, User) else None,
    )
    window.services.set([s for s, _ in service_rows])
    window.regions.set(region_rows)
    _note(window, description.strip() or title.strip(), actor, now)
    audit_record(actor=actor, action="maintenance.scheduled", obj=window)
    emit(events.MAINTENANCE_SCHEDULED, window_id=window.pk)
    return window


@transaction.atomic
def maintenance_start(
    *, window: MaintenanceWindow, body: str = "", actor: Actor
) -> MaintenanceWindow:
    window = _lock(window)
    if window.status in ACTIVE_MAINTENANCE:
        return window
    if window.status != MaintenanceStatus.SCHEDULED:
        raise _refuse(window, "start")
    now = timezone.now()
    window.status = MaintenanceStatus.IN_PROGRESS
    window.actual_start = now
    window.planned_end = window.scheduled_end  # what customers were told: overruns count from here
    window.save()
    _note(window, body.strip() or "Maintenance has started.", actor, now)
    audit_record(actor=actor, action="maintenance.started", obj=window)
    emit(events.MAINTENANCE_STARTED, window_id=window.pk)
    return window


@transaction.atomic
def maintenance_post_update(
    *, window: MaintenanceWindow, body: str, status: str | None = None, actor: Actor
) -> MaintenanceUpdate:
    """A progress note; `status` may move an active window to `verifying` (or back)."""
    window = _lock(window)
    if window.status not in OPEN_MAINTENANCE:
        raise _refuse(window, "take updates")
    if not body.strip():
        raise ValidationFailed("The update is empty.", fields={"body": ["Write the update."]})
    if status is not None and status != window.status:
        if window.status not in ACTIVE_MAINTENANCE or status not in ACTIVE_MAINTENANCE:
            raise ValidationFailed(
                "That status cannot be set by an update.",
                fields={
                    "status": [
                        "Use in_progress or verifying on a started window; start, "
                        "complete and cancel have their own actions."
                    ]
                },
            )
        window.status = status
        window.save(update_fields=["status", "updated_at"])
    update = _note(window, body.strip(), actor, timezone.now())
    audit_record(
        actor=actor, action="maintenance.updated", obj=window, details={"update_id": update.pk}
    )
    emit(events.MAINTENANCE_UPDATED, window_id=window.pk, update_id=update.pk)
    return update


@transaction.atomic
def maintenance_extend(
    *, window: MaintenanceWindow, new_end: datetime, reason: str = "", actor: Actor
) -> MaintenanceWindow:
    """Move the planned end later (an overrun, or a longer plan)."""
    window = _lock(window)
    if window.status not in OPEN_MAINTENANCE:
        raise _refuse(window, "be extended")
    now = timezone.now()
    if new_end <= window.scheduled_end:
        raise ValidationFailed(
            "The window can only be extended.",
            fields={
                "new_end": [
                    f"Give a time after the current end, {window.scheduled_end:%Y-%m-%d %H:%M} UTC."
                ]
            },
        )
    if new_end <= now:
        raise ValidationFailed(
            "The new end is in the past.", fields={"new_end": ["Give a future time."]}
        )
    old_end = window.scheduled_end
    window.scheduled_end = new_end
    window.save(update_fields=["scheduled_end", "updated_at"])
    _note(window, reason.strip() or f"Extended until {new_end:%Y-%m-%d %H:%M} UTC.", actor, now)
    audit_record(
        actor=actor,
        action="maintenance.extended",
        obj=window,
        details={"old_end": old_end.isoformat(), "new_end": new_end.isoformat()},
    )
    emit(events.MAINTENANCE_EXTENDED, window_id=window.pk, old_end=old_end.isoformat())
    return window


@transaction.atomic
def maintenance_complete(
    *, window: MaintenanceWindow, body: str = "", actor: Actor
) -> MaintenanceWindow:
    window = _lock(window)
    if window.status == MaintenanceStatus.COMPLETED:
        return window
    if window.status == MaintenanceStatus.SCHEDULED:
        raise _refuse(window, "be completed before it has started")
    if window.status not in ACTIVE_MAINTENANCE:
        raise _refuse(window, "be completed")
    now = timezone.now()
    window.status = MaintenanceStatus.COMPLETED
    window.actual_end = now
    window.save()
    _note(window, body.strip() or "Maintenance is complete.", actor, now)
    audit_record(actor=actor, action="maintenance.completed", obj=window)
    emit(events.MAINTENANCE_COMPLETED, window_id=window.pk)
    return window


@transaction.atomic
def maintenance_cancel(
    *, window: MaintenanceWindow, reason: str = "", actor: Actor
) -> MaintenanceWindow:
    window = _lock(window)
    if window.status == MaintenanceStatus.CANCELLED:
        return window
    if window.status in ACTIVE_MAINTENANCE:
        raise _refuse(window, "be cancelled (complete it instead)")
    if window.status != MaintenanceStatus.SCHEDULED:
        raise _refuse(window, "be cancelled")
    now = timezone.now()
    window.status = MaintenanceStatus.CANCELLED
    window.save(update_fields=["status", "updated_at"])
    _note(window, reason.strip() or "This maintenance has been cancelled.", actor, now)
    audit_record(
        actor=actor, action="maintenance.cancelled", obj=window, details={"reason": reason}
    )
    emit(events.MAINTENANCE_CANCELLED, window_id=window.pk, reason=reason.strip())
    return window


@transaction.atomic
def maintenance_reschedule(
    *,
    window: MaintenanceWindow,
    scheduled_start: datetime,
    scheduled_end: datetime,
    reason: str = "",
    actor: Actor,
) -> MaintenanceWindow:
    """Move a window that has not started to another time; the event carries the previous
    times so that subscribers can be told what moved."""
    window = _lock(window)
    if window.status != MaintenanceStatus.SCHEDULED:
        raise _refuse(window, "be rescheduled (extend it instead)")
    now = timezone.now()
    errors = check_future("scheduled_start", scheduled_start, now)
    if scheduled_end <= scheduled_start:
        errors["scheduled_end"] = ["The window must end after it starts."]
    if window.contact_by is not None and window.contact_by > scheduled_start:
        errors.setdefault("scheduled_start", []).append(
            f"The contact deadline, {window.contact_by:%Y-%m-%d %H:%M} UTC, is after this "
            "start; choose a later start."
        )
    if errors:
        raise ValidationFailed("The maintenance cannot be rescheduled.", fields=errors)
    if (window.scheduled_start, window.scheduled_end) == (scheduled_start, scheduled_end):
        return window
    previous_start, previous_end = window.scheduled_start, window.scheduled_end
    window.scheduled_start, window.scheduled_end = scheduled_start, scheduled_end
    window.save(update_fields=["scheduled_start", "scheduled_end", "updated_at"])
    _note(
        window,
        reason.strip() or f"Rescheduled to {scheduled_start:%Y-%m-%d %H:%M} UTC.",
        actor,
        now,
    )
    audit_record(
        actor=actor,
        action="maintenance.rescheduled",
        obj=window,
        details={"previous_start": previous_start.isoformat(), "reason": reason},
    )
    emit(
        events.MAINTENANCE_RESCHEDULED,
        window_id=window.pk,
        previous_start=previous_start.isoformat(),
        previous_end=previous_end.isoformat(),
    )
    return window
