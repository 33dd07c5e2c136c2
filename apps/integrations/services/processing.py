"""Processing a stored event: the alert it carries opens a triage incident, joins one, is
suppressed by maintenance (and arrives anew when the window is over), recovers (its saved
state says what it was about: no routing rule needed), is a firing that already recovered
(processed late), or waits in the inbox; and the quiet closing of triage incidents whose
alerts all recovered.

Safe to run twice or concurrently: the event row is locked and processed once; alerts are
serialised by PostgreSQL advisory locks on their dedup key and on every service they route
to (taken in one sorted order, so no deadlock), and an incident's alert group row is locked
before any change that depends on its other alerts. No customer-facing text is ever
written here: incidents open unconfirmed (internal only) and everything said is an
internal note.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from apps.core.audit import audit_record
from apps.core.exceptions import ApplicationError
from apps.core.tenancy import current_schema
from apps.incidents.choices import ACTIVE_MAINTENANCE, OPEN_STATUSES, IncidentStatus
from apps.incidents.models import Incident, MaintenanceWindow
from apps.incidents.services import (
    incident_change_severity,
    incident_open,
    incident_post_update,
    incident_resolve,
)
from apps.integrations.choices import AlertStatus, EventStatus
from apps.integrations.inbound.base import (
    NormalizedAlert,
    PayloadInvalid,
    event_key,
    inbound_sources,
)
from apps.integrations.models import AlertGroup, AlertState, InboundEvent, Integration
from apps.integrations.routing import (
    Route,
    catalog_version,
    maintenance_covering,
    route_alert,
)
from apps.integrations.selectors import (
    alert_groups_quiet_candidates,
    alert_states_firing,
    incident_for_services,
    integration_cached,
)

logger = logging.getLogger(__name__)

EXTERNAL_ID_MAX = 180  # the incident's external_id holds 200; '#n' is appended after a first
DEFAULT_QUIET_MINUTES = 30


# --- locks --------------------------------------------------------------------------------


def _lock_id(key: str) -> int:
    digest = hashlib.blake2b(
        f"clarion.integrations:{current_schema()}:{key}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def _commit_without_waiting_for_disk() -> None:
    """This transaction's commit need not wait for the WAL to reach the disk: processing
    is redone from the stored event if a crash loses it (the sweep queues it again; every
    step is idempotent), and the hooks' own inserts keep the disk to themselves during a
    storm. The event itself was stored with a synchronous commit before its 202."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _lock(*keys: str) -> None:
    """Transaction-scoped advisory locks, always taken in the same (sorted) order: the
    function scan yields the array's elements in order, one lock after the other."""
    ids = sorted({_lock_id(k) for k in keys})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [ids])


def _lock_group(incident: Incident, integration: Integration, now: datetime) -> AlertGroup:
    """The incident's alert group, created if needed, locked for this transaction."""
    group = AlertGroup.objects.select_for_update().filter(incident=incident).first()
    if group is not None:
        return group
    AlertGroup.objects.bulk_create(
        [AlertGroup(incident=incident, integration=integration, last_alert_at=now)],
        ignore_conflicts=True,  # another task may create it at the same moment
    )
    return AlertGroup.objects.select_for_update().get(incident=incident)


# --- small helpers ------------------------------------------------------------------------

# (schema, service ids) -> the incident alerts on these services joined last, in this
# process: during a storm the next alert on them most likely joins it too, and checking
# that (one query) is cheaper than searching (two). Always verified, never trusted.
_recent_incidents: dict[tuple[str, frozenset[int]], int] = {}
_RECENT_MAX = 2000


def _recent_group(service_ids: frozenset[int], since: datetime) -> AlertGroup | None:
    """The alert group (locked, with its incident) of the incident these services' alerts
    joined last in this process, if it is still open and gathering alerts."""
    incident_id = _recent_incidents.get((current_schema(), service_ids))
    if incident_id is None:
        return None
    group = (
        AlertGroup.objects.select_for_update(of=("self",))
        .select_related("incident")
        .filter(
            incident_id=incident_id,
            incident__status__in=OPEN_STATUSES,
            last_alert_at__gte=since,
        )
        .first()
    )
    if group is None:
        _recent_incidents.pop((current_schema(), service_ids), None)
    elif len(_recent_incidents) > _RECENT_MAX:
        _recent_incidents.clear()
    return group


# Within a storm the group's last alert time moves only this often (one write less per
# alert); the grouping window is minutes long.
TOUCH_EVERY = timedelta(seconds=10)


def _touch(group: AlertGroup, now: datetime) -> None:
    """An alert (firing) arrived for the group: its window stays open and any recovery or
    proposed resolution is over."""
    if (
        group.recovered_at is None
        and group.resolution_proposed_at is None
        and now - group.last_alert_at < TOUCH_EVERY
    ):
        return
    group.last_alert_at = max(group.last_alert_at, now)
    group.recovered_at = None
    group.resolution_proposed_at = None
    group.save(update_fields=["last_alert_at", "recovered_at", "resolution_proposed_at"])


def _finish(
    event: InboundEvent,
    status: str,
    now: datetime,
    *,
    reason: str,
    incident: Incident | None = None,
    maintenance_id: int | None = None,
) -> InboundEvent:
    event.status = status
    event.reason = reason
    event.processed_at = now
    event.incident = incident
    event.maintenance_id = maintenance_id
    event.save(
        update_fields=[
            "status",
            "reason",
            "processed_at",
            "incident",
            "maintenance",
            "dedup_key",
            "alert_status",
            "title",
            "labels",
            "flapping",
        ]
    )
    return event


def _state(integration: Integration, alert: NormalizedAlert) -> AlertState | None:
    """The alert's state, locked; None when it was never seen (the caller creates it)."""
    return (
        AlertState.objects.select_for_update()
        .filter(integration=integration, dedup_key=alert.dedup_key[:255])
        .first()
    )


def _alert_lock(integration: Integration, alert: NormalizedAlert) -> str:
    return f"alert:{integration.pk}:{alert.dedup_key}"


def _recovered_since(state: AlertState, event: InboundEvent, alert: NormalizedAlert) -> bool:
    """Whether the alert recovered after this firing notification: Clarion received its
    recovery later (and processed it first: a retried event, batches on two workers)
    and the tool does not say this firing started after that recovery ended."""
    if state.status != AlertStatus.RESOLVED or state.recovery_received_at is None:
        return False
    if alert.started_at and state.ended_at and alert.started_at > state.ended_at:
        return False
    return event.received_at <= state.recovery_received_at


def _record_recovery(state: AlertState, event: InboundEvent, alert: NormalizedAlert) -> None:
    """Keep the latest recovery (events may be processed out of order)."""
    if state.recovery_received_at is None or event.received_at > state.recovery_received_at:
        state.recovery_received_at = event.received_at
    if alert.ended_at and (state.ended_at is None or alert.ended_at > state.ended_at):
        state.ended_at = alert.ended_at


def _recent_firings(state: AlertState, integration: Integration, now: datetime) -> list[str]:
    since = now - timedelta(minutes=integration.flapping_window_minutes)
    return [t for t in state.firings if datetime.fromisoformat(t) > since]


def _flapping(state: AlertState, integration: Integration, now: datetime) -> bool:
    return len(_recent_firings(state, integration, now)) > integration.flapping_threshold


def _record_firing(state: AlertState, integration: Integration, now: datetime) -> bool:
    """Count a new firing; True when the alert has just started flapping."""
    recent = [*_recent_firings(state, integration, now), now.isoformat()]
    state.firings = recent[-(integration.flapping_threshold + 10) :]
    if len(recent) > integration.flapping_threshold:
        if state.flapping_since is None:
            state.flapping_since = now
            return True
        return False
    state.flapping_since = None
    return False


def _external_id(dedup_key: str, occurrence: int) -> str:
    base = dedup_key
    if len(base) > EXTERNAL_ID_MAX:
        base = "sha256:" + hashlib.sha256(base.encode()).hexdigest()
    return base if occurrence == 1 else f"{base}#{occurrence}"


def _describe(alert: NormalizedAlert) -> str:
    return f"'{alert.title}'" if alert.title else f"alert {alert.dedup_key}"


def _is_open(incident: Incident | None) -> bool:
    return incident is not None and incident.status in OPEN_STATUSES


# --- the use-case -------------------------------------------------------------------------


def inbound_event_process(*, event_id: int, now: datetime | None = None) -> InboundEvent | None:
    """Process one stored event (the `integrations.process_event` task). An event already
    processed is returned untouched; a missing one gives None."""
    with transaction.atomic():
        try:
            event = InboundEvent.objects.select_for_update().get(pk=event_id)
        except InboundEvent.DoesNotExist:
            return None
        if event.status != EventStatus.RECEIVED:
            return event
        _commit_without_waiting_for_disk()
        now = now or timezone.now()
        integration = integration_cached(event.integration_id)
        if integration is None:  # deleted meanwhile: its events go with it
            return None
        event.integration = integration
        try:
            alert = inbound_sources[integration.source].parse(event.payload, event.headers)
        except PayloadInvalid as exc:
            return _finish(event, EventStatus.FAILED, now, reason=str(exc))
        if alert is None:
            return _finish(
                event, EventStatus.IGNORED, now, reason="An event type that carries no alert."
            )
        event.dedup_key = alert.dedup_key[:255]
        event.alert_status = alert.status
        event.title = alert.title[:200]
        event.labels = dict(alert.labels)
        if alert.status != AlertStatus.FIRING:
            # A recovery needs no routing rule: what the alert was about is in its state
            # (its rule may have changed since it fired, and some tools send other labels
            # with the recovery: Sentry's "issue resolved" lacks the event's tags).
            _lock(_alert_lock(integration, alert))
            return _resolve(event, alert, _state(integration, alert), integration, now)
        version = catalog_version()
        route = route_alert(integration=integration, labels=alert.labels, version=version)
        if route is None:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())) or "none"
            return _finish(
                event,
                EventStatus.UNROUTED,
                now,
                reason=f"No routing rule matched its labels ({shown}). Add a rule, then "
                "process it again from the inbox.",
            )
        _lock(_alert_lock(integration, alert), *(f"service:{s}" for s in route.services))
        state = _state(integration, alert)
        if state is not None and _recovered_since(state, event, alert):
            return _late_firing(event, state, now)
        return _fire(event, alert, route, state, integration, now, version)


def _fire(
    event: InboundEvent,
    alert: NormalizedAlert,
    route: Route,
    state: AlertState | None,
    integration: Integration,
    now: datetime,
    version: int,
) -> InboundEvent:
    was_firing = state is not None and state.status == AlertStatus.FIRING
    if state is None:
        state = AlertState(
            integration=integration,
            dedup_key=alert.dedup_key[:255],
            status=AlertStatus.FIRING,
            first_seen_at=now,
            last_event_at=now,
            last_changed_at=now,
        )
    started_flapping = False if was_firing else _record_firing(state, integration, now)
    event.flapping = state.flapping_since is not None
    state.status = AlertStatus.FIRING
    state.recovered_at = None
    state.last_event_at = now
    if not was_firing:
        state.last_changed_at = now
    state.title = alert.title[:200]
    state.labels = dict(alert.labels)
    state.services = sorted(route.services)
    covered = maintenance_covering(
        services=route.service_ids, regions=route.regions, version=version
    )
    notes: list[str] = []
    # Still firing, but the maintenance it was suppressed by has ended (or no longer covers
    # it): it arrives now, as a new firing would.
    left = state.maintenance_id if was_firing else None
    released = left is not None and left not in {w.id for w in covered.values()}
    arriving = not was_firing or released
    if released:
        notes.append(f"{_describe(alert)} still fires after maintenance #{left}.")
    if started_flapping:
        notes.append(
            f"{_describe(alert)} is flapping: it fired {len(state.firings)} times within "
            f"{integration.flapping_window_minutes} min. Its changes are recorded but no longer "
            "reopen incidents or propose resolution."
        )
        audit_record(
            actor=integration.actor,
            action="integration.alert_flapping",
            obj=integration,
            details={"dedup_key": state.dedup_key, "firings": len(state.firings)},
        )

    affected = {slug: status for slug, status in route.services.items() if slug not in covered}
    state.maintenance_id = next(iter(covered.values())).id if covered else None
    if not affected:
        window = next(iter(covered.values()))
        if not _is_open(state.incident):
            # It belongs to the maintenance now, not to an incident that is over: its
            # recovery and its next firing after the window must not be about that one.
            state.incident = None
        state.save()
        if arriving:
            audit_record(
                actor=integration.actor,
                action="integration.alert_suppressed",
                obj=integration,
                details={
                    "dedup_key": state.dedup_key,
                    "event_id": event.pk,
                    "maintenance_id": window.id,
                },
            )
        return _finish(
            event,
            EventStatus.SUPPRESSED,
            now,
            reason=f"Its services ({', '.join(sorted(covered))}) are under maintenance "
            f"#{window.id} ({window.title}): no incident is opened.",
            maintenance_id=window.id,
        )

    current = state.incident
    if _is_open(current):
        assert current is not None
        group = _lock_group(current, integration, now)
        if not arriving:  # the same alert again (a repeat notification)
            _touch(group, now)
            state.save()
            return _finish(
                event,
                EventStatus.PROCESSED,
                now,
                reason=f"Still firing; already part of incident #{current.pk}.",
                incident=current,
                maintenance_id=state.maintenance_id,
            )
        return _attach(event, alert, route, state, current, group, affected, notes, now)
    if current is not None and (not arriving or state.flapping_since is not None):
        state.save()
        why = (
            "it is flapping"
            if state.flapping_since is not None
            else "it never recovered since a person resolved it"
        )
        return _finish(
            event,
            EventStatus.PROCESSED,
            now,
            reason=f"Fired again, but {why}: incident #{current.pk} is not reopened.",
            incident=current,
            maintenance_id=state.maintenance_id,
        )
    window_start = now - timedelta(minutes=integration.grouping_window_minutes)
    service_ids = frozenset(route.service_ids[slug] for slug in affected)
    recent = _recent_group(service_ids, window_start)
    if recent is not None:
        candidate: Incident | None = recent.incident
    else:
        candidate = incident_for_services(service_ids=service_ids, since=window_start)
        if candidate is not None:
            recent = _lock_group(candidate, integration, now)
    if candidate is not None and recent is not None:
        _recent_incidents[(current_schema(), service_ids)] = candidate.pk
        return _attach(
            event,
            alert,
            route,
            state,
            candidate,
            recent,
            affected,
            notes,
            now,
            found_by_service=True,
        )
    return _open(event, alert, route, state, integration, affected, notes, now)


def _attach(
    event: InboundEvent,
    alert: NormalizedAlert,
    route: Route,
    state: AlertState,
    incident: Incident,
    group: AlertGroup,
    affected: Mapping[str, str],
    notes: list[str],
    now: datetime,
    *,
    found_by_service: bool = False,
) -> InboundEvent:
    """Join `incident` (whose group is locked): its window stays open, a proposed resolution
    is withdrawn, services the incident lacks are added while it is unconfirmed, and its
    severity rises with the alert's while nobody has confirmed it."""
    integration = state.integration
    flapping = state.flapping_since is not None
    if group.resolution_proposed_at is not None and not flapping:
        notes.append(f"{_describe(alert)} fires again: resolution is no longer proposed.")
    _touch(group, now)
    if found_by_service and len(affected) == 1:
        missing = {}  # it was found because it has this one service
    else:
        known = set(incident.affected.values_list("service__slug", flat=True))
        missing = {slug: status for slug, status in affected.items() if slug not in known}
    changes: dict[str, str] = {}
    if missing and not incident.customer_impact_confirmed:
        changes = missing
        notes.append(f"{_describe(alert)} also affects {', '.join(sorted(missing))}: added.")
    elif missing and state.incident_id != incident.pk:
        notes.append(
            f"{_describe(alert)} also reports {', '.join(sorted(missing))}; add them to the "
            "incident if customers there are affected."
        )
    if notes:
        incident_post_update(
            incident=incident,
            internal_note="\n".join(notes),
            component_changes=changes or None,
            deliver_notifications=False,
            actor=integration.actor,
        )
    severity = route.severity or alert.severity_hint
    if (
        severity
        and severity < incident.severity
        and not incident.customer_impact_confirmed
        and incident.status == IncidentStatus.TRIAGE
    ):
        incident_change_severity(
            incident=incident,
            severity=severity,
            reason=f"{_describe(alert)} suggests {severity}.",
            actor=integration.actor,
        )
    state.incident = incident
    state.save()
    return _finish(
        event,
        EventStatus.PROCESSED,
        now,
        reason=f"Attached to open incident #{incident.pk}.",
        incident=incident,
        maintenance_id=state.maintenance_id,
    )


def _open(
    event: InboundEvent,
    alert: NormalizedAlert,
    route: Route,
    state: AlertState,
    integration: Integration,
    affected: Mapping[str, str],
    notes: list[str],
    now: datetime,
) -> InboundEvent:
    severity = route.severity or alert.severity_hint or integration.default_severity
    started = alert.started_at if alert.started_at and alert.started_at <= now else now
    occurrence = state.incidents_opened
    incident: Incident | None = None
    # An earlier incident may hold the same external id (an integration re-created after
    # its alert states were deleted): move on to the next occurrence number.
    for _ in range(50):
        occurrence += 1
        incident = incident_open(
            title=alert.title or f"Alert from {integration.name}",
            internal_title=f"{integration.name}: {alert.title}"[:200],
            severity=severity,
            services=dict(affected),
            regions=list(route.regions),
            customer_impact_confirmed=False,
            source=integration.source,
            external_id=_external_id(alert.dedup_key, occurrence),
            started_at=started,
            actor=integration.actor,
        )
        if _is_open(incident):
            break
    assert incident is not None
    state.incidents_opened = occurrence
    group = AlertGroup.objects.select_for_update().filter(incident=incident).first()
    if group is not None:
        # Not opened now: an alert with this external id opened it earlier (under an
        # integration since deleted and created again) and it is still open. Join it.
        return _attach(event, alert, route, state, incident, group, affected, notes, now)
    AlertGroup.objects.create(
        incident=incident, integration=integration, opened_by_alert=True, last_alert_at=now
    )
    _recent_incidents[(current_schema(), frozenset(route.service_ids[s] for s in affected))] = (
        incident.pk
    )
    if notes:
        incident_post_update(
            incident=incident,
            internal_note="\n".join(notes),
            deliver_notifications=False,
            actor=integration.actor,
        )
    state.incident = incident
    state.save()
    return _finish(
        event,
        EventStatus.PROCESSED,
        now,
        reason=f"Opened triage incident #{incident.pk} ({severity}, rule {route.rule_name!r}).",
        incident=incident,
        maintenance_id=state.maintenance_id,
    )


def _resolve(
    event: InboundEvent,
    alert: NormalizedAlert,
    state: AlertState | None,
    integration: Integration,
    now: datetime,
) -> InboundEvent:
    if state is None:
        # Recorded all the same: its firing may still be on its way (see _recovered_since).
        state = AlertState(
            integration=integration,
            dedup_key=alert.dedup_key[:255],
            status=AlertStatus.RESOLVED,
            title=alert.title[:200],
            labels=dict(alert.labels),
            first_seen_at=now,
            last_event_at=now,
            last_changed_at=now,
            recovered_at=now,
        )
        _record_recovery(state, event, alert)
        state.save()
        return _finish(
            event,
            EventStatus.PROCESSED,
            now,
            reason="Resolved, but it was never seen firing: nothing to do.",
        )
    incident = state.incident
    if state.status == AlertStatus.RESOLVED:
        state.last_event_at = now
        _record_recovery(state, event, alert)
        state.save(update_fields=["last_event_at", "recovery_received_at", "ended_at"])
        return _finish(
            event,
            EventStatus.PROCESSED,
            now,
            reason="Already recovered.",
            incident=incident,
            maintenance_id=state.maintenance_id,
        )
    group = (
        _lock_group(incident, integration, now)
        if incident is not None and incident.status in OPEN_STATUSES
        else None
    )
    flapping = _flapping(state, integration, now)
    event.flapping = flapping
    state.status = AlertStatus.RESOLVED
    state.recovered_at = now
    state.last_event_at = now
    state.last_changed_at = now
    _record_recovery(state, event, alert)
    state.save()
    reason = "Recovered."
    if group is not None and incident is not None:
        still_firing = alert_states_firing(incident=incident).count()
        if still_firing:
            reason = f"Recovered; {still_firing} other alert(s) of incident #{incident.pk} fire."
        else:
            group.recovered_at = now
            reason = f"Recovered; every alert of incident #{incident.pk} has recovered."
            if group.resolution_proposed_at is None and not flapping:
                group.resolution_proposed_at = now
                incident_post_update(
                    incident=incident,
                    internal_note=_proposal(incident, group, integration),
                    deliver_notifications=False,
                    actor=integration.actor,
                )
                audit_record(
                    actor=integration.actor,
                    action="integration.resolution_proposed",
                    obj=incident,
                    details={"event_id": event.pk},
                )
            group.save(update_fields=["recovered_at", "resolution_proposed_at"])
    return _finish(
        event,
        EventStatus.PROCESSED,
        now,
        reason=reason,
        incident=incident,
        maintenance_id=state.maintenance_id,
    )


def _late_firing(event: InboundEvent, state: AlertState, now: datetime) -> InboundEvent:
    """A firing notification processed after the recovery that followed it: over already."""
    assert state.recovery_received_at is not None
    state.last_event_at = now
    state.save(update_fields=["last_event_at"])
    received = state.recovery_received_at.isoformat(timespec="seconds")
    return _finish(
        event,
        EventStatus.PROCESSED,
        now,
        reason=f"Fired, but it had already recovered: its recovery, received after this "
        f"notification (at {received}), was processed first. Nothing is opened.",
        incident=state.incident,
        maintenance_id=state.maintenance_id,
    )


def _proposal(incident: Incident, group: AlertGroup, integration: Integration) -> str:
    text = "Every alert of this incident has recovered: resolution proposed."
    if incident.customer_impact_confirmed:
        return text + " Resolve it with a message to customers once they are no longer affected."
    if group.opened_by_alert:
        return text + (
            f" Customer impact was never confirmed: it closes quietly in "
            f"{integration.quiet_period_minutes} min unless an alert fires again or someone "
            "confirms impact."
        )
    return text + " Resolve it when you are satisfied."


# --- quiet closing ------------------------------------------------------------------------


def alert_group_close_quietly(*, group: AlertGroup, now: datetime | None = None) -> bool:
    """Resolve, without a word to customers, a triage incident an alert opened whose alerts
    all recovered more than the quiet period ago and whose impact nobody confirmed. Returns
    whether it closed it; anything that changed in the meantime (an alert fired, a person
    confirmed impact) leaves it open."""
    now = now or timezone.now()
    with transaction.atomic():
        group = (
            AlertGroup.objects.select_for_update(of=("self",))
            .select_related("incident", "integration")
            .get(pk=group.pk)
        )
        incident = group.incident
        quiet = timedelta(
            minutes=group.integration.quiet_period_minutes
            if group.integration
            else DEFAULT_QUIET_MINUTES
        )
        if (
            group.closed_quietly_at is not None
            or not group.opened_by_alert
            or group.recovered_at is None
            or group.recovered_at > now - quiet
            or incident.customer_impact_confirmed
            or incident.status not in OPEN_STATUSES
            or alert_states_firing(incident=incident).exists()
            or incident.children.filter(status__in=OPEN_STATUSES).exists()
        ):
            return False
        actor = group.integration.actor if group.integration else "integrations"
        minutes = int((now - group.recovered_at).total_seconds() // 60)
        incident_post_update(
            incident=incident,
            internal_note=f"Closed quietly: every alert recovered {minutes} min ago and customer "
            "impact was never confirmed. Customers were not told anything.",
            deliver_notifications=False,
            actor=actor,
        )
        # An empty body: should impact have been confirmed meanwhile, the resolve refuses
        # (it needs a customer message) and nothing is closed.
        incident_resolve(incident=incident, body="", actor=actor)
        group.closed_quietly_at = now
        group.save(update_fields=["closed_quietly_at"])
        audit_record(
            actor=actor,
            action="integration.incident_closed_quietly",
            obj=incident,
            details={"recovered_at": group.recovered_at.isoformat()},
        )
        return True


def triage_close_quiet(*, now: datetime | None = None) -> int:
    """Close every triage incident whose quiet period has passed (a per-tenant job)."""
    now = now or timezone.now()
    closed = 0
    for group in alert_groups_quiet_candidates(now=now):
        try:
            closed += alert_group_close_quietly(group=group, now=now)
        except ApplicationError as exc:
            logger.info("incident #%s not closed quietly: %s", group.incident_id, exc)
    return closed


# --- the end of a maintenance window -----------------------------------------------------


@transaction.atomic
def maintenance_alerts_release(*, window_id: int, now: datetime | None = None) -> list[int]:
    """The alerts still firing under maintenance `window_id` once it is over arrive anew:
    for each, the last firing notification it sent during the window is stored again, to
    be processed like any other (it opens or joins an incident unless another maintenance
    covers it). Many tools never repeat a firing, and Alertmanager's repeats are the same
    stored event, so without this they would stay suppressed for good.

    The copies keep the original's receipt time (a recovery received since wins, see
    `_recovered_since`) and are keyed by window and original event: running this twice
    stores nothing more. Returns the ids of the copies waiting to be processed."""
    now = now or timezone.now()
    if MaintenanceWindow.objects.filter(pk=window_id, status__in=ACTIVE_MAINTENANCE).exists():
        return []
    firing = set(
        AlertState.objects.filter(maintenance_id=window_id, status=AlertStatus.FIRING).values_list(
            "integration_id", "dedup_key"
        )
    )
    if not firing:
        return []
    # One row per alert: its last firing event under the window (the partial index on
    # maintenance finds them).
    latest = (
        InboundEvent.objects.filter(maintenance_id=window_id, alert_status=AlertStatus.FIRING)
        .order_by("integration_id", "dedup_key", "-received_at", "-id")
        .distinct("integration_id", "dedup_key")
    )
    copies = [
        InboundEvent(
            integration_id=original.integration_id,
            event_key=event_key("after-maintenance", window_id, original.event_key),
            event_type=original.event_type,
            received_at=original.received_at,
            headers=original.headers,
            payload=original.payload,
            status=EventStatus.RECEIVED,
            queued_at=now,
        )
        for original in latest
        if (original.integration_id, original.dedup_key) in firing
    ]
    if len(copies) < len(firing):
        logger.info(
            "maintenance %s: %d alert(s) still firing have no stored event to process again",
            window_id,
            len(firing) - len(copies),
        )
    InboundEvent.objects.bulk_create(copies, ignore_conflicts=True)  # stored once
    return list(
        InboundEvent.objects.filter(
            integration_id__in={c.integration_id for c in copies},
            event_key__in=[c.event_key for c in copies],
            status=EventStatus.RECEIVED,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def inbound_event_fail(*, event_id: int, reason: str) -> None:
    """Mark an event failed (processing raised an unexpected error), so that it shows in
    the admin instead of being retried forever by the sweep."""
    InboundEvent.objects.filter(pk=event_id, status=EventStatus.RECEIVED).update(
        status=EventStatus.FAILED, reason=reason[:2000], processed_at=timezone.now()
    )
