"""The support team's chat (Slack bot and/or Teams webhook): internal alerts that follow the
severity policy's internal response, war rooms for P1s, and the canned response wherever
support needs it.

- **Opened** (or re-graded): P1 -> a war-room channel `inc-<id>-<slug>` with the configured
  responders invited, and the executives called in the support channel; P2 -> on-call and
  VPs called in the support channel. Internal: this happens before impact is confirmed.
- **Published** (the incident's first external message): the support channel hears that
  customers were told, with the canned response to answer tickets with.
- **Update posted, reminder, overdue alert**: in the war room (the support channel when
  there is none).
- **Resolved**: the support channel and the war room, with the final canned response.

Teams gets the same texts as Adaptive Cards. Each post is a `ChatPost` row written before
sending, unique by key: a task run twice posts once.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.communications.channels.slack import slack_payload
from apps.communications.context import status_page_url
from apps.core.audit import Actor, audit_record
from apps.core.exceptions import PermanentError, TransientError, ValidationFailed
from apps.incidents.models import Incident, IncidentUpdate
from apps.integrations.models_support import ChatInstallation, ChatPost, WarRoom
from apps.integrations.outbound.slack_app.client import SlackApp
from apps.integrations.outbound.slack_app.teams import teams_post
from apps.integrations.services.canned import canned_response_for, canned_responses_refresh

OPENED = "opened"
PUBLISHED = "published"
UPDATED = "updated"
RESOLVED = "resolved"
REMINDER = "reminder"
OVERDUE = "overdue"
EVENTS = (OPENED, PUBLISHED, UPDATED, RESOLVED, REMINDER, OVERDUE)
SLACK_NAME_MAX = 80


def chat_installation() -> ChatInstallation | None:
    return ChatInstallation.objects.filter(enabled=True).first()


def war_room_name(incident: Incident) -> str:
    prefix = f"inc-{incident.pk}-"
    slug = slugify(incident.title)[: SLACK_NAME_MAX - len(prefix)].strip("-")
    return (prefix + slug).rstrip("-")


def _page(incident: Incident) -> str:
    return f"{status_page_url()}incidents/{incident.pk}/"


def _mentions(users: list[str]) -> str:
    return " ".join(f"<@{u}>" for u in users)


def _slack(installation: ChatInstallation) -> SlackApp | None:
    if not installation.slack_bot_token:
        return None
    return SlackApp(token=installation.slack_bot_token, base_url=installation.slack_base_url)


def _send(
    installation: ChatInstallation, *, key: str, incident: Incident, target: str, text: str
) -> ChatPost:
    """Post `text` to `target` (`slack:<channel>` or `teams`) once per `key`."""
    post, _ = ChatPost.objects.get_or_create(
        key=key[:200], defaults={"incident": incident, "target": target, "text": text}
    )
    if post.sent_at is not None:
        return post
    try:
        if target == "teams":
            teams_post(installation.teams_webhook_url, text, _page(incident))
        else:
            slack = _slack(installation)
            if slack is None:
                raise PermanentError("No Slack bot token is configured.")
            payload = slack_payload(text, _page(incident))
            slack.post(target.removeprefix("slack:"), text, payload["blocks"])
    except PermanentError as exc:
        post.error = str(exc)[:500]
        post.save(update_fields=["error"])
        return post
    except TransientError as exc:
        post.error = str(exc)[:500]
        post.save(update_fields=["error"])
        raise
    post.sent_at = timezone.now()
    post.error = ""
    post.save(update_fields=["sent_at", "error"])
    return post


def _support(installation: ChatInstallation, *, key: str, incident: Incident, text: str) -> None:
    """The support channel (Slack) and the Teams webhook, whichever are configured."""
    if installation.slack_bot_token and installation.support_channel:
        _send(
            installation,
            key=f"{key}:slack",
            incident=incident,
            target=f"slack:{installation.support_channel}",
            text=text,
        )
    if installation.teams_webhook_url:
        _send(installation, key=f"{key}:teams", incident=incident, target="teams", text=text)


def _war_room_or_support(
    installation: ChatInstallation, *, key: str, incident: Incident, text: str
) -> None:
    room = WarRoom.objects.filter(incident=incident).exclude(channel_id="").first()
    if room is not None:
        _send(
            installation,
            key=f"{key}:room",
            incident=incident,
            target=f"slack:{room.channel_id}",
            text=text,
        )
        if installation.teams_webhook_url:
            _send(installation, key=f"{key}:teams", incident=incident, target="teams", text=text)
    else:
        _support(installation, key=key, incident=incident, text=text)


def war_room_open(*, incident: Incident, installation: ChatInstallation) -> WarRoom | None:
    """The P1's Slack channel, created and its responders invited once."""
    slack = _slack(installation)
    if slack is None:
        return None
    room, _ = WarRoom.objects.get_or_create(
        incident=incident, defaults={"name": war_room_name(incident)}
    )
    if not room.channel_id:
        room.channel_id = slack.create_channel(room.name)
        room.save(update_fields=["channel_id"])
    missing = [u for u in installation.war_room_responders if u not in room.invited]
    if missing:
        slack.invite(room.channel_id, missing)
        room.invited = [*room.invited, *missing]
        room.save(update_fields=["invited"])
    canned = canned_response_for(incident=incident).text
    _send(
        installation,
        key=f"room-opened:{incident.pk}",
        incident=incident,
        target=f"slack:{room.channel_id}",
        text=f"War room for P1 incident #{incident.pk}: "
        f"{incident.internal_title or incident.title}.\nStatus page: {_page(incident)}\n"
        f"Canned response for tickets:\n{canned}",
    )
    return room


def _opened(installation: ChatInstallation, incident: Incident) -> None:
    title = incident.internal_title or incident.title
    if incident.severity == "P1":
        room = war_room_open(incident=incident, installation=installation)
        where = f" War room: #{room.name}." if room is not None else ""
        text = (
            f"P1 incident #{incident.pk}: {title}. War room within 15 minutes.{where} "
            f"Executives: {_mentions(installation.executives) or 'none configured'}."
        )
        _support(installation, key=f"opened:{incident.pk}:P1", incident=incident, text=text)
    elif incident.severity == "P2":
        text = (
            f"P2 incident #{incident.pk}: {title}. On-call, respond within 30 minutes: "
            f"{_mentions(installation.on_call) or 'none configured'}. "
            f"VP: {_mentions(installation.vps) or 'none configured'}."
        )
        _support(installation, key=f"opened:{incident.pk}:P2", incident=incident, text=text)


def support_chat_notify(
    *, event: str, incident_id: int, update_id: int | None = None, due: str = ""
) -> str:
    """Refresh the canned response and tell the support chat about `event` (one of
    EVENTS). Safe to run twice."""
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None:
        return "incident gone"
    if event in (PUBLISHED, UPDATED, RESOLVED):
        canned_responses_refresh(incident=incident)
    installation = chat_installation()
    if installation is None or incident.parent_id is not None:
        return "no chat"
    canned = canned_response_for(incident=incident).text
    if event == OPENED:
        _opened(installation, incident)
    elif event == PUBLISHED:
        text = (
            f"Customers were told about incident #{incident.pk}: {incident.title} "
            f"({incident.severity}). Answer tickets with:\n{canned}"
        )
        _support(installation, key=f"published:{incident.pk}", incident=incident, text=text)
    elif event == UPDATED and update_id is not None:
        update = IncidentUpdate.objects.filter(pk=update_id, incident=incident).first()
        if update is None:
            return "update gone"
        parts = [f"Update on #{incident.pk} ({update.get_status_display()})"]
        if update.body:
            parts.append(f"Public: {update.body}")
        if update.internal_note:
            parts.append(f"Internal: {update.internal_note}")
        room = WarRoom.objects.filter(incident=incident).exclude(channel_id="").first()
        if room is not None:
            _send(
                installation,
                key=f"update:{update.pk}:room",
                incident=incident,
                target=f"slack:{room.channel_id}",
                text="\n".join(parts),
            )
    elif event == RESOLVED:
        text = (
            f"Resolved: incident #{incident.pk}: {incident.title}. Final canned response:\n{canned}"
        )
        _support(installation, key=f"resolved:{incident.pk}", incident=incident, text=text)
        room = WarRoom.objects.filter(incident=incident).exclude(channel_id="").first()
        if room is not None:
            _send(
                installation,
                key=f"resolved:{incident.pk}:room",
                incident=incident,
                target=f"slack:{room.channel_id}",
                text=text,
            )
    elif event in (REMINDER, OVERDUE):
        what = "is due soon" if event == REMINDER else "is OVERDUE"
        text = f"The next customer update on incident #{incident.pk} ({incident.title}) {what}."
        _war_room_or_support(
            installation, key=f"{event}:{incident.pk}:{due}", incident=incident, text=text
        )
    return event


# --- the installation -----------------------------------------------------------------------

CHAT_SECRETS = ("slack_bot_token", "teams_webhook_url")


@transaction.atomic
def support_chat_save(
    *, installation: ChatInstallation, secrets: dict[str, str], actor: Actor
) -> ChatInstallation:
    """Save the tenant's one support-chat installation; `secrets` (slack_bot_token,
    teams_webhook_url) replace the stored ones only when given (they are never shown back).
    An enabled chat needs a way to post (a Slack bot token or a Teams webhook), and a
    support channel needs the Slack bot token."""
    given = {name: value.strip() for name, value in secrets.items() if value.strip()}
    errors: dict[str, list[str]] = {}
    token = given.get("slack_bot_token", installation.slack_bot_token)
    teams = given.get("teams_webhook_url", installation.teams_webhook_url)
    if "slack_bot_token" in given and any(c.isspace() for c in given["slack_bot_token"]):
        errors["slack_bot_token"] = ["A token has no spaces; paste it again without them."]
    if installation.support_channel.strip() and not token:
        errors["slack_bot_token"] = ["Posting to the support channel needs the Slack bot token."]
    if installation.enabled and not token and not teams:
        errors.setdefault("slack_bot_token", []).append(
            "An enabled chat needs a Slack bot token or a Teams webhook URL (or untick Enabled)."
        )
    if errors:
        raise ValidationFailed("The support chat cannot be saved.", fields=errors)
    installation.pk = ChatInstallation.singleton_pk
    for name, value in given.items():
        setattr(installation, name, value)
    installation.save()
    audit_record(
        actor=actor,
        action="support_chat.saved",
        obj=installation,
        details={
            "enabled": installation.enabled,
            "slack": bool(installation.slack_bot_token),
            "teams": bool(installation.teams_webhook_url),
            "secrets_replaced": sorted(given),
        },
    )
    return installation
