"""The message page of the staff portal: counts per channel and status, failures with their
reasons, checks, a preview per subscriber, and approve / cancel for approvers."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from apps.communications import delivery
from apps.communications.models import (
    CadenceSettings,
    Delivery,
    Message,
    MessageTemplate,
    ResponseContact,
)
from apps.communications.services import message_draft
from apps.core.models import AuditEvent
from apps.core.roles import APPROVER, RESPONDER
from apps.incidents.models import Region
from apps.incidents.services import incident_open
from tests.conftest import TEST_HOST
from tests.factories import CustomerFactory, SubscriberFactory, UserFactory

ACTOR = "pytest"
MESSAGES = "/admin/communications/message/"


def member(role: str) -> Client:
    user = UserFactory()
    user.groups.add(Group.objects.get(name=role))
    client = Client(HTTP_HOST=TEST_HOST)
    client.force_login(user)
    return client


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def setup(catalog, smtp):
    paris = CustomerFactory(
        external_key="paris", region=Region.objects.get(code="eu"), time_zone="Europe/Paris"
    )
    ada = SubscriberFactory(email="ada@example.com", name="Ada", customer=paris)
    SubscriberFactory(email="bob@example.com", customer=paris)
    smtp.refuse["bob@example.com"] = "550 5.1.1 No such mailbox"
    incident = incident_open(
        title="Payments failing",
        severity="P1",
        services={"payments": "major_outage"},
        regions=["eu"],
        body="We are investigating failed card payments. " * 4,
        actor=ACTOR,
    )
    MessageTemplate.objects.filter(kind="initial_alert", channel="sms").update(
        source="{{ company }}: {{ update }} {{ status_page_url }}"  # two SMS segments
    )
    message = message_draft(
        kind="initial_alert",
        update=incident.updates.get(),
        channels=["email", "sms", "status_page"],
        actor=ACTOR,
    )
    return {"message": message, "ada": ada, "incident": incident}


def test_an_approver_approves_from_the_page_and_sees_counts_and_failures(setup, smtp):
    message: Message = setup["message"]
    approver = member(APPROVER)
    page = text(approver.get(f"{MESSAGES}{message.pk}/change/"))
    assert "Approve and send" in page and "Cancel" in page
    assert "SMS: The SMS text takes 2 segments (GSM-7)" in page  # flagged at draft
    response = approver.post(f"{MESSAGES}{message.pk}/actions/approve/")
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.state == "sending" and message.approved_by_label.endswith("@example.com")
    delivery.fanout(message.pk)
    delivery.send_batch(message.pk, "email", list(Delivery.objects.values_list("id", flat=True)))
    page = text(approver.get(f"{MESSAGES}{message.pk}/change/"))
    assert "Approve and send" not in page
    counts = page.split('id="clarion-deliveries"')[1].split("</fieldset>")[0]
    assert '<th scope="row">E-mail</th><td>0</td><td>0</td><td>1</td><td>1</td><td>2</td>' in (
        " ".join(counts.split()).replace("> <", "><")
    )
    assert "550 5.1.1 No such mailbox" in page  # the failure with its reason
    assert "Status page" in counts
    assert AuditEvent.objects.filter(action="message.approved").exists()


def test_the_preview_renders_each_channel_for_the_chosen_subscriber(setup) -> None:
    message: Message = setup["message"]
    page = text(member(APPROVER).get(f"{MESSAGES}{message.pk}/change/?subscriber=ada@example.com"))
    preview = page.split('id="clarion-preview"')[1]
    assert "As <strong>Ada</strong> receives it" in preview
    assert "Hello Ada," in preview  # the per-recipient part, filled
    assert " CET" in preview  # her customer's zone
    assert "/subscriptions/" in preview  # her own manage link
    assert "@@clarion" not in preview
    assert "no address" in preview  # Ada has no phone: no SMS for her
    assert "everyone (broadcast)" in preview  # the status page
    assert "Hello ," not in preview  # a broadcast names nobody
    assert 'form="clarion-preview-form"' in preview  # not nested in the admin's own form
    missing = text(member(APPROVER).get(f"{MESSAGES}{message.pk}/change/?subscriber=nobody@x.io"))
    assert "No subscriber matches “nobody@x.io”." in missing


def test_a_responder_sees_the_page_but_cannot_approve_or_cancel(setup) -> None:
    message: Message = setup["message"]
    responder = member(RESPONDER)
    page = responder.get(f"{MESSAGES}{message.pk}/change/")
    assert page.status_code == 200
    assert "Approve and send" not in text(page)
    assert responder.post(f"{MESSAGES}{message.pk}/actions/approve/").status_code == 403
    message.refresh_from_db()
    assert message.state == "draft"


def test_cancel_from_the_page(setup) -> None:
    message: Message = setup["message"]
    approver = member(APPROVER)
    assert approver.post(f"{MESSAGES}{message.pk}/actions/cancel/").status_code == 302
    message.refresh_from_db()
    assert message.state == "cancelled"
    page = text(approver.get(f"{MESSAGES}{message.pk}/change/"))
    assert "Approve and send" not in page


def test_a_refusal_is_shown_on_the_action_page(setup) -> None:
    message: Message = setup["message"]
    message.context = {**message.context, "update": ""}  # an empty required placeholder
    message.save()
    response = member(APPROVER).post(f"{MESSAGES}{message.pk}/actions/approve/")
    assert response.status_code == 200
    assert "The placeholder 'update' is empty in the email text." in text(response)
    message.refresh_from_db()
    assert message.state == "draft"


def test_the_list_shows_messages_with_their_incident(setup) -> None:
    page = text(member(APPROVER).get(MESSAGES))
    assert f"#{setup['message'].pk} Initial alert (draft)" in page
    assert "Payments failing" in page


def test_the_api_shows_the_sms_warning_from_the_draft_on(setup, api_client) -> None:
    body = api_client.get(f"/api/v1/messages/{setup['message'].pk}/").json()
    assert body["warnings"]["sms"][0].startswith("The SMS text takes 2 segments (GSM-7)")


def test_an_approver_sets_the_staff_channel_and_the_escalation_contacts(tenant_db) -> None:
    client = member(APPROVER)
    response = client.post(
        "/admin/communications/cadencesettings/add/",
        {
            "staff_slack_webhook_url": "https://hooks.slack.com/services/T1/B1/x",
            "staff_emails": "ops@example.com",
            "executive_name": "Jane Doe, CEO",
            "maintenance_reminder_hours": "48,2",
            "maintenance_overrun_lead": "00:20:00",
        },
    )
    assert response.status_code == 302, text(response)
    settings = CadenceSettings.objects.get()
    assert settings.maintenance_reminder_hours == [48, 2]
    assert settings.staff_emails == ["ops@example.com"]
    # One row only: no second "add", and it cannot be deleted.
    assert client.get("/admin/communications/cadencesettings/add/").status_code == 403
    assert (
        client.post(f"/admin/communications/cadencesettings/{settings.pk}/delete/").status_code
        == 403
    )
    response = client.post(
        "/admin/communications/responsecontact/add/",
        {"name": "On-call VP", "email": "vp@example.com", "severities": "P1,P2"},
    )
    assert response.status_code == 302, text(response)
    assert ResponseContact.objects.get().severities == ["P1", "P2"]
    assert member(RESPONDER).get("/admin/communications/responsecontact/add/").status_code == 403
