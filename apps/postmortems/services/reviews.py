"""Post-incident review use-cases: create on resolve, build the timeline, complete, publish
(status page and the `postmortem_published` message), and the reminders the tick sends."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from anymail.exceptions import AnymailError
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from apps.accounts.models import User
from apps.communications.channels.email import classify, describe
from apps.communications.choices import AttemptOutcome, ChannelKey, MessageKind
from apps.communications.context import status_page_url
from apps.communications.models import Message
from apps.communications.services import default_channels, message_draft
from apps.core.audit import Actor, audit_record
from apps.core.events import emit
from apps.core.exceptions import Conflict, ValidationFailed
from apps.core.tenancy import current_tenant, tenant_xact_lock
from apps.incidents import events as incident_events
from apps.incidents.choices import IncidentStatus, PostmortemVisibility
from apps.incidents.models import Incident, IncidentUpdate
from apps.incidents.selectors import policy_for
from apps.postmortems.choices import (
    OPEN_ACTION_STATUSES,
    CreditState,
    ReviewField,
    ReviewStatus,
    TimelineKind,
)
from apps.postmortems.markdown import markdown_text
from apps.postmortems.models import ActionItem, PostIncidentReview, SlaCredit, TimelineEntry

logger = logging.getLogger(__name__)
REMIND_BEFORE = timedelta(hours=24)
SYSTEM = "Clarion"
# What a failed send can raise: SMTP and socket errors, or an ESP's API error (anymail).
SEND_ERRORS = (OSError, smtplib.SMTPException, AnymailError)
# The channels a published review goes out on: those that reach a subscriber personally.
REVIEW_CHANNELS = (ChannelKey.EMAIL, ChannelKey.WEBHOOK, ChannelKey.SLACK, ChannelKey.TEAMS)


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _duration_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if hours else f"{rest} min"


def review_impact(incident: Incident) -> dict[str, object]:
    """The customer impact figures: duration, share of customers, services, regions, and
    credits issued by currency (credits are internal: the public version leaves them out)."""
    end = incident.resolved_at or timezone.now()
    credits = (
        SlaCredit.objects.filter(incident=incident)
        .exclude(state=CreditState.WAIVED)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    return {
        "duration_minutes": _minutes(end - incident.started_at),
        "customers_pct": incident.impact_scope_pct,
        "services": [
            row.service.name
            for row in incident.affected.select_related("service").order_by("service__name")
        ],
        "regions": [r.name for r in incident.regions.order_by("name")],
        "credits": {row["currency"]: str(row["total"]) for row in credits},
        "credited_customers": SlaCredit.objects.filter(incident=incident)
        .exclude(state=CreditState.WAIVED)
        .values("customer")
        .distinct()
        .count(),
    }


def _impact_text(impact: dict[str, object]) -> str:
    lines = [f"- Duration: {_duration_text(int(str(impact['duration_minutes'])))}"]
    if impact.get("customers_pct") is not None:
        lines.append(f"- Customers affected: about {impact['customers_pct']}%")
    services = impact.get("services") or []
    regions = impact.get("regions") or []
    lines.append(f"- Services: {', '.join(services) if services else 'none recorded'}")  # type: ignore[arg-type]
    lines.append(f"- Regions: {', '.join(regions) if regions else 'all regions'}")  # type: ignore[arg-type]
    return "\n".join(lines)


def _entries_for(update: IncidentUpdate) -> list[tuple[str, str, bool]]:
    """(kind, text, internal) for one timeline entry of the incident."""
    found: list[tuple[str, str, bool]] = []
    if update.status == IncidentStatus.RESOLVED:
        if update.body:
            found.append((TimelineKind.RESOLUTION, update.body, False))
        if update.internal_note:
            found.append((TimelineKind.NOTE, update.internal_note, True))
        if not found:
            found.append((TimelineKind.RESOLUTION, "Resolved.", False))
        return found
    if update.body:
        found.append((TimelineKind.UPDATE, f"{update.get_status_display()}: {update.body}", False))
    if update.internal_note:
        kind = (
            TimelineKind.SEVERITY_CHANGE
            if update.internal_note.startswith("Severity changed")
            else TimelineKind.NOTE
        )
        found.append((kind, update.internal_note, True))
    return found


def timeline_build(review: PostIncidentReview) -> int:
    """Add the incident's moments not yet on the review's timeline: detection,
    acknowledgement, every update (internal notes and severity changes marked internal)
    and the resolution. Entries people edited or added stay; returns how many were added."""
    incident = review.incident
    have_updates = set(
        review.timeline.exclude(source_update=None).values_list("source_update_id", flat=True)
    )
    have_kinds = set(review.timeline.values_list("kind", flat=True))
    new: list[TimelineEntry] = []
    if TimelineKind.DETECTION not in have_kinds:
        source = incident.get_source_display()
        new.append(
            TimelineEntry(
                review=review,
                at=incident.detected_at,
                kind=TimelineKind.DETECTION,
                text=f"Detected ({source}).",
                internal=True,
            )
        )
        new.append(
            TimelineEntry(
                review=review,
                at=incident.started_at,
                kind=TimelineKind.OTHER,
                text="The problem began.",
            )
        )
    if TimelineKind.ACKNOWLEDGEMENT not in have_kinds and incident.acknowledged_at:
        new.append(
            TimelineEntry(
                review=review,
                at=incident.acknowledged_at,
                kind=TimelineKind.ACKNOWLEDGEMENT,
                text="Acknowledged by the team.",
                internal=True,
            )
        )
    for update in incident.updates.order_by("display_at", "id"):
        if update.pk in have_updates:
            continue
        for kind, text, internal in _entries_for(update):
            new.append(
                TimelineEntry(
                    review=review,
                    at=update.display_at,
                    kind=kind,
                    text=text,
                    internal=internal,
                    source_update=update,
                )
            )
    TimelineEntry.objects.bulk_create(new)
    return len(new)


@transaction.atomic
def review_create_for(*, incident: Incident, actor: Actor) -> PostIncidentReview | None:
    """The review the severity policy asks for (None when it asks for none), due the
    policy's deadline after resolution, owned by the commander. Resolving again (after a
    reopen) keeps the review and adds the new moments to its timeline."""
    policy = policy_for(incident.severity)
    if policy.postmortem_visibility == PostmortemVisibility.NONE or incident.parent_id:
        return None
    existing = PostIncidentReview.objects.select_for_update().filter(incident=incident).first()
    impact = review_impact(incident)
    if existing is not None:
        existing.impact = impact
        existing.save(update_fields=["impact", "updated_at"])
        timeline_build(existing)
        return existing
    resolved = incident.resolved_at or timezone.now()
    summary = "\n\n".join(
        part
        for part in (
            incident.what_was_affected,
            f"**What we fixed:** {incident.what_we_fixed}" if incident.what_we_fixed else "",
            f"**Prevention:** {incident.prevention}" if incident.prevention else "",
        )
        if part
    )
    review = PostIncidentReview.objects.create(
        incident=incident,
        owner=incident.commander,
        visibility=policy.postmortem_visibility,
        due_at=resolved + (policy.postmortem_deadline or timedelta(days=7)),
        summary=summary,
        customer_impact=_impact_text(impact),
        impact=impact,
        root_cause=incident.root_cause,
    )
    if incident.prevention:
        ActionItem.objects.create(
            review=review,
            title=incident.prevention[:200],
            owner=incident.commander,
            due_date=(resolved + timedelta(days=14)).date(),
            public=True,
        )
    timeline_build(review)
    audit_record(
        actor=actor,
        action="postmortem.created",
        obj=review,
        details={"due_at": review.due_at.isoformat(), "visibility": review.visibility},
    )
    return review


def _require_content(review: PostIncidentReview) -> None:
    errors: dict[str, list[str]] = {}
    if not review.summary.strip():
        errors["summary"] = ["Write the summary."]
    if not review.root_cause.strip():
        errors["root_cause"] = ["Write the root cause."]
    if errors:
        raise ValidationFailed("The review is not finished.", fields=errors)


@transaction.atomic
def review_complete(*, review: PostIncidentReview, actor: Actor) -> PostIncidentReview:
    """Finish an internal review (it stays in the portal); stops the reminders."""
    review = PostIncidentReview.objects.select_for_update().get(pk=review.pk)
    if review.is_done:
        return review
    _require_content(review)
    review.status = ReviewStatus.COMPLETED
    review.completed_at = timezone.now()
    review.save(update_fields=["status", "completed_at", "updated_at"])
    audit_record(actor=actor, action="postmortem.completed", obj=review)
    return review


@transaction.atomic
def review_publish(*, review: PostIncidentReview, actor: Actor) -> PostIncidentReview:
    """Publish a public review: its public fields appear on the status page under the
    incident (Statuspage status `postmortem`) and a `postmortem_published` message is
    drafted for the incident's subscribers (approved like any message of its severity)."""
    review = (
        PostIncidentReview.objects.select_for_update().select_related("incident").get(pk=review.pk)
    )
    if review.status == ReviewStatus.PUBLISHED:
        return review
    if review.visibility != PostmortemVisibility.PUBLIC:
        raise Conflict(
            "This review is internal (per the severity policy); complete it instead.",
            code="postmortem_internal",
        )
    incident = review.incident
    if incident.status != IncidentStatus.RESOLVED:
        raise Conflict(
            f"Incident #{incident.pk} is open again; resolve it before publishing its review.",
            code="incident_open",
        )
    _require_content(review)
    if ReviewField.SUMMARY not in review.public_fields:
        raise ValidationFailed(
            "Customers would see no summary.",
            fields={"public_fields": ["Mark the summary public to publish the review."]},
        )
    now = timezone.now()
    review.status = ReviewStatus.PUBLISHED
    review.published_at = now
    review.completed_at = review.completed_at or now
    review.save(update_fields=["status", "published_at", "completed_at", "updated_at"])
    audit_record(actor=actor, action="postmortem.published", obj=review)
    # The incident's public page changed: the status page re-renders on this event.
    emit(incident_events.INCIDENT_CHANGED, incident_id=incident.pk, fields=["postmortem"])
    if incident.customer_impact_confirmed and incident.parent_id is None:
        channels = [c for c in default_channels(incident) if c in REVIEW_CHANNELS]
        if channels:
            message_draft(
                kind=MessageKind.POSTMORTEM_PUBLISHED,
                incident=incident,
                channels=channels,
                extra={
                    "summary": markdown_text(review.summary),
                    "postmortem_url": f"{status_page_url()}incidents/{incident.pk}/#postmortem",
                },
                actor=actor,
            )
    return review


def review_message(review: PostIncidentReview) -> Message | None:
    return (
        Message.objects.filter(incident=review.incident, kind=MessageKind.POSTMORTEM_PUBLISHED)
        .order_by("-created_at")
        .first()
    )


# --- reminders ------------------------------------------------------------------------------


def _recipients(owner: User | None) -> list[str]:
    """The owner; without one, the tenant's administrators (a reminder is never dropped)."""
    if owner is not None and owner.is_active and owner.email:
        return [owner.email]
    return list(
        User.objects.filter(is_active=True, is_superuser=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )


def _admin_url(path: str) -> str:
    return f"{status_page_url()}admin/postmortems/{path}"


@dataclass
class _Attempt:
    """What one reminder's sending did: who got it, and why the others did not."""

    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # address -> reason
    transient: bool = False  # a failure that may pass (4xx, a dropped connection)

    @property
    def settled(self) -> bool:
        """Done with: it went out to someone, or it was refused for good (retrying a 5xx
        every minute would change nothing)."""
        return bool(self.sent) or (bool(self.failed) and not self.transient)


def _remind(to: list[str], subject: str, body: str) -> _Attempt:
    """Send the reminder to each address on its own, so that one refused address costs
    only its own copy."""
    if not to:
        logger.warning("no one to send %r to: no owner and no administrator", subject)
        return _Attempt()
    attempt = _Attempt()
    for address in to:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        except SEND_ERRORS as exc:
            attempt.failed[address] = describe(exc)[:500]
            attempt.transient |= classify(exc) == AttemptOutcome.TRANSIENT
            logger.warning("reminder %r to %s failed: %s", subject, address, exc)
        else:
            attempt.sent.append(address)
    return attempt


def _deliver(
    row: PostIncidentReview | ActionItem,
    *,
    stamp: str,
    what: str,
    to: list[str],
    subject: str,
    body: str,
    now: datetime,
) -> bool:
    """Send one reminder and record it on `row`, in its own savepoint: stamped (`stamp`)
    once it went out, or was refused for good; what failed goes to `reminder_error`
    (shown to staff in the portal), and to the audit log once it will not be retried.
    Returns whether it went out to anyone."""
    with transaction.atomic():
        attempt = _remind(to, subject, body)
        fields = []
        if attempt.settled:
            setattr(row, stamp, now)
            fields.append(stamp)
        error = ""
        if attempt.failed:
            reasons = "; ".join(f"{a}: {r}" for a, r in attempt.failed.items())
            retry = "" if attempt.settled else " Trying again on the next run."
            error = (
                f"{what} reminder of {now:%Y-%m-%d %H:%M} UTC not delivered to {reasons}.{retry}"
            )
        if row.reminder_error != error:
            row.reminder_error = error
            fields.append("reminder_error")
        if fields:
            row.save(update_fields=fields)
        if attempt.settled:
            review = row if isinstance(row, PostIncidentReview) else row.review
            for address, reason in attempt.failed.items():
                audit_record(
                    actor=SYSTEM,
                    action="postmortem.reminder_failed",
                    obj=review,
                    details={"reminder": what, "to": address, "reason": reason},
                )
    return bool(attempt.sent)


def reminders_send(*, now: datetime | None = None) -> dict[str, int]:
    """Remind review owners 24 h before the deadline and once it has passed, and action
    item owners when an item is due. Each reminder once (stamped); one run at a time per
    tenant (advisory lock), so overlapping ticks send nothing twice.

    Each reminder is sent and stamped on its own: an address the mail server refuses is
    recorded on the review (or action item) and does not hold back, or repeat, the
    others. A temporary failure (4xx, no connection) is tried again on the next run."""
    now = now or timezone.now()
    sent = {"due_soon": 0, "overdue": 0, "action_items": 0}
    tenant = current_tenant().name
    with transaction.atomic():
        if not tenant_xact_lock("pir_reminders"):
            return sent
        drafts = PostIncidentReview.objects.filter(status=ReviewStatus.DRAFT).select_related(
            "incident", "owner"
        )
        for review in drafts.filter(
            due_at__gt=now, due_at__lte=now + REMIND_BEFORE, reminded_due_soon_at=None
        ):
            left = _duration_text(_minutes(review.due_at - now))
            if _deliver(
                review,
                stamp="reminded_due_soon_at",
                what="Due-soon",
                to=_recipients(review.owner),
                subject=f"[{tenant}] Post-incident review due in {left}: {review.incident.title}",
                body=f"The review of incident #{review.incident_id} ({review.incident.title}) "
                f"is due {review.due_at:%Y-%m-%d %H:%M} UTC, in {left}.\n\n"
                f"{_admin_url(f'postincidentreview/{review.pk}/change/')}",
                now=now,
            ):
                sent["due_soon"] += 1
        for review in drafts.filter(due_at__lte=now, reminded_overdue_at=None):
            late = _duration_text(_minutes(now - review.due_at))
            if _deliver(
                review,
                stamp="reminded_overdue_at",
                what="Overdue",
                to=_recipients(review.owner),
                subject=f"[{tenant}] Post-incident review overdue: {review.incident.title}",
                body=f"The review of incident #{review.incident_id} ({review.incident.title}) "
                f"was due {review.due_at:%Y-%m-%d %H:%M} UTC, {late} ago.\n\n"
                f"{_admin_url(f'postincidentreview/{review.pk}/change/')}",
                now=now,
            ):
                sent["overdue"] += 1
        items = ActionItem.objects.filter(
            status__in=OPEN_ACTION_STATUSES, due_date__lte=now.date(), reminded_at=None
        ).select_related("owner", "review__incident", "review__owner")
        for item in items:
            if _deliver(
                item,
                stamp="reminded_at",
                what="Action item",
                to=_recipients(item.owner or item.review.owner),
                subject=f"[{tenant}] Action item due: {item.title}",
                body=f"The action item '{item.title}' from the review of incident "
                f"#{item.review.incident_id} ({item.review.incident.title}) was due "
                f"{item.due_date:%Y-%m-%d}.\n"
                + (f"Ticket: {item.tracker_url}\n" if item.tracker_url else "")
                + f"\n{_admin_url(f'postincidentreview/{item.review_id}/change/')}",
                now=now,
            ):
                sent["action_items"] += 1
    return sent
