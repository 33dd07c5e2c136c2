"""Incident use-cases: open, assess, update, confirm, re-grade, resolve, reopen, false alarm,
attach to and detach from a parent, edit. Each runs in one transaction, writes an audit entry,
emits its domain event on commit and refuses illegal moves with an ApplicationError that says
why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from copy import copy
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.core.audit import Actor, actor_label, audit_record
from apps.core.events import emit
from apps.core.exceptions import Conflict, ValidationFailed
from apps.incidents import events
from apps.incidents.choices import (
    OPEN_STATUSES,
    UPDATE_STATUSES,
    ComponentStatus,
    IncidentSource,
    IncidentStatus,
    Severity,
)
from apps.incidents.models import Incident, IncidentService, IncidentUpdate
from apps.incidents.selectors import incident_clocks, policy_for, policy_settings
from apps.incidents.services.common import (
    PAST_TOLERANCE,
    UNCHANGED,
    Unchanged,
    check_future,
    humanise,
    resolve_regions,
    resolve_services,
    snapshot,
)

TITLE_MAX = 200


def _author(actor: Actor) -> dict[str, Any]:
    return {
        "author": actor if isinstance(actor, User) else None,
        "author_label": actor_label(actor)[:200],
    }


def _internal_note(incident: Incident, note: str, *, actor: Actor, now: datetime) -> IncidentUpdate:
    """A staff-only timeline entry (never on the status page, never sent)."""
    return IncidentUpdate.objects.create(
        incident=incident,
        status=incident.status,
        internal_note=note,
        deliver_notifications=False,
        created_at=now,
        display_at=now,
        **_author(actor),
    )


def _lock(incident: Incident) -> Incident:
    """The incident's row, locked for this transaction, so concurrent moves serialise."""
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _require_open(incident: Incident, doing: str) -> None:
    if incident.status == IncidentStatus.RESOLVED:
        raise Conflict(
            f"Incident #{incident.pk} is resolved; reopen it before you {doing}.",
            code="incident_resolved",
        )


def _cadence(incident: Incident) -> tuple[timedelta | None, bool]:
    """The cadence in force and whether it is the extended-outage one: the extended-outage
    interval once an outage is extended, else the severity policy's (None = no cadence)."""
    settings = policy_settings()
    policy = policy_for(incident.severity)
    if incident_clocks(incident, settings=settings, policy=policy).extended_outage:
        return settings.extended_update_interval, True
    return policy.update_interval, False


def _update_interval(incident: Incident) -> timedelta | None:
    return _cadence(incident)[0]


def _check_promise(
    incident: Incident, promised: datetime, *, eta: datetime | Unchanged | None, now: datetime
) -> list[str]:
    """Why `promised` cannot be the next update's time, if it cannot: a promise may not
    reach past the cadence in force once the update is posted (the severity's interval, or
    the extended-outage one; giving or withdrawing an ETA ends an extended outage), or the
    cadence would be switched off by a far-away promise. No cadence (P4): any time."""
    after = copy(incident)  # the incident as this update leaves it, nothing saved
    if not isinstance(eta, Unchanged):
        _set_eta(after, eta, now)
    interval, extended = _cadence(after)
    if interval is None or promised <= now + interval + PAST_TOLERANCE:
        return []
    cadence = "an extended outage" if extended else f"a {incident.severity} incident"
    return [
        f"Customers of {cadence} hear from us every {humanise(interval)}: promise the next "
        f"update no later than {now + interval:%Y-%m-%d %H:%M} UTC."
    ]


def _next_update_due(
    incident: Incident, *, promised: datetime | None, now: datetime
) -> datetime | None:
    if not incident.customer_impact_confirmed:
        return None  # no customer cadence before impact is confirmed
    if promised is not None:
        return promised
    interval = _update_interval(incident)
    return now + interval if interval else None


def _acknowledge(incident: Incident, now: datetime) -> None:
    if incident.acknowledged_at is None:
        incident.acknowledged_at = now


def _set_eta(incident: Incident, eta: datetime | None, now: datetime) -> None:
    if eta is None and incident.eta is not None:
        incident.eta_unknown_since = now
    elif eta is not None:
        incident.eta_unknown_since = None
    incident.eta = eta


@transaction.atomic
def incident_open(
    *,
    title: str,
    severity: str,
    services: Mapping[str, str] | None = None,
    regions: Sequence[str] = (),
    internal_title: str = "",
    impact_scope_pct: int | None = None,
    body: str = "",
    commander: User | None = None,
    customer_impact_confirmed: bool | None = None,
    source: str = IncidentSource.MANUAL,
    external_id: str = "",
    started_at: datetime | None = None,
    actor: Actor,
) -> Incident:
    """Open an incident. Monitoring sources open it in `triage` (customer impact not
    confirmed: internal alerts only); a person opens it confirmed unless told otherwise.

    `services` maps service slugs to the component status the incident puts them in;
    `regions` are region codes (none = all regions). Opening again with the same `source`
    and `external_id` returns the existing incident."""
    now = timezone.now()
    if external_id:
        existing = Incident.objects.filter(source=source, external_id=external_id).first()
        if existing is not None:
            return existing
    errors: dict[str, list[str]] = {}
    title = title.strip()
    if not title:
        errors["title"] = ["Give the incident a customer-facing title, e.g. 'Payments delayed'."]
    elif len(title) > TITLE_MAX:
        errors["title"] = [f"Use at most {TITLE_MAX} characters."]
    if len(internal_title.strip()) > TITLE_MAX:
        errors["internal_title"] = [f"Use at most {TITLE_MAX} characters."]
    if len(external_id) > 200:
        errors["external_id"] = ["Use at most 200 characters."]
    if severity not in Severity.values:
        errors["severity"] = [f"Unknown severity {severity!r}: use one of P1, P2, P3, P4."]
    if source not in IncidentSource.values:
        errors["source"] = [f"Unknown source {source!r}."]
    if impact_scope_pct is not None and not 0 <= impact_scope_pct <= 100:
        errors["impact_scope_pct"] = ["Give a percentage between 0 and 100."]
    if started_at is not None and started_at > now + timedelta(minutes=5):
        errors["started_at"] = ["An incident cannot start in the future."]
    affected, service_errors = resolve_services(services or {})
    region_rows, region_errors = resolve_regions(regions)
    errors.update(service_errors | region_errors)
    if errors:
        raise ValidationFailed("The incident cannot be opened.", fields=errors)

    # People (in the portal or through the API) open confirmed incidents unless they say
    # otherwise; monitoring integrations open them in triage.
    confirmed = (
        source in (IncidentSource.MANUAL, IncidentSource.API)
        if customer_impact_confirmed is None
        else customer_impact_confirmed
    )
    if body.strip() and not confirmed:
        raise ValidationFailed(
            "A public message needs confirmed customer impact.",
            fields={"body": ["Leave it empty until customer impact is confirmed."]},
        )
    started = started_at or now
    try:
        with transaction.atomic():  # a savepoint: a lost race on external_id is not fatal
            incident = Incident.objects.create(
                title=title,
                internal_title=internal_title.strip(),
                severity=severity,
                status=IncidentStatus.INVESTIGATING if confirmed else IncidentStatus.TRIAGE,
                customer_impact_confirmed=confirmed,
                impact_confirmed_at=now if confirmed else None,
                impact_scope_pct=impact_scope_pct,
                commander=commander,
                started_at=started,
                detected_at=now,
                eta_unknown_since=started,
                source=source,
                external_id=external_id,
            )
    except IntegrityError:
        if not external_id:
            raise
        # A concurrent open of the same alert won: return its incident, as a repeat would.
        return Incident.objects.get(source=source, external_id=external_id)
    IncidentService.objects.bulk_create(
        IncidentService(incident=incident, service=service, component_status=status)
        for service, status in affected
    )
    incident.regions.set(region_rows)
    incident.next_update_due = _next_update_due(incident, promised=None, now=now)
    incident.save(update_fields=["next_update_due"])
    update = None
    if body.strip():
        update = IncidentUpdate.objects.create(
            incident=incident,
            status=incident.status,
            body=body.strip(),
            next_update_at=incident.next_update_due,
            component_changes=[
                {
                    "service": s.slug,
                    "name": s.name,
                    "old_status": ComponentStatus.OPERATIONAL,
                    "new_status": status,
                }
                for s, status in affected
            ],
            created_at=now,
            display_at=now,
            **_author(actor),
        )
    audit_record(
        actor=actor,
        action="incident.opened",
        obj=incident,
        details={"severity": severity, "confirmed": confirmed, "source": source},
    )
    emit(events.INCIDENT_OPENED, incident_id=incident.pk, confirmed=confirmed)
    if update is not None:
        emit(
            events.UPDATE_POSTED,
            incident_id=incident.pk,
            update_id=update.pk,
            deliver_notifications=True,
        )
    return incident


@transaction.atomic
def incident_assess(
    *,
    incident: Incident,
    hypothesis: str | Unchanged = UNCHANGED,
    eta: datetime | Unchanged | None = UNCHANGED,
    impact_scope_pct: int | Unchanged | None = UNCHANGED,
    actor: Actor,
) -> Incident:
    """Record the initial assessment (root-cause hypothesis, ETA, scope); the first one
    stops the assessment clock, so it must say something: a hypothesis, an ETA or the scope.
    Later calls correct it (an ETA withdrawn as unknown, a hypothesis cleared)."""
    incident = _lock(incident)
    _require_open(incident, "assess it")
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    said = (
        (isinstance(hypothesis, str) and hypothesis.strip())
        or isinstance(eta, datetime)
        or isinstance(impact_scope_pct, int)
    )
    if incident.assessed_at is None and not said:
        errors["root_cause_hypothesis"] = [
            "An assessment needs a root-cause hypothesis, an ETA or the share of customers "
            "affected; give at least one."
        ]
    if not isinstance(eta, Unchanged) and eta is not None:
        errors |= check_future("eta", eta, now)
    if isinstance(impact_scope_pct, int) and not 0 <= impact_scope_pct <= 100:
        errors["impact_scope_pct"] = ["Give a percentage between 0 and 100."]
    if errors:
        raise ValidationFailed("The assessment cannot be recorded.", fields=errors)
    before = snapshot(incident, ("root_cause_hypothesis", "eta", "impact_scope_pct", "assessed_at"))
    if not isinstance(hypothesis, Unchanged):
        incident.root_cause_hypothesis = hypothesis.strip()
    if not isinstance(eta, Unchanged):
        _set_eta(incident, eta, now)
    if not isinstance(impact_scope_pct, Unchanged):
        incident.impact_scope_pct = impact_scope_pct
    if incident.assessed_at is None:
        incident.assessed_at = now
    _acknowledge(incident, now)
    after = snapshot(incident, before)
    if after == before:
        return incident
    incident.save()
    audit_record(
        actor=actor,
        action="incident.assessed",
        obj=incident,
        details={k: str(v) for k, v in after.items() if before[k] != v},
    )
    emit(events.INCIDENT_CHANGED, incident_id=incident.pk, fields=sorted(after))
    return incident


@transaction.atomic
def incident_post_update(
    *,
    incident: Incident,
    body: str = "",
    status: str | None = None,
    internal_note: str = "",
    eta: datetime | Unchanged | None = UNCHANGED,
    next_update_at: datetime | None = None,
    component_changes: Mapping[str, str] | None = None,
    deliver_notifications: bool = True,
    actor: Actor,
) -> IncidentUpdate:
    """Post a timeline entry: a public `body` (customers see it), an `internal_note` (never
    public), a new status, ETA, promised next update time and component status changes
    (service slug -> status; a service not yet affected is added). Resets the update clock."""
    incident = _lock(incident)
    _require_open(incident, "post an update")
    now = timezone.now()
    body, internal_note = body.strip(), internal_note.strip()
    new_status = status or incident.status
    errors: dict[str, list[str]] = {}
    if not body and not internal_note:
        errors["body"] = ["Write a public message, an internal note, or both."]
    if body and not incident.customer_impact_confirmed:
        errors["body"] = [
            "Customer impact is not confirmed: confirm it before posting a public message, "
            "or write an internal note instead."
        ]
    if (
        status is not None
        and status != incident.status
        and incident.status == IncidentStatus.TRIAGE
    ):
        errors["status"] = [
            "The incident is in triage: confirm customer impact to move it on, or resolve "
            "it or mark it a false alarm."
        ]
    elif status is not None and status not in UPDATE_STATUSES and status != incident.status:
        allowed = ", ".join(UPDATE_STATUSES)
        hint = " Use resolve to resolve it." if status == IncidentStatus.RESOLVED else ""
        errors["status"] = [f"An update can move the incident to {allowed}.{hint}"]
    if not isinstance(eta, Unchanged) and eta is not None:
        errors |= check_future("eta", eta, now)
    if next_update_at is not None:
        errors |= check_future("next_update_at", next_update_at, now)
        if not incident.customer_impact_confirmed:
            errors["next_update_at"] = [
                "There is no customer update cadence before customer impact is confirmed."
            ]
        elif too_late := _check_promise(incident, next_update_at, eta=eta, now=now):
            errors["next_update_at"] = too_late
    changes, change_errors = resolve_services(component_changes or {}, field="component_changes")
    errors |= change_errors
    if errors:
        raise ValidationFailed("The update cannot be posted.", fields=errors)

    current = {row.service_id: row for row in incident.affected.select_related("service")}
    recorded = []
    for service, new in changes:
        row = current.get(service.pk)
        old = row.component_status if row else ComponentStatus.OPERATIONAL
        if row is None:
            IncidentService.objects.create(incident=incident, service=service, component_status=new)
        elif old != new:
            row.component_status = new
            row.save(update_fields=["component_status"])
        if old != new:
            recorded.append(
                {
                    "service": service.slug,
                    "name": service.name,
                    "old_status": old,
                    "new_status": new,
                }
            )
    if new_status == IncidentStatus.MONITORING and incident.monitoring_at is None:
        incident.monitoring_at = now
    incident.status = new_status
    if not isinstance(eta, Unchanged):
        _set_eta(incident, eta, now)
    _acknowledge(incident, now)
    incident.next_update_due = _next_update_due(incident, promised=next_update_at, now=now)
    incident.save()
    update = IncidentUpdate.objects.create(
        incident=incident,
        status=new_status,
        body=body,
        internal_note=internal_note,
        eta=incident.eta,
        next_update_at=incident.next_update_due,
        component_changes=recorded,
        deliver_notifications=deliver_notifications and bool(body),
        created_at=now,
        display_at=now,
        **_author(actor),
    )
    audit_record(
        actor=actor,
        action="incident.update_posted",
        obj=incident,
        details={"update_id": update.pk, "status": new_status, "public": bool(body)},
    )
    emit(
        events.UPDATE_POSTED,
        incident_id=incident.pk,
        update_id=update.pk,
        deliver_notifications=update.deliver_notifications,
    )
    return update


@transaction.atomic
def incident_confirm_impact(*, incident: Incident, actor: Actor) -> Incident:
    """Customers are affected: the incident leaves triage, becomes public and its update
    cadence starts."""
    incident = _lock(incident)
    _require_open(incident, "confirm customer impact")
    if incident.customer_impact_confirmed:
        return incident
    parent = incident.parent
    if parent is not None and not parent.customer_impact_confirmed:
        # Customers hear of a child only through its parent: confirmed under a parent in
        # triage, its outage would show on the status page with no incident explaining it.
        raise Conflict(
            f"Incident #{incident.pk} is attached to #{parent.pk}, whose customer impact is "
            f"not confirmed: confirm #{parent.pk} first, or detach this incident.",
            code="parent_unconfirmed",
        )
    if parent is not None and not parent.is_open:
        raise Conflict(
            f"Incident #{incident.pk} is attached to #{parent.pk}, which is closed: detach "
            "this incident first, so that customers hear of it on its own.",
            code="parent_closed",
        )
    now = timezone.now()
    incident.customer_impact_confirmed = True
    incident.impact_confirmed_at = now
    if incident.status == IncidentStatus.TRIAGE:
        incident.status = IncidentStatus.INVESTIGATING
    _acknowledge(incident, now)
    incident.next_update_due = _next_update_due(incident, promised=None, now=now)
    incident.save()
    _internal_note(incident, "Customer impact confirmed.", actor=actor, now=now)
    audit_record(actor=actor, action="incident.impact_confirmed", obj=incident)
    emit(events.INCIDENT_IMPACT_CONFIRMED, incident_id=incident.pk)
    return incident


@transaction.atomic
def incident_change_severity(
    *, incident: Incident, severity: str, reason: str = "", actor: Actor
) -> Incident:
    """Re-grade the incident; its cadence applies from now on: the next update falls due
    within one interval of the new severity (a sooner time already promised stands), and a
    severity without a cadence (P4) stops the update clock."""
    incident = _lock(incident)
    _require_open(incident, "change its severity")
    if severity not in Severity.values:
        raise ValidationFailed(
            "The severity cannot be changed.",
            fields={"severity": [f"Unknown severity {severity!r}: use one of P1, P2, P3, P4."]},
        )
    if incident.severity == severity:
        return incident
    now = timezone.now()
    old = incident.severity
    incident.severity = severity
    if incident.customer_impact_confirmed:
        interval = _update_interval(incident)
        if interval is None:
            incident.next_update_due = None  # no cadence: nothing falls due any more
        elif incident.next_update_due is None or now + interval < incident.next_update_due:
            incident.next_update_due = now + interval
    incident.save()
    note = f"Severity changed from {old} to {severity}." + (
        f" {reason.strip()}" if reason.strip() else ""
    )
    _internal_note(incident, note, actor=actor, now=now)
    audit_record(
        actor=actor,
        action="incident.severity_changed",
        obj=incident,
        details={"old": old, "new": severity, "reason": reason},
    )
    emit(events.INCIDENT_SEVERITY_CHANGED, incident_id=incident.pk, old=old, new=severity)
    return incident


def _close(
    incident: Incident, *, body: str, note: str, now: datetime, actor: Actor
) -> IncidentUpdate:
    """Resolve `incident`: every affected service back to operational, clocks stopped."""
    recorded = []
    for row in incident.affected.select_related("service"):
        if row.component_status != ComponentStatus.OPERATIONAL:
            recorded.append(
                {
                    "service": row.service.slug,
                    "name": row.service.name,
                    "old_status": row.component_status,
                    "new_status": ComponentStatus.OPERATIONAL,
                }
            )
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = now
    incident.next_update_due = None
    incident.save()
    return IncidentUpdate.objects.create(
        incident=incident,
        status=IncidentStatus.RESOLVED,
        body=body if incident.customer_impact_confirmed else "",
        internal_note=note,
        component_changes=recorded,
        deliver_notifications=bool(body) and incident.customer_impact_confirmed,
        created_at=now,
        display_at=now,
        **_author(actor),
    )


# The all-clear's parts (DESIGN.md, step 6), each with what to write when it is missing.
ALL_CLEAR_FIELDS = {
    "what_was_affected": "Say what was affected, in customer terms (services, regions, who).",
    "root_cause": "Give the brief root cause customers will read.",
    "what_we_fixed": "Say what was fixed.",
    "prevention": "Say what will prevent it from happening again.",
}


@transaction.atomic
def incident_resolve(
    *,
    incident: Incident,
    body: str = "",
    what_was_affected: str = "",
    root_cause: str = "",
    what_we_fixed: str = "",
    prevention: str = "",
    actor: Actor,
) -> IncidentUpdate:
    """Resolve the incident (and its open children, which share its thread); every affected
    service returns to operational.

    Customers who were told about it get the all-clear, so a confirmed incident needs its
    parts: the message (`body`), what was affected, the brief root cause, what was fixed and
    the prevention steps. They are kept on the incident for the resolution message and the
    post-incident review. An unconfirmed incident resolves quietly without them."""
    incident = _lock(incident)
    if incident.status == IncidentStatus.RESOLVED:
        when = f" at {incident.resolved_at:%Y-%m-%d %H:%M} UTC" if incident.resolved_at else ""
        raise Conflict(
            f"Incident #{incident.pk} is already resolved{when}.", code="incident_resolved"
        )
    all_clear = {
        "what_was_affected": what_was_affected.strip(),
        "root_cause": root_cause.strip(),
        "what_we_fixed": what_we_fixed.strip(),
        "prevention": prevention.strip(),
    }
    if incident.customer_impact_confirmed:
        errors = {name: [hint] for name, hint in ALL_CLEAR_FIELDS.items() if not all_clear[name]}
        if not body.strip():
            errors = {"body": ["Write the resolution message customers will see."], **errors}
        if errors:
            raise ValidationFailed("Tell customers it is resolved.", fields=errors)
    for name, value in all_clear.items():
        if value:
            setattr(incident, name, value)
    now = timezone.now()
    # Customers never heard of an unconfirmed incident: what was written stays internal.
    note = "" if incident.customer_impact_confirmed else body.strip()
    update = _close(incident, body=body.strip(), note=note, now=now, actor=actor)
    for child in incident.children.filter(status__in=OPEN_STATUSES).select_for_update():
        _close(
            child,
            body="",
            note=f"Resolved with parent incident #{incident.pk}.",
            now=now,
            actor=actor,
        )
        audit_record(
            actor=actor, action="incident.resolved", obj=child, details={"with_parent": incident.pk}
        )
        emit(events.INCIDENT_RESOLVED, incident_id=child.pk, update_id=None)
    audit_record(
        actor=actor, action="incident.resolved", obj=incident, details={"update_id": update.pk}
    )
    emit(events.INCIDENT_RESOLVED, incident_id=incident.pk, update_id=update.pk)
    return update


@transaction.atomic
def incident_reopen(*, incident: Incident, reason: str, actor: Actor) -> Incident:
    """The problem is back: the incident returns to investigating with its cadence. A child
    whose parent stays resolved is detached from it (see `incident_detach_child`)."""
    incident = _lock(incident)
    if incident.status != IncidentStatus.RESOLVED:
        raise Conflict(
            f"Incident #{incident.pk} is open; only a resolved incident can be reopened.",
            code="incident_open",
        )
    if incident.false_alarm:
        raise Conflict(
            "A false alarm cannot be reopened; open a new incident instead.", code="false_alarm"
        )
    if not reason.strip():
        raise ValidationFailed("Say why it is reopened.", fields={"reason": ["Required."]})
    now = timezone.now()
    incident.status = (
        IncidentStatus.INVESTIGATING
        if incident.customer_impact_confirmed
        else IncidentStatus.TRIAGE
    )
    incident.resolved_at = None
    if incident.eta is None or incident.eta < now:
        incident.eta = None
        incident.eta_unknown_since = now  # the extended-outage clock starts again
    incident.next_update_due = _next_update_due(incident, promised=None, now=now)
    incident.save()
    _internal_note(incident, f"Reopened: {reason.strip()}", actor=actor, now=now)
    audit_record(actor=actor, action="incident.reopened", obj=incident, details={"reason": reason})
    parent = incident.parent
    if parent is not None and not parent.is_open:
        # The parent's thread is closed: left attached, the problem that is back would be
        # invisible to customers and skipped by the cadence.
        _detach(
            incident,
            note=f"Detached from parent incident #{parent.pk}, which stays resolved: this "
            "incident is tracked on its own again.",
            now=now,
            actor=actor,
        )
    emit(events.INCIDENT_REOPENED, incident_id=incident.pk)
    return incident


@transaction.atomic
def incident_mark_false_alarm(*, incident: Incident, note: str = "", actor: Actor) -> Incident:
    """Not a real problem: close it as a false alarm. If customers already heard about it,
    the event says so (`was_public`), so that an apology can go to exactly them.

    Its open children are detached, not closed: that the parent's problem was not real says
    nothing about theirs (a failing subsystem is still failing), and closing them would
    quietly turn their services green. Each becomes a top-level incident again, keeps its
    own confirmation state (a confirmed one is public on its own and its cadence starts) and
    gets an internal note saying why. Resolving a parent, by contrast, closes its children:
    the fix is theirs too."""
    incident = _lock(incident)
    if incident.false_alarm:
        return incident
    _require_open(incident, "mark it a false alarm")
    now = timezone.now()
    incident.false_alarm = True
    _close(incident, body="", note=f"False alarm. {note.strip()}".strip(), now=now, actor=actor)
    detached = []
    for child in incident.children.filter(status__in=OPEN_STATUSES).select_for_update():
        _detach(
            child,
            note=f"Detached from parent incident #{incident.pk}, a false alarm: this incident "
            "is tracked on its own again.",
            now=now,
            actor=actor,
        )
        detached.append(child.pk)
    audit_record(
        actor=actor,
        action="incident.false_alarm",
        obj=incident,
        details={"note": note, "detached_children": detached},
    )
    emit(
        events.INCIDENT_FALSE_ALARM,
        incident_id=incident.pk,
        was_public=incident.customer_impact_confirmed,
    )
    return incident


@transaction.atomic
def incident_attach_child(*, child: Incident, parent: Incident, actor: Actor) -> Incident:
    """Cascading failure: `child` joins `parent`'s thread and never notifies customers on
    its own. One level only: a parent has no parent, a child has no children."""
    child, parent = _lock(child), _lock(parent)
    if child.pk == parent.pk:
        raise ValidationFailed(
            "An incident cannot be its own parent.", fields={"parent": ["Choose another incident."]}
        )
    if child.parent_id == parent.pk:
        return child
    errors: list[str] = []
    if child.parent_id is not None:
        errors.append(f"Incident #{child.pk} is already attached to #{child.parent_id}.")
    if parent.parent_id is not None:
        errors.append(
            f"Incident #{parent.pk} is itself a child of #{parent.parent_id}; "
            f"attach to #{parent.parent_id} instead."
        )
    if child.children.exists():
        errors.append(
            f"Incident #{child.pk} has children of its own; attach them to #{parent.pk} first."
        )
    if errors:
        raise ValidationFailed("The incident cannot be attached.", fields={"parent": errors})
    _require_open(child, "attach it")
    _require_open(parent, "attach children to it")
    if child.customer_impact_confirmed and not parent.customer_impact_confirmed:
        # Customers hear of a child only through its parent: a parent in triage would leave
        # the child's outage on the status page with no public incident explaining it.
        raise ValidationFailed(
            "The incident cannot be attached.",
            fields={
                "parent": [
                    f"Incident #{parent.pk} is in triage (customer impact not confirmed) and "
                    f"#{child.pk} is confirmed: confirm customer impact on #{parent.pk} first."
                ]
            },
        )
    child.parent = parent
    child.save(update_fields=["parent", "updated_at"])
    now = timezone.now()
    IncidentUpdate.objects.bulk_create(
        [
            IncidentUpdate(
                incident=child,
                status=child.status,
                created_at=now,
                display_at=now,
                internal_note=f"Attached to parent incident #{parent.pk}; customers "
                "hear about it through the parent.",
                deliver_notifications=False,
                **_author(actor),
            ),
            IncidentUpdate(
                incident=parent,
                status=parent.status,
                created_at=now,
                display_at=now,
                internal_note=f"Incident #{child.pk} ({child.title}) attached as a child.",
                deliver_notifications=False,
                **_author(actor),
            ),
        ]
    )
    audit_record(
        actor=actor, action="incident.attached", obj=child, details={"parent_id": parent.pk}
    )
    emit(events.INCIDENT_ATTACHED, incident_id=child.pk, parent_id=parent.pk)
    return child


def _detach(child: Incident, *, note: str, now: datetime, actor: Actor) -> None:
    """`child` (locked) leaves its parent's thread and speaks for itself again: a confirmed
    one is public on its own, and its cadence starts now (it was paused while attached)."""
    parent_id = child.parent_id
    child.parent = None
    child.next_update_due = _next_update_due(child, promised=None, now=now)
    child.save(update_fields=["parent", "next_update_due", "updated_at"])
    if child.customer_impact_confirmed:
        note += " Customers have not heard of it on its own yet: post an update."
    _internal_note(child, note, actor=actor, now=now)
    audit_record(
        actor=actor, action="incident.detached", obj=child, details={"parent_id": parent_id}
    )
    emit(events.INCIDENT_DETACHED, incident_id=child.pk, parent_id=parent_id)


@transaction.atomic
def incident_detach_child(*, child: Incident, reason: str = "", actor: Actor) -> Incident:
    """Undo a cascading attachment: `child` leaves its parent's thread and becomes a
    top-level incident again, with its own confirmation state (a confirmed one is public on
    its own and its cadence starts now). The parent may be in any state, so that a child
    left under a closed parent can be freed. Returns early when it has no parent."""
    child = _lock(child)
    if child.parent_id is None:
        return child
    _require_open(child, "detach it")
    parent = Incident.objects.get(pk=child.parent_id)  # only its timeline is written to
    now = timezone.now()
    _internal_note(parent, f"Incident #{child.pk} ({child.title}) detached.", actor=actor, now=now)
    note = f"Detached from parent incident #{parent.pk}."
    if reason.strip():
        note += f" {reason.strip()}"
    _detach(child, note=note, now=now, actor=actor)
    return child


@transaction.atomic
def incident_edit(
    *,
    incident: Incident,
    title: str | Unchanged = UNCHANGED,
    internal_title: str | Unchanged = UNCHANGED,
    impact_scope_pct: int | Unchanged | None = UNCHANGED,
    regions: Sequence[str] | Unchanged = UNCHANGED,
    commander: User | Unchanged | None = UNCHANGED,
    actor: Actor,
) -> Incident:
    """Correct descriptive fields (severity, status and timeline have their own use-cases)."""
    incident = _lock(incident)
    errors: dict[str, list[str]] = {}
    if isinstance(title, str):
        title = title.strip()
        if not title or len(title) > TITLE_MAX:
            errors["title"] = [f"Give a title of 1-{TITLE_MAX} characters."]
    if isinstance(internal_title, str):
        internal_title = internal_title.strip()
        if len(internal_title) > TITLE_MAX:
            errors["internal_title"] = [f"Use at most {TITLE_MAX} characters."]
    if isinstance(impact_scope_pct, int) and not 0 <= impact_scope_pct <= 100:
        errors["impact_scope_pct"] = ["Give a percentage between 0 and 100."]
    region_rows = None
    if not isinstance(regions, Unchanged):
        region_rows, region_errors = resolve_regions(regions)
        errors |= region_errors
    if errors:
        raise ValidationFailed("The incident cannot be changed.", fields=errors)
    changed = []
    for name, value in (
        ("title", title),
        ("internal_title", internal_title),
        ("impact_scope_pct", impact_scope_pct),
        ("commander", commander),
    ):
        if not isinstance(value, Unchanged) and getattr(incident, name) != value:
            setattr(incident, name, value)
            changed.append(name)
    if region_rows is not None and set(incident.regions.all()) != set(region_rows):
        incident.regions.set(region_rows)
        changed.append("regions")
    if not changed:
        return incident
    incident.save()
    audit_record(actor=actor, action="incident.changed", obj=incident, details={"fields": changed})
    emit(events.INCIDENT_CHANGED, incident_id=incident.pk, fields=changed)
    return incident


@transaction.atomic
def incident_extend_cadence(
    *, incident: Incident, now: datetime | None = None, actor: Actor
) -> Incident:
    """The outage has had no ETA for longer than the extended-outage threshold: customers
    hear from us at the extended interval (15 minutes by default), so the next update falls
    due no later than one interval from now, and the timeline says why. Later updates keep
    that interval by themselves (`_update_interval`). Returns early when the outage is not
    (or no longer) extended, or the next update is already due sooner."""
    incident = _lock(incident)
    now = now or timezone.now()
    settings = policy_settings()
    if not incident.customer_impact_confirmed:
        return incident
    if not incident_clocks(incident, now=now, settings=settings).extended_outage:
        return incident
    due = now + settings.extended_update_interval
    if incident.next_update_due is not None and incident.next_update_due <= due:
        return incident
    incident.next_update_due = due
    incident.save(update_fields=["next_update_due", "updated_at"])
    minutes = int(settings.extended_update_interval.total_seconds() // 60)
    hours = settings.extended_outage_after.total_seconds() / 3600
    _internal_note(
        incident,
        f"Extended outage: no ETA for over {hours:g} h; customer updates are "
        f"now due every {minutes} minutes.",
        actor=actor,
        now=now,
    )
    audit_record(
        actor=actor,
        action="incident.cadence_extended",
        obj=incident,
        details={"next_update_due": due.isoformat()},
    )
    emit(events.INCIDENT_CHANGED, incident_id=incident.pk, fields=["next_update_due"])
    return incident
