"""Admin forms of the support installations: the help desk and the support chat.

Secrets are write-only. Their inputs are named `new_<field>`: the model's encrypted fields
are not editable, and a form field of the same name makes the admin's model form refuse to
build. The inputs start empty, and an empty one keeps what is stored.

Both forms save through their service (`helpdesk_installation_save`, `support_chat_save`)
while they validate, inside a savepoint, so a refusal (an ApplicationError) is shown next
to the field it names and nothing is written; on success the saved installation is the
form's instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.db import transaction

from apps.core.audit import Actor
from apps.core.exceptions import ApplicationError
from apps.integrations.models_support import ChatInstallation, HelpdeskInstallation
from apps.integrations.services.helpdesk import helpdesk_installation_save
from apps.integrations.services.support_chat import CHAT_SECRETS, support_chat_save

HELPDESK_SECRETS = ("api_token", "webhook_secret")


def secret_input(name: str) -> str:
    """The form field that replaces the stored secret `name`."""
    return f"new_{name}"


def _secret_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text=f"{help_text} Stored encrypted, never shown; leave empty to keep the stored one.",
    )


def _no_spaces(value: str) -> str:
    if any(c.isspace() for c in value):
        raise forms.ValidationError("A token has no spaces; paste it again without them.")
    return value


def show_error(
    form: forms.BaseForm, exc: ApplicationError, renamed: Mapping[str, str] | None = None
) -> None:
    """The service's refusal on the form: its message on top, each field's reason next to
    the field (`renamed` maps the service's name of a field to the form's), or on top,
    named, if the form has no such field."""
    form.add_error(None, exc.message)
    for field, reasons in exc.fields.items():
        name = (renamed or {}).get(field, field)
        for reason in reasons:
            if name in form.fields:
                form.add_error(name, reason)
            else:
                form.add_error(None, f"{field.replace('_', ' ').capitalize()}: {reason}")


class HelpdeskInstallationForm(forms.ModelForm):  # type: ignore[type-arg]
    actor: Actor = None  # set per request by the admin

    new_api_token = _secret_field(
        "API token", "Zendesk: the agent's API token. Freshdesk: the API key."
    )
    new_webhook_secret = _secret_field(
        "Webhook signing secret", "Zendesk only: the signing secret of the webhook."
    )

    class Meta:
        model = HelpdeskInstallation
        fields = (
            "provider",
            "enabled",
            "subdomain",
            "email",
            "api_base_url",
            "match_incident_terms",
            "match_keywords",
            "match_organisations",
            "match_fields",
            "auto_reply",
            "auto_close",
        )

    def _post_clean(self) -> None:
        # After the model form has built the instance and run the model's checks: the
        # service is the last word, and its refusal must reach the re-rendered form.
        super()._post_clean()  # type: ignore[misc]
        if self.errors:
            return
        secrets = {
            name: self.cleaned_data.get(secret_input(name)) or "" for name in HELPDESK_SECRETS
        }
        try:
            with transaction.atomic():
                self.instance = helpdesk_installation_save(
                    installation=self.instance, secrets=secrets, actor=self.actor
                )
        except ApplicationError as exc:
            show_error(self, exc, {name: secret_input(name) for name in HELPDESK_SECRETS})

    def save(self, commit: bool = True) -> Any:
        """The service saved it while the form validated."""
        return self.instance

    def save_m2m(self) -> None:
        """No relations to save."""


class ChatInstallationForm(forms.ModelForm):  # type: ignore[type-arg]
    actor: Actor = None  # set per request by the admin

    new_slack_bot_token = _secret_field("Slack bot token", "xoxb-...")
    new_teams_webhook_url = forms.URLField(
        label="Teams webhook URL",
        required=False,
        assume_scheme="https",
        widget=forms.PasswordInput(render_value=False),
        help_text="The Teams channel's incoming webhook URL (a secret: anyone with it can "
        "post). Stored encrypted, never shown; leave empty to keep the stored one.",
    )

    class Meta:
        model = ChatInstallation
        fields = (
            "enabled",
            "slack_base_url",
            "support_channel",
            "war_room_responders",
            "executives",
            "on_call",
            "vps",
        )

    def clean_new_slack_bot_token(self) -> str:
        return _no_spaces(str(self.cleaned_data.get("new_slack_bot_token") or ""))

    def _post_clean(self) -> None:
        # As for the help desk: the service is the last word, and its refusal must reach
        # the re-rendered form.
        super()._post_clean()  # type: ignore[misc]
        if self.errors:
            return
        secrets = {name: self.cleaned_data.get(secret_input(name)) or "" for name in CHAT_SECRETS}
        try:
            with transaction.atomic():
                self.instance = support_chat_save(
                    installation=self.instance, secrets=secrets, actor=self.actor
                )
        except ApplicationError as exc:
            show_error(self, exc, {name: secret_input(name) for name in CHAT_SECRETS})

    def save(self, commit: bool = True) -> Any:
        """The service saved it while the form validated."""
        return self.instance

    def save_m2m(self) -> None:
        """No relations to save."""
