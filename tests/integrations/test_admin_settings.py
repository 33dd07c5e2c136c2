"""The help-desk and support-chat settings in the tenant admin: the pages open, valid
settings are saved with their secrets encrypted and never shown back, an empty secret keeps
the stored one, and a refusal is shown next to its field with nothing saved."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client

from apps.core.models import AuditEvent
from apps.core.roles import VIEWER
from apps.integrations.models_support import ChatInstallation, HelpdeskInstallation
from tests.conftest import TEST_HOST
from tests.factories import UserFactory

HELPDESK = "/admin/integrations/helpdeskinstallation/"
CHAT = "/admin/integrations/chatinstallation/"
API_TOKEN = "zd-api-token-7f3a9c"
WEBHOOK_SECRET = "zd-webhook-secret-41be"
BOT_TOKEN = "xoxb-1234-5678-abcdEFGH"
TEAMS_URL = "https://acme.webhook.office.com/webhookb2/abc/IncomingWebhook/def/ghi"
HELPDESK_FORM = {
    "provider": "zendesk",
    "enabled": "on",
    "subdomain": "acme",
    "email": "agent@acme.example",
    "api_base_url": "",
    "match_incident_terms": "on",
    "match_keywords": "checkout,payments",
    "match_organisations": "on",
    "match_fields": "{}",
    "auto_close": "on",
}
CHAT_FORM = {
    "enabled": "on",
    "slack_base_url": "",
    "support_channel": "CSUPPORT",
    "war_room_responders": "UIC,USRE",
    "executives": "UCEO",
    "on_call": "UONCALL",
    "vps": "UVP",
}


@pytest.fixture
def staff(tenant_db) -> Client:
    client = Client(HTTP_HOST=TEST_HOST)
    client.force_login(UserFactory(email="lead@test.example", is_superuser=True))
    return client


@pytest.fixture
def viewer(tenant_db) -> Client:
    user = UserFactory(email="viewer@test.example")
    user.groups.add(Group.objects.get(name=VIEWER))
    client = Client(HTTP_HOST=TEST_HOST)
    client.force_login(user)
    return client


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def field_errors(response: Any) -> dict[str, list[str]]:
    return {
        name: list(errors) for name, errors in response.context["adminform"].form.errors.items()
    }


def stored(table: str, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")  # noqa: S608 (names are constants)
        [(value,)] = cursor.fetchall()
    return str(value)


def add_helpdesk(staff: Client, **changes: str) -> Any:
    data = {
        **HELPDESK_FORM,
        "new_api_token": API_TOKEN,
        "new_webhook_secret": WEBHOOK_SECRET,
        **changes,
    }
    return staff.post(HELPDESK + "add/", data, follow=True)


def add_chat(staff: Client, **changes: str) -> Any:
    data = {
        **CHAT_FORM,
        "new_slack_bot_token": BOT_TOKEN,
        "new_teams_webhook_url": TEAMS_URL,
        **changes,
    }
    return staff.post(CHAT + "add/", data, follow=True)


# --- help desk ------------------------------------------------------------------------------


def test_the_help_desk_add_page_opens_with_empty_secret_inputs(staff) -> None:
    response = staff.get(HELPDESK + "add/")
    assert response.status_code == 200
    page = text(response)
    assert 'name="new_api_token"' in page
    assert 'name="new_webhook_secret"' in page


def test_help_desk_settings_are_saved_with_their_secrets_encrypted_and_never_shown(
    staff,
) -> None:
    response = add_helpdesk(staff)
    page = text(response)
    assert response.status_code == 200
    assert "was added successfully" in page
    assert API_TOKEN not in page and WEBHOOK_SECRET not in page

    installation = HelpdeskInstallation.objects.get()
    assert installation.api_token == API_TOKEN
    assert installation.webhook_secret == WEBHOOK_SECRET
    assert installation.match_keywords == ["checkout", "payments"]
    assert installation.webhook_token
    assert API_TOKEN not in stored("integrations_helpdeskinstallation", "api_token")
    assert AuditEvent.objects.filter(action="helpdesk.installed").count() == 1

    change = staff.get(HELPDESK + f"{installation.pk}/change/")
    assert change.status_code == 200
    page = text(change)
    assert API_TOKEN not in page and WEBHOOK_SECRET not in page
    assert installation.hook_path in page
    assert page.count("Set (stored encrypted)") == 2


def test_an_empty_secret_on_change_keeps_the_stored_one(staff) -> None:
    add_helpdesk(staff)
    installation = HelpdeskInstallation.objects.get()
    response = staff.post(
        HELPDESK + f"{installation.pk}/change/",
        {**HELPDESK_FORM, "auto_reply": "on", "new_api_token": "zd-new-token"},
        follow=True,
    )
    assert "was changed successfully" in text(response)
    installation.refresh_from_db()
    assert installation.auto_reply is True
    assert installation.api_token == "zd-new-token"
    assert installation.webhook_secret == WEBHOOK_SECRET


def test_a_refused_help_desk_is_shown_on_the_form_and_nothing_is_saved(staff) -> None:
    response = add_helpdesk(staff, email="", new_api_token="zd token with spaces")
    assert response.status_code == 200
    page = text(response)
    assert "was added successfully" not in page
    assert "The help desk cannot be saved." in page
    errors = field_errors(response)
    assert "the agent whose API token this is" in errors["email"][0]
    assert errors["new_api_token"] == ["A secret has no spaces; paste it again without them."]
    assert "'email': [" not in page  # no raw dict of the refusal
    assert "zd token with spaces" not in page
    assert not HelpdeskInstallation.objects.exists()
    assert not AuditEvent.objects.filter(action="helpdesk.installed").exists()


def test_a_refused_change_leaves_the_help_desk_as_it_was(staff) -> None:
    add_helpdesk(staff)
    installation = HelpdeskInstallation.objects.get()
    response = staff.post(
        HELPDESK + f"{installation.pk}/change/",
        {**HELPDESK_FORM, "subdomain": "globex", "email": "", "new_api_token": "zd-other"},
        follow=True,
    )
    assert response.status_code == 200
    assert "was changed successfully" not in text(response)
    assert "email" in field_errors(response)
    installation.refresh_from_db()
    assert (installation.subdomain, installation.email) == ("acme", "agent@acme.example")
    assert installation.api_token == API_TOKEN


def test_a_viewer_sees_the_help_desk_without_its_secrets(staff, viewer) -> None:
    add_helpdesk(staff)
    installation = HelpdeskInstallation.objects.get()
    response = viewer.get(HELPDESK + f"{installation.pk}/change/")
    assert response.status_code == 200
    page = text(response)
    assert API_TOKEN not in page and WEBHOOK_SECRET not in page
    assert 'name="new_api_token"' not in page


# --- support chat ---------------------------------------------------------------------------


def test_the_chat_add_page_opens_with_empty_secret_inputs(staff) -> None:
    response = staff.get(CHAT + "add/")
    assert response.status_code == 200
    page = text(response)
    assert 'name="new_slack_bot_token"' in page
    assert 'name="new_teams_webhook_url"' in page


def test_chat_settings_are_saved_with_their_secrets_encrypted_and_never_shown(staff) -> None:
    response = add_chat(staff)
    page = text(response)
    assert response.status_code == 200
    assert "was added successfully" in page
    assert BOT_TOKEN not in page and TEAMS_URL not in page

    chat = ChatInstallation.objects.get()
    assert chat.slack_bot_token == BOT_TOKEN
    assert chat.teams_webhook_url == TEAMS_URL
    assert chat.war_room_responders == ["UIC", "USRE"]
    assert BOT_TOKEN not in stored("integrations_chatinstallation", "slack_bot_token")

    change = staff.get(CHAT + f"{chat.pk}/change/")
    assert change.status_code == 200
    page = text(change)
    assert BOT_TOKEN not in page and TEAMS_URL not in page
    assert page.count("Set (stored encrypted)") == 2


def test_empty_chat_secrets_on_change_keep_the_stored_ones(staff) -> None:
    add_chat(staff)
    chat = ChatInstallation.objects.get()
    response = staff.post(
        CHAT + f"{chat.pk}/change/", {**CHAT_FORM, "support_channel": "CNEW"}, follow=True
    )
    assert "was changed successfully" in text(response)
    chat.refresh_from_db()
    assert chat.support_channel == "CNEW"
    assert (chat.slack_bot_token, chat.teams_webhook_url) == (BOT_TOKEN, TEAMS_URL)


def test_refused_chat_settings_are_shown_on_the_form_and_nothing_is_saved(staff) -> None:
    response = add_chat(
        staff, new_slack_bot_token="xoxb-1234 5678", new_teams_webhook_url="not a url"
    )
    assert response.status_code == 200
    assert "was added successfully" not in text(response)
    errors = field_errors(response)
    assert errors["new_slack_bot_token"] == ["A token has no spaces; paste it again without them."]
    assert errors["new_teams_webhook_url"] == ["Enter a valid URL."]
    assert not ChatInstallation.objects.exists()


def test_an_enabled_chat_with_nowhere_to_post_is_refused_and_a_save_is_audited(staff) -> None:
    response = add_chat(staff, new_slack_bot_token="", new_teams_webhook_url="")
    assert response.status_code == 200
    assert "was added successfully" not in text(response)
    assert field_errors(response)["new_slack_bot_token"] == [
        "Posting to the support channel needs the Slack bot token.",
        "An enabled chat needs a Slack bot token or a Teams webhook URL (or untick Enabled).",
    ]
    assert not ChatInstallation.objects.exists()
    assert not AuditEvent.objects.filter(action="support_chat.saved").exists()

    add_chat(staff)
    [saved] = AuditEvent.objects.filter(action="support_chat.saved")
    assert saved.details == {
        "enabled": True,
        "slack": True,
        "teams": True,
        "secrets_replaced": ["slack_bot_token", "teams_webhook_url"],
    }
    assert saved.actor_label == "lead@test.example"


def test_a_viewer_sees_the_chat_settings_without_their_secrets(staff, viewer) -> None:
    add_chat(staff)
    response = viewer.get(CHAT + f"{ChatInstallation.singleton_pk}/change/")
    assert response.status_code == 200
    page = text(response)
    assert BOT_TOKEN not in page and TEAMS_URL not in page
    assert 'name="new_slack_bot_token"' not in page
