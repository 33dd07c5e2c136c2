"""Admin forms of the support installations: the help desk and the support chat.

Secrets are write-only. Their inputs are named `new_<field>`: the model's encrypted fields
are not editable, and a form field of the same name makes the admin's model form refuse to
build. The inputs start empty, and an empty one keeps what is stored.

Both forms save through their service (`helpdesk_installation_save`, `support_chat_save`;
see `apps.core.forms.ServiceModelForm`): a refusal is shown next to the field it names,
the secret's input for a secret, and nothing is written.
"""

from __future__ import annotations

from typing import ClassVar

from django import forms

from apps.core.forms import ServiceModelForm
from apps.integrations.models_support import ChatInstallation, HelpdeskInstallation
from apps.integrations.services.helpdesk import HELPDESK_SECRETS, helpdesk_installation_save
from apps.integrations.services.support_chat import CHAT_SECRETS, support_chat_save


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


class HelpdeskInstallationForm(ServiceModelForm):
    renamed: ClassVar[dict[str, str]] = {name: secret_input(name) for name in HELPDESK_SECRETS}
    validate_model = True  # the service takes the installation the form built

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

    def run_service(self) -> HelpdeskInstallation:
        secrets = {
            name: self.cleaned_data.get(secret_input(name)) or "" for name in HELPDESK_SECRETS
        }
        return helpdesk_installation_save(
            installation=self.instance, secrets=secrets, actor=self.actor
        )


class ChatInstallationForm(ServiceModelForm):
    renamed: ClassVar[dict[str, str]] = {name: secret_input(name) for name in CHAT_SECRETS}
    validate_model = True  # the service takes the installation the form built

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

    def run_service(self) -> ChatInstallation:
        secrets = {name: self.cleaned_data.get(secret_input(name)) or "" for name in CHAT_SECRETS}
        return support_chat_save(installation=self.instance, secrets=secrets, actor=self.actor)
