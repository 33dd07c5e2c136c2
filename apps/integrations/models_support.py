"""Support coordination: the tenant's help desk (Zendesk or Freshdesk) and chat (Slack bot,
Teams webhook) installations, the known-issue problem ticket of each incident, the tickets
linked to it, every action taken on the help desk, the canned responses and the war rooms.

`apps.integrations.services.helpdesk` and `.support_chat` hold the use-cases; the vendor code
lives in `apps/integrations/outbound/zendesk/`, `.../freshdesk/` and `.../slack_app/`.
"""

from __future__ import annotations

from typing import ClassVar

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from apps.core.crypto import EncryptedTextField
from apps.incidents.models import Incident


class HelpdeskProvider(models.TextChoices):
    ZENDESK = "zendesk", "Zendesk"
    FRESHDESK = "freshdesk", "Freshdesk"


class HelpdeskInstallation(models.Model):
    """The tenant's help desk: one row (a tenant picks Zendesk or Freshdesk), its
    credentials (encrypted, never shown back), the webhook that announces new tickets and
    how Clarion matches and answers tickets."""

    singleton_pk: ClassVar[int] = 1

    provider = models.CharField(max_length=20, choices=HelpdeskProvider.choices)
    enabled = models.BooleanField(
        default=True, help_text="Off: Clarion leaves the help desk alone."
    )
    subdomain = models.CharField(
        max_length=100,
        help_text="Zendesk: `acme` for acme.zendesk.com. Freshdesk: `acme` for acme.freshdesk.com.",
    )
    email = models.EmailField(
        blank=True,
        help_text="Zendesk: the agent the API token belongs to. Freshdesk: the requester of the "
        "tracking ticket Clarion opens per incident.",
    )
    api_base_url = models.URLField(
        blank=True,
        help_text="Freshdesk only: empty = https://<subdomain>.freshdesk.com (set for a test "
        "server). Zendesk is redirected with ZENPY_FORCE_NETLOC instead.",
    )
    api_token = EncryptedTextField(
        blank=True, editable=False, help_text="API token (Zendesk) or API key (Freshdesk)."
    )
    webhook_token = models.CharField(
        max_length=64, unique=True, editable=False, help_text="The last part of the hook URL."
    )
    webhook_secret = EncryptedTextField(
        blank=True,
        editable=False,
        help_text="Zendesk's webhook signing secret (X-Zendesk-Webhook-Signature).",
    )
    match_incident_terms = models.BooleanField(
        default=True,
        help_text="A ticket matches when its subject or description names one of the incident's "
        "services or a word of its title.",
    )
    match_keywords = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        help_text="More words that make a ticket match (any of them).",
    )
    match_organisations = models.BooleanField(
        default=True,
        help_text="A ticket whose requester's organisation is an affected customer matches.",
    )
    match_fields = models.JSONField(
        default=dict,
        blank=True,
        help_text='Form fields that make a ticket match: {"field id": ["value", ...]}.',
    )
    auto_reply = models.BooleanField(
        default=False,
        help_text="Answer tickets arriving during the incident with the canned response "
        "(public reply).",
    )
    auto_close = models.BooleanField(
        default=True,
        help_text="On resolve, solve the linked tickets (those whose requester wrote after the "
        "known-issue flag are left open for a person).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "help desk installation"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="helpdeskinstallation_one")
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} ({self.subdomain})"

    @property
    def hook_path(self) -> str:
        return f"/hooks/zendesk/{self.webhook_token}/"


class HelpdeskProblem(models.Model):
    """The known-issue ticket of one incident (Zendesk: a problem ticket; Freshdesk: a
    tracking ticket) and where the loop stands."""

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="helpdesk_problem"
    )
    provider = models.CharField(max_length=20, choices=HelpdeskProvider.choices)
    external_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    flagged_at = models.DateTimeField(
        null=True, blank=True, help_text="When the search of open tickets finished."
    )
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the resolution was posted and tickets solved."
    )
    queued_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the help-desk task queued for this incident (flag or close) is due to "
        "run: set by the sweep when it queues one and by a retry after a transient failure, "
        "cleared when the work ends. The sweep queues no other until a lease after it.",
    )
    refused_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the help desk refused the work for good (credentials refused, 403, "
        "404...): the sweep leaves it alone until the help-desk settings are saved again.",
    )
    refusal = models.CharField(
        max_length=500, blank=True, help_text="The help desk's answer, when it refused."
    )

    class Meta:
        verbose_name = "help desk problem"

    def __str__(self) -> str:
        return f"{self.provider} #{self.external_id or '?'} for incident #{self.incident_id}"


class TicketState(models.TextChoices):
    LINKED = "linked", "Linked (known issue)"
    SOLVED = "solved", "Solved by Clarion"
    LEFT_OPEN = "left_open", "Left open for a person (customer replied)"


class HelpdeskTicketLink(models.Model):
    """One customer ticket flagged as about an incident; once per (incident, ticket)."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="helpdesk_tickets"
    )
    ticket_id = models.CharField(max_length=64)
    subject = models.CharField(max_length=300, blank=True)
    requester_id = models.CharField(max_length=64, blank=True)
    via = models.CharField(max_length=10, default="search", help_text="search or webhook")
    state = models.CharField(max_length=10, choices=TicketState.choices, default=TicketState.LINKED)
    flagged_at = models.DateTimeField(default=timezone.now)
    replied_at = models.DateTimeField(
        null=True, blank=True, help_text="When Clarion answered with the canned response."
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("flagged_at", "id")
        constraints = [
            models.UniqueConstraint(fields=("incident", "ticket_id"), name="ticketlink_once")
        ]

    def __str__(self) -> str:
        return f"ticket {self.ticket_id} ({self.state})"


class ActionOutcome(models.TextChoices):
    OK = "ok", "OK"
    FAILED = "failed", "Failed (will retry)"
    REFUSED = "refused", "Refused (will not retry)"


class HelpdeskAction(models.Model):
    """Every call Clarion made to the help desk: which ticket, what, how it went."""

    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="helpdesk_actions"
    )
    ticket_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=30)
    outcome = models.CharField(max_length=10, choices=ActionOutcome.choices)
    detail = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-at", "-id")
        indexes = [models.Index(fields=("incident", "action", "outcome"))]

    def __str__(self) -> str:
        return f"{self.action} {self.ticket_id} {self.outcome}"


class HelpdeskWebhookDelivery(models.Model):
    """One new-ticket call from the help desk, stored once under its event key so that a
    redelivery links nothing twice."""

    event_key = models.CharField(max_length=200, unique=True)
    ticket_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ("-received_at", "-id")
        verbose_name_plural = "help desk webhook deliveries"

    def __str__(self) -> str:
        return f"ticket {self.ticket_id} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class CannedResponseTemplate(models.Model):
    """The tenant's wording of the answer support gives about an incident, per locale
    (the placeholders of a progress update: `{{ services|join:", " }}`, `{{ update }}`,
    `{{ next_update_at|local:time_zone }}`, `{{ status_page_url }}`...)."""

    locale = models.CharField(max_length=20, unique=True, default="en")
    source = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("locale",)

    def __str__(self) -> str:
        return f"canned response ({self.locale})"


class CannedResponse(models.Model):
    """An incident's current canned response in one locale, rendered again on every update."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="canned_responses"
    )
    locale = models.CharField(max_length=20, default="en")
    text = models.TextField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("incident", "locale"), name="cannedresponse_once")
        ]

    def __str__(self) -> str:
        return f"canned response of incident #{self.incident_id} ({self.locale})"


class ChatInstallation(models.Model):
    """The tenant's support chat: a Slack bot (token encrypted) and/or a Teams incoming
    webhook, the support channel, and who is called for which severity."""

    singleton_pk: ClassVar[int] = 1

    enabled = models.BooleanField(default=True)
    slack_bot_token = EncryptedTextField(
        blank=True, editable=False, help_text="xoxb-... (stored encrypted, never shown)."
    )
    slack_base_url = models.URLField(
        blank=True, help_text="Empty: https://slack.com/api/ (set only for a test server)."
    )
    support_channel = models.CharField(
        max_length=100,
        blank=True,
        help_text="Slack channel id (C...) that hears about new incidents and resolutions.",
    )
    war_room_responders = ArrayField(
        models.CharField(max_length=30),
        default=list,
        blank=True,
        help_text="Slack user ids invited to a P1's war room.",
    )
    executives = ArrayField(
        models.CharField(max_length=30),
        default=list,
        blank=True,
        help_text="Slack user ids told about every P1 (CEO, CTO).",
    )
    on_call = ArrayField(
        models.CharField(max_length=30),
        default=list,
        blank=True,
        help_text="Slack user ids called for a P2.",
    )
    vps = ArrayField(
        models.CharField(max_length=30),
        default=list,
        blank=True,
        help_text="Slack user ids told about every P2 (VP).",
    )
    teams_webhook_url = EncryptedTextField(
        blank=True, editable=False, help_text="Teams incoming webhook URL (a secret)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "support chat installation"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="chatinstall_one")]

    def __str__(self) -> str:
        return "Support chat (Slack / Teams)"


class WarRoom(models.Model):
    """The Slack channel of a P1, created once."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="war_room")
    channel_id = models.CharField(max_length=30, blank=True)
    name = models.CharField(max_length=80)
    created_at = models.DateTimeField(default=timezone.now)
    invited = ArrayField(models.CharField(max_length=30), default=list, blank=True)

    def __str__(self) -> str:
        return f"#{self.name}"


class ChatPost(models.Model):
    """One message to Slack or Teams, written before it is sent and unique by key, so that
    a task run twice posts once."""

    key = models.CharField(max_length=200, unique=True)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="chat_posts"
    )
    target = models.CharField(max_length=100, help_text="slack:<channel> or teams")
    text = models.TextField()
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return self.key
