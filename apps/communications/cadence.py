"""The update cadence, run every minute for each tenant (`cadence_tick`, listed in
CLARION_TENANT_PERIODIC_JOBS).

- The incident commander is reminded by e-mail and in the staff Slack channel
  `update_reminder_lead` (5 minutes) before a customer update is due, and as long before the
  initial assessment is due (15 minutes after detection).
- When either passes, the incident is overdue: the commander, the severity's response
  contacts and the staff channel hear of it (escalation).
- An outage without an ETA for longer than the policy's threshold becomes extended, once:
  its cadence switches to the extended interval, its next progress message uses the
  extended-outage wording (handlers), an executive note to enterprise customers is drafted
  for an approver, staff are told, and `incident.extended_outage` is emitted.
- Maintenance reminders and overruns (see `apps.communications.maintenance`).

Each of these is a `Reminder` row whose unique key names the kind, the object and the due
time, created in the transaction that does the work: a second or overlapping tick finds the
key taken and does nothing. Staff alerts are rows too, sent after the work is committed;
one that fails for a transient reason stays pending and is sent by the next tick.
Child incidents get no update reminders: customers hear of them through their parent.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.communications.choices import ChannelKey, MessageKind, ReminderKind
from apps.communications.context import status_page_url
from apps.communications.maintenance import maintenance_due
from apps.communications.models import CadenceSettings, Message, ResponseContact
from apps.communications.rendering import local
from apps.communications.services import default_channels, message_draft
from apps.communications.staff import (
    ACTOR,
    Recipient,
    cadence_settings,
    guarded,
    reminder_claim,
    staff_alert,
    staff_alerts_send,
)
from apps.core.events import emit
from apps.core.exceptions import ApplicationError
from apps.core.tenancy import tenant_xact_lock
from apps.incidents.choices import OPEN_STATUSES
from apps.incidents.models import Incident
from apps.incidents.selectors import (
    incident_public_updates,
    incidents_assessment_overdue,
    incidents_extended_outage,
    incidents_update_due,
    incidents_update_overdue,
    policy_settings,
)
from apps.incidents.services import incident_extend_cadence
from apps.subscribers.choices import CustomerTier
from apps.subscribers.models import Segment
from apps.subscribers.selectors import segments_list
from apps.subscribers.services import segment_create

logger = logging.getLogger(__name__)

EXTENDED_OUTAGE = "incident.extended_outage"  # incident_id; the SLA engine listens
# incident_id, due (ISO 8601); support chat posts them to the incident's war room
UPDATE_REMINDER = "incident.update_reminder"
UPDATE_OVERDUE = "incident.update_overdue"
ENTERPRISE_SEGMENT = "Enterprise customers"


# --- incidents ----------------------------------------------------------------------------


def _admin_url(incident: Incident) -> str:
    return f"{status_page_url()}admin/incidents/incident/{incident.pk}/change/"


def _commander(incident: Incident) -> list[Recipient]:
    person = incident.commander
    return [(person.email, person.time_zone or "UTC")] if person is not None else []


def _contacts(incident: Incident) -> list[Recipient]:
    return [
        (c.email, "UTC")
        for c in ResponseContact.objects.filter(severities__contains=[incident.severity])
    ]


def _label(incident: Incident) -> str:
    return f"#{incident.pk} {incident.title} ({incident.severity})"


def _update(incident: Incident, *, overdue: bool, cadence: CadenceSettings) -> int:
    """Remind the commander of the next customer update; once it is missed, escalate to the
    severity's response contacts too. Once per due time; the war room hears it as well."""
    due = incident.next_update_due
    assert due is not None
    kind = ReminderKind.UPDATE_OVERDUE if overdue else ReminderKind.UPDATE_DUE
    reminder = reminder_claim(
        key=f"{kind}:{incident.pk}:{due.isoformat()}", kind=kind, due_at=due, incident=incident
    )
    if reminder is None:
        return 0

    def compose(zone: str) -> tuple[str, str]:
        if overdue:
            return (
                f"[Overdue] Customer update missed: {_label(incident)}",
                f"The customer update on {_label(incident)} was due at {local(due, zone)} and "
                "has not been posted. Customers were promised it: post an update now, or ask "
                f"the commander to. {_admin_url(incident)}",
            )
        return (
            f"[Reminder] Customer update due at {local(due, zone)}: {_label(incident)}",
            f"The next customer update on {_label(incident)} is due at {local(due, zone)}. "
            f"Post it (or promise a later time) here: {_admin_url(incident)}",
        )

    emails = _commander(incident) + (_contacts(incident) if overdue else [])
    staff_alert(reminder, compose=compose, emails=emails, slack_url=cadence.staff_slack_webhook_url)
    emit(
        UPDATE_OVERDUE if overdue else UPDATE_REMINDER, incident_id=incident.pk, due=due.isoformat()
    )
    return 1


def _assessment(incident: Incident, *, overdue: bool, cadence: CadenceSettings) -> int:
    due = incident.detected_at + policy_settings().assessment_due
    kind = ReminderKind.ASSESSMENT_OVERDUE if overdue else ReminderKind.ASSESSMENT_DUE
    reminder = reminder_claim(key=f"{kind}:{incident.pk}", kind=kind, due_at=due, incident=incident)
    if reminder is None:
        return 0

    def compose(zone: str) -> tuple[str, str]:
        if overdue:
            return (
                f"[Overdue] Initial assessment missed: {_label(incident)}",
                f"The initial assessment of {_label(incident)} (root-cause hypothesis, ETA, "
                f"scope) was due at {local(due, zone)} and has not been recorded. "
                f"{_admin_url(incident)}",
            )
        return (
            f"[Reminder] Initial assessment due at {local(due, zone)}: {_label(incident)}",
            f"Record the initial assessment of {_label(incident)} (root-cause hypothesis, "
            f"ETA, scope) by {local(due, zone)}: {_admin_url(incident)}",
        )

    emails = _commander(incident) + (_contacts(incident) if overdue else [])
    staff_alert(reminder, compose=compose, emails=emails, slack_url=cadence.staff_slack_webhook_url)
    return 1


def enterprise_segment() -> Segment:
    """The segment executive notes go to: the tenant's "Enterprise customers" segment,
    created (enterprise tier) the first time. A tenant may edit it to narrow the note."""
    found = segments_list().filter(name=ENTERPRISE_SEGMENT).first()
    if found is not None:
        return found
    return segment_create(
        name=ENTERPRISE_SEGMENT,
        description="Receives the executive note of an extended outage.",
        tiers=[CustomerTier.ENTERPRISE],
        actor=ACTOR,
    )


def executive_note_draft(incident: Incident, *, cadence: CadenceSettings) -> Message | None:
    """A draft personal note to enterprise customers, always waiting for an approver; by
    e-mail, so only when the severity's policy sends e-mail."""
    if ChannelKey.EMAIL not in default_channels(incident):
        return None
    latest = incident_public_updates(incident).first()
    return message_draft(
        kind=MessageKind.EXECUTIVE_NOTE,
        incident=incident,
        channels=[ChannelKey.EMAIL],
        extra={
            "executive_name": cadence.executive_name,
            "update": latest.body if latest is not None else "",
        },
        segment=enterprise_segment(),
        requires_approval=True,
        actor=ACTOR,
    )


def _extended_outage(incident: Incident, *, now: datetime, cadence: CadenceSettings) -> int:
    settings = policy_settings()
    assert incident.eta_unknown_since is not None
    reminder = reminder_claim(
        key=f"extended_outage:{incident.pk}",
        kind=ReminderKind.EXTENDED_OUTAGE,
        due_at=incident.eta_unknown_since + settings.extended_outage_after,
        incident=incident,
    )
    if reminder is None:
        return 0
    incident = incident_extend_cadence(incident=incident, now=now, actor=ACTOR)
    note: Message | None = None
    problem = ""
    try:
        note = executive_note_draft(incident, cadence=cadence)
    except ApplicationError as exc:  # e.g. a broken template: staff are told below
        problem = f" The executive note could not be drafted: {exc.message}"
        logger.warning("incident %s: executive note not drafted: %s", incident.pk, exc.message)
    if note is not None:
        reminder.message = note
        reminder.save(update_fields=["message"])
    minutes = int(settings.extended_update_interval.total_seconds() // 60)
    hours = settings.extended_outage_after.total_seconds() / 3600
    next_due = incident.next_update_due

    def compose(zone: str) -> tuple[str, str]:
        text = (
            f"{_label(incident)} has had no ETA for over {hours:g} h: it is now an extended "
            f"outage. Customer updates are due every {minutes} minutes"
            + (f" (next by {local(next_due, zone)})" if next_due else "")
            + "; the next one goes out in the 'what we know, what we don't know yet' "
            "wording."
        )
        if note is not None:
            text += (
                f" An executive note to enterprise customers (message #{note.pk}) waits for "
                "a communications approver."
            )
        return (
            f"[Extended outage] {_label(incident)}",
            text + problem + f" {_admin_url(incident)}",
        )

    staff_alert(
        reminder,
        compose=compose,
        emails=[*_commander(incident), *_contacts(incident)],
        slack_url=cadence.staff_slack_webhook_url,
    )
    emit(EXTENDED_OUTAGE, incident_id=incident.pk)
    return 1


def incidents_due(*, now: datetime, cadence: CadenceSettings) -> int:
    """Create the reminders, escalations and extended-outage switches due at `now`; return
    how many were created."""
    settings = policy_settings()
    lead = settings.update_reminder_lead
    created = 0
    for incident in (
        incidents_update_due(now=now, within=lead)
        .filter(parent__isnull=True)
        .select_related("commander")
    ):
        created += guarded(
            partial(_update, incident, overdue=False, cadence=cadence),
            what=f"incident {incident.pk}",
        )
    for incident in (
        incidents_update_overdue(now=now).filter(parent__isnull=True).select_related("commander")
    ):
        created += guarded(
            partial(_update, incident, overdue=True, cadence=cadence),
            what=f"incident {incident.pk}",
        )
    assessing = Incident.objects.filter(status__in=OPEN_STATUSES, assessed_at__isnull=True)
    soon = assessing.filter(
        detected_at__lte=now - (settings.assessment_due - lead),
        detected_at__gt=now - settings.assessment_due,
    )
    for incident in soon.select_related("commander"):
        created += guarded(
            partial(_assessment, incident, overdue=False, cadence=cadence),
            what=f"incident {incident.pk}",
        )
    for incident in incidents_assessment_overdue(now=now).select_related("commander"):
        created += guarded(
            partial(_assessment, incident, overdue=True, cadence=cadence),
            what=f"incident {incident.pk}",
        )
    extended = incidents_extended_outage(now=now).filter(
        customer_impact_confirmed=True, parent__isnull=True
    )
    for incident in extended.select_related("commander"):
        created += guarded(
            partial(_extended_outage, incident, now=now, cadence=cadence),
            what=f"incident {incident.pk}",
        )
    return created


# --- the tick -----------------------------------------------------------------------------


def cadence_tick(*, now: datetime | None = None) -> dict[str, Any]:
    """Per-tenant periodic job (CLARION_TENANT_PERIODIC_JOBS): create what is due, one tick
    at a time per tenant under a PostgreSQL advisory lock (the unique keys hold even without
    it), then send the pending staff alerts. Subscriber messages are fanned out by their own
    tasks once this commits."""
    now = now or timezone.now()
    cadence = cadence_settings()
    created = 0
    with transaction.atomic():
        locked = tenant_xact_lock("cadence")
        if locked:
            created = incidents_due(now=now, cadence=cadence)
            created += maintenance_due(now=now, cadence=cadence)
    return {"skipped": not locked, "reminders": created, "alerts": staff_alerts_send()}
