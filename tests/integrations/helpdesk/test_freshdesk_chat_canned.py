"""Freshdesk behind the same interface; Slack (slack_sdk) and Teams for support and war
rooms; canned responses in the API and the admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.communications.cadence import UPDATE_OVERDUE, cadence_tick
from apps.core.events import emit
from apps.core.exceptions import ValidationFailed
from apps.incidents.services import incident_post_update
from apps.integrations.models_support import HelpdeskTicketLink, TicketState, WarRoom
from apps.integrations.services.canned import canned_response_for, canned_template_save
from tests.factories import UserFactory
from tests.integrations.helpdesk.conftest import ACTOR, open_payments_incident, resolve
from tests.openapi import CheckedClient


def test_freshdesk_flow_tags_notes_and_resolves(
    freshdesk, freshdesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    matching = freshdesk.add_ticket("Payments broken", "card payments fail")
    replied = freshdesk.add_ticket("Help", "all down", company="Initech")
    other = freshdesk.add_ticket("Invoice", "where is it")
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_payments_incident(started_at=datetime.now(UTC) - timedelta(minutes=5))
    tags = ["known_issue", f"clarion-incident-{incident.pk}"]
    assert freshdesk.tickets[matching]["tags"] == tags
    assert freshdesk.tickets[replied]["tags"] == tags
    assert freshdesk.tickets[other]["tags"] == []
    note = freshdesk.conversations[matching][-1]
    assert note["private"] is True and "Payments" in note["body_text"]
    tracking = [t for t in freshdesk.tickets.values() if t["subject"].startswith("[Clarion #")]
    assert len(tracking) == 1
    HelpdeskTicketLink.objects.filter(ticket_id=str(replied)).update(
        flagged_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    freshdesk.customer_replies(replied, "Still broken for us")
    with django_capture_on_commit_callbacks(execute=True):
        resolve(incident)
    assert freshdesk.tickets[matching]["status"] == 4
    assert freshdesk.tickets[replied]["status"] == 2
    assert tracking[0]["status"] == 4
    assert HelpdeskTicketLink.objects.get(ticket_id=str(replied)).state == TicketState.LEFT_OPEN


def test_p1_opens_a_war_room_calls_executives_and_follows_updates(
    chat, slack, teams, eager, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_payments_incident(severity="P1", title="Payments down everywhere")
    room = WarRoom.objects.get(incident=incident)
    assert room.name == f"inc-{incident.pk}-payments-down-everywhere"
    assert slack.channels[room.channel_id]["members"] == ["UIC", "USRE"]
    support = [p["text"] for p in slack.posts("CSUPPORT")]
    assert any("<@UCEO> <@UCTO>" in text and "P1" in text for text in support)
    assert teams.received and "P1" in str(teams.received[0].json)
    with django_capture_on_commit_callbacks(execute=True):
        incident_post_update(incident=incident, internal_note="Rolling back now.", actor=ACTOR)
    incident.refresh_from_db()
    due = incident.next_update_due
    with django_capture_on_commit_callbacks(execute=True):
        cadence_tick(now=due - timedelta(minutes=4))  # the cadence engine's reminder
        cadence_tick(now=due + timedelta(minutes=1))  # and, missed, its overdue alert
        cadence_tick(now=due + timedelta(minutes=2))  # (once)
    room_posts = [p["text"] for p in slack.posts(room.channel_id)]
    assert any("Internal: Rolling back now." in text for text in room_posts)
    assert sum("OVERDUE" in text for text in room_posts) == 1
    assert sum("is due soon" in text for text in room_posts) == 1
    with django_capture_on_commit_callbacks(execute=True):
        resolve(incident)
    assert any(p["text"].startswith("Resolved") for p in slack.posts("CSUPPORT"))
    # A task run twice posts nothing twice.
    count = len(slack.posts())
    with django_capture_on_commit_callbacks(execute=True):
        emit(UPDATE_OVERDUE, incident_id=incident.pk, due=due.isoformat())
    assert len(slack.posts()) == count


def test_p2_calls_on_call_and_the_vp_and_publishing_posts_the_canned_response(
    chat, slack, eager, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_payments_incident(severity="P3")
        incident_p2 = open_payments_incident(severity="P2", title="Search degraded")
    texts = [p["text"] for p in slack.posts("CSUPPORT")]
    assert any("<@UONCALL>" in t and "<@UVP>" in t and f"#{incident_p2.pk}" in t for t in texts)
    canned = canned_response_for(incident=incident).text
    assert any(canned in t and "Customers were told" in t for t in texts)
    assert not WarRoom.objects.exists()


def test_the_canned_response_follows_updates_and_is_in_the_api(
    world, api_key, django_capture_on_commit_callbacks, eager
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_payments_incident()
        incident_post_update(
            incident=incident, body="A fix is being deployed.", internal_note="secret", actor=ACTOR
        )
    client = CheckedClient(key=api_key[1])
    body = client.get(f"/api/v1/incidents/{incident.pk}/canned-response/").json()
    assert "A fix is being deployed." in body["text"] and "secret" not in body["text"]
    assert body["helpdesk"] == {"flagged": 0, "replied": 0, "auto_closed": 0, "left_open": 0}
    assert client.get("/api/v1/incidents/999999/canned-response/").status_code == 404
    assert (
        CheckedClient().get(f"/api/v1/incidents/{incident.pk}/canned-response/").status_code == 401
    )
    canned_template_save(locale="fr", source="Incident sur {{ services|join:', ' }}.", actor=ACTOR)
    with django_capture_on_commit_callbacks(execute=True):
        incident_post_update(incident=incident, body="Still deploying.", actor=ACTOR)
    french = client.get(f"/api/v1/incidents/{incident.pk}/canned-response/?locale=fr").json()
    assert french["text"] == "Incident sur Payments."


def test_a_template_with_an_unknown_placeholder_is_refused_naming_it(tenant_db) -> None:
    with pytest.raises(ValidationFailed) as refused:
        canned_template_save(locale="en", source="Hello {{ internal_note }}", actor=ACTOR)
    assert "internal_note" in str(refused.value.fields["source"])


def test_the_incident_page_shows_counts_tickets_left_open_and_a_copy_button(
    world, tenant_client
) -> None:
    user = UserFactory(is_staff=True, is_superuser=True)
    tenant_client.force_login(user)
    incident = open_payments_incident()
    HelpdeskTicketLink.objects.create(
        incident=incident, ticket_id="4242", subject="Still down?", state=TicketState.LEFT_OPEN
    )
    page = tenant_client.get(f"/admin/incidents/incident/{incident.pk}/change/").content.decode()
    assert 'id="helpdesk-flagged">1<' in page
    assert 'id="helpdesk-left-open">1: #4242 Still down?' in page
    assert 'id="copy-canned-response"' in page
    assert canned_response_for(incident=incident).text.split(".")[0] in page
