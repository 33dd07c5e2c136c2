"""Message use-cases: draft from an incident update, approve, publish (fan out), cancel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import User
from apps.communications.channels.checks import channel_problems
from apps.communications.choices import CLOSING_KINDS, ChannelKey, MessageKind, MessageState
from apps.communications.context import context_for, decode
from apps.communications.models import Message, MessageTemplate
from apps.communications.rendering import (
    TemplateProblem,
    empty_placeholders,
    render,
    template_parse,
)
from apps.communications.tasks import fanout_message
from apps.core.audit import Actor, actor_label, audit_record
from apps.core.events import emit
from apps.core.exceptions import Conflict, ValidationFailed
from apps.incidents.models import Incident, IncidentUpdate, MaintenanceWindow
from apps.incidents.selectors import policy_for
from apps.subscribers.models import Segment

# Per-subscriber channels that follow the policy's e-mail switch (same urgency and reach).
FOLLOW_EMAIL = (ChannelKey.WEBHOOK, ChannelKey.SLACK, ChannelKey.TEAMS)
APPROVAL_SEVERITIES = ("P1", "P2")


def told_channels(
    incident: Incident | None = None, *, maintenance: MaintenanceWindow | None = None
) -> list[str]:
    """The channels earlier messages about `incident` (or `maintenance`) went out on
    (sending or sent)."""
    about = Q(incident=incident) if incident is not None else Q(maintenance=maintenance)
    heard: set[str] = set()
    for channels in Message.objects.filter(
        about, state__in=(MessageState.SENDING, MessageState.SENT)
    ).values_list("channels", flat=True):
        heard.update(channels)
    return [c for c in ChannelKey.values if c in heard]


def default_channels(incident: Incident | None, *, kind: str | None = None) -> list[str]:
    """The severity policy's channels, plus the subscriber's own endpoints (webhook, Slack,
    Teams) wherever the policy sends e-mail; for maintenance every channel but SMS. A
    resolution or false-alarm message (`kind`) also gets every channel customers heard of
    the incident on: lowering a P2 to P3 must not leave its e-mail readers without the
    all-clear."""
    if incident is None:
        return [c for c in ChannelKey.values if c != ChannelKey.SMS]
    policy = list(policy_for(incident.severity).channels)
    if ChannelKey.EMAIL in policy:
        policy += FOLLOW_EMAIL
    if kind in CLOSING_KINDS:
        policy += told_channels(incident)
    return [c for c in ChannelKey.values if c in policy]


def _templates(kind: str, channels: Sequence[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for row in MessageTemplate.objects.filter(kind=kind, channel__in=channels, locale="en"):
        found.setdefault(row.channel, {})[row.part] = row.source
    return found


def preview(message: Message, context: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each channel's parts rendered with `context` (templates checked on the way)."""
    sources = _templates(message.kind, message.channels)
    rendered: dict[str, dict[str, str]] = {}
    for channel, parts in sources.items():
        rendered[channel] = {}
        for part, source in parts.items():
            template, _ = template_parse(source, kind=message.kind, html=part == "html")
            rendered[channel][part] = render(template, decode(context))
    return rendered


@transaction.atomic
def message_draft(
    *,
    kind: str,
    incident: Incident | None = None,
    update: IncidentUpdate | None = None,
    maintenance: MaintenanceWindow | None = None,
    channels: Sequence[str] | None = None,
    extra: dict[str, Any] | None = None,
    segment: Segment | None = None,
    requires_approval: bool | None = None,
    approver: bool = False,
    actor: Actor,
) -> Message:
    """A draft message for an incident (update) or a maintenance window. Channels default
    to the policy's and may be narrowed, not widened past it unless `approver` (then the
    message needs approval whatever the severity). A `segment` narrows the
    audience; `requires_approval` overrides the default rule (P1/P2 incidents), e.g. for
    an executive note, which always waits for an approver."""
    if kind not in MessageKind.values:
        raise ValidationFailed("Unknown message kind.", fields={"kind": [f"{kind!r}?"]})
    existing = None
    if update is not None:
        incident = update.incident
        existing = Message.objects.select_for_update().filter(update=update, kind=kind).first()
        if existing is not None and (
            channels is None or sorted(channels) == sorted(existing.channels)
        ):
            return existing  # one message per update and kind (handlers may run twice)
    allowed = default_channels(incident, kind=kind)
    chosen = list(channels) if channels is not None else allowed
    unknown = sorted(set(chosen) - set(ChannelKey.values))
    if unknown:
        raise ValidationFailed(
            "Unknown channel.",
            fields={"channels": [f"Unknown: {', '.join(unknown)}; use {', '.join(allowed)}."]},
        )
    wider = sorted(set(chosen) - set(allowed))
    if wider and not approver:  # an approver may widen; the message then needs approval
        raise ValidationFailed(
            "A message may narrow the policy's channels, not widen them.",
            fields={"channels": [f"Not in the policy for this message: {', '.join(wider)}."]},
        )
    if existing is not None:
        return _redraft_channels(existing, chosen, wider=wider, actor=actor)
    context = context_for(kind=kind, incident=incident, update=update, maintenance=maintenance)
    context.update(extra or {})
    message = Message(
        kind=kind,
        incident=incident,
        update=update,
        maintenance=maintenance,
        channels=chosen,
        context=context,
        segment=segment,
        requires_approval=(
            requires_approval
            if requires_approval is not None
            else bool(incident and incident.severity in APPROVAL_SEVERITIES)
        ),
    )
    if wider:  # past the policy: an approver must approve it (see `approver`)
        message.requires_approval = True
    try:
        message.rendered = preview(message, context)
    except TemplateProblem as exc:
        raise ValidationFailed(f"A template of this message is broken: {exc}") from exc
    message.save()
    warnings = channel_problems(message)
    audit_record(
        actor=actor,
        action="message.drafted",
        obj=message,
        details={
            "kind": kind,
            "channels": chosen,
            **({"widened": wider} if wider else {}),
            **({"warnings": warnings.warnings} if warnings.warnings else {}),
        },
    )
    return message


def _redraft_channels(
    message: Message, channels: list[str], *, wider: list[str], actor: Actor
) -> Message:
    """The update's message exists already (drafted when the update was posted): a person
    choosing other channels changes that draft rather than making a second message. Once it
    is approved or sent, its channels are history."""
    if message.state != MessageState.DRAFT:
        raise Conflict(
            f"Message #{message.pk} for this update is {message.state} already: its channels "
            "can no longer change.",
            code="message_not_draft",
        )
    message.channels = channels
    if wider:
        message.requires_approval = True
    try:
        message.rendered = preview(message, message.context)
    except TemplateProblem as exc:
        raise ValidationFailed(f"A template of this message is broken: {exc}") from exc
    message.save(update_fields=["channels", "requires_approval", "rendered"])
    audit_record(
        actor=actor,
        action="message.channels_changed",
        obj=message,
        details={"channels": channels, **({"widened": wider} if wider else {})},
    )
    return message


def _check_complete(message: Message) -> None:
    """Every channel has its wording and every placeholder used outside an {% if %} has a
    value; the error names the placeholder and the channel."""
    problems: dict[str, list[str]] = {}
    sources = _templates(message.kind, message.channels)
    for channel in message.channels:
        if channel != ChannelKey.WEBHOOK and "text" not in sources.get(channel, {}):
            problems.setdefault("channels", []).append(
                f"There is no {channel} text template for {message.get_kind_display()}."
            )
        for part, source in sources.get(channel, {}).items():
            _, required = template_parse(source, kind=message.kind, html=part == "html")
            required -= {"recipient_name", "manage_url", "unsubscribe_url"}  # per recipient
            for name in empty_placeholders(required, message.context):
                problems.setdefault("context", []).append(
                    f"The placeholder '{name}' is empty in the {channel} {part}."
                )
    for channel, errors in channel_problems(message).errors.items():
        problems.setdefault("channels", []).extend(f"{channel}: {e}" for e in errors)
    if problems:
        raise ValidationFailed(
            "The message cannot be approved: fill every placeholder.", fields=problems
        )


@transaction.atomic
def message_approve(*, message: Message, actor: Actor) -> Message:
    message = Message.objects.select_for_update().get(pk=message.pk)
    if message.state == MessageState.APPROVED:
        return message
    if message.state != MessageState.DRAFT:
        raise Conflict(
            f"Message #{message.pk} is {message.state}; only a draft is approved.",
            code=f"message_{message.state}",
        )
    if message.incident is not None and not message.incident.customer_impact_confirmed:
        raise Conflict(
            "Customer impact is not confirmed: nothing goes out to customers yet.",
            code="impact_not_confirmed",
        )
    _check_complete(message)
    message.state = MessageState.APPROVED
    message.approved_at = timezone.now()
    message.approved_by = actor if isinstance(actor, User) else None
    message.approved_by_label = actor_label(actor)[:200]
    message.save()
    audit_record(actor=actor, action="message.approved", obj=message)
    return message


@transaction.atomic
def message_publish(*, message: Message, actor: Actor, approver: bool = False) -> Message:
    """Commit the intent to send and return at once; a task writes the deliveries and
    queues the sends. A message needing approval must be approved first (or published by
    an approver, which approves it)."""
    message = Message.objects.select_for_update().get(pk=message.pk)
    if message.state in (MessageState.SENDING, MessageState.SENT):
        return message
    if message.state == MessageState.DRAFT:
        if message.requires_approval and not approver:
            raise Conflict(
                "This message needs a communications approver's approval first.",
                code="approval_required",
            )
        message = message_approve(message=message, actor=actor)
    if message.state != MessageState.APPROVED:
        raise Conflict(
            f"Message #{message.pk} is {message.state}.", code=f"message_{message.state}"
        )
    message.state = MessageState.SENDING
    message.fanout_started_at = timezone.now()
    message.save(update_fields=["state", "fanout_started_at"])
    audit_record(actor=actor, action="message.published", obj=message)
    # Robust: with the broker down the publish stands (and the caller gets its answer); the
    # sweep queues a fan-out that never reached the broker (delivery.sweep, lost_fanouts).
    transaction.on_commit(lambda: fanout_message.delay(message.pk), robust=True)
    emit(
        "message.published",
        message_id=message.pk,
        incident_id=message.incident_id,
        kind=message.kind,
    )
    return message


@transaction.atomic
def message_cancel(*, message: Message, actor: Actor) -> Message:
    message = Message.objects.select_for_update().get(pk=message.pk)
    if message.state == MessageState.CANCELLED:
        return message
    if message.state not in (MessageState.DRAFT, MessageState.APPROVED):
        raise Conflict(
            f"Message #{message.pk} is already {message.state}; it cannot be cancelled.",
            code=f"message_{message.state}",
        )
    message.state = MessageState.CANCELLED
    message.save(update_fields=["state"])
    audit_record(actor=actor, action="message.cancelled", obj=message)
    return message
