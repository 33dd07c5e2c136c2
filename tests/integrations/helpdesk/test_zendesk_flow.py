"""The whole Zendesk loop with the real zenpy against a fake Zendesk: publish -> problem +
links + tags + note; new ticket webhook -> linked (and answered); resolve -> solved, except
tickets whose requester wrote after the flag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.integrations.models_support import (
    HelpdeskAction,
    HelpdeskProblem,
    HelpdeskTicketLink,
    TicketState,
)
from apps.integrations.services.canned import canned_response_for
from apps.integrations.services.helpdesk import helpdesk_counts, helpdesk_flag
from tests.integrations.helpdesk.conftest import open_payments_incident, post_webhook, resolve


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_publish_flags_new_ticket_is_linked_resolve_solves(
    zendesk, zendesk_installation, world, eager, django_capture_on_commit_callbacks
) -> None:
    now = datetime.now(UTC)
    started = now - timedelta(minutes=30)
    initech_org = zendesk.add_org("Initech")
    about_payments = zendesk.add_ticket(
        "Payments declined", "Our card payments fail", created_at=iso(now - timedelta(minutes=20))
    )
    from_customer = zendesk.add_ticket(
        "Urgent help",
        "Nothing works for us",
        organization_id=initech_org,
        created_at=iso(now - timedelta(minutes=10)),
    )
    unrelated = zendesk.add_ticket(
        "Invoice question", "Where is my invoice?", created_at=iso(now - timedelta(minutes=5))
    )
    before_incident = zendesk.add_ticket(
        "Payments slow", "Old ticket", created_at=iso(now - timedelta(hours=2))
    )

    with django_capture_on_commit_callbacks(execute=True):
        incident = open_payments_incident(started_at=started)

    # Customers were told (the P3 alert is published at once) ...
    assert incident.messages.get().state in ("sending", "sent")
    # ... and the help desk has one problem ticket: internal subject, public description.
    problem = HelpdeskProblem.objects.get(incident=incident)
    zd_problem = zendesk.tickets[int(problem.external_id)]
    assert zd_problem["type"] == "problem"
    assert zd_problem["subject"] == f"[Clarion #{incident.pk}] psp-gateway 502s after deploy"
    canned = canned_response_for(incident=incident).text
    assert "Payments" in canned and "psp-gateway" not in canned
    assert zendesk.comments[problem.external_id and int(problem.external_id)][0] == {
        **zendesk.comments[int(problem.external_id)][0],
        "public": True,
        "body": canned,
    }
    # Matching tickets (keywords; the affected customer's organisation) are linked.
    tags = ["known_issue", f"clarion-incident-{incident.pk}"]
    for ticket_id in (about_payments, from_customer):
        ticket = zendesk.tickets[ticket_id]
        assert ticket["problem_id"] == int(problem.external_id)
        assert ticket["type"] == "incident"
        assert ticket["tags"] == tags
        note = zendesk.comments[ticket_id][-1]
        assert note["public"] is False and canned in note["body"]
    for ticket_id in (unrelated, before_incident):
        assert zendesk.tickets[ticket_id]["problem_id"] is None
        assert zendesk.tickets[ticket_id]["tags"] == []

    # A new ticket while the incident is open arrives by webhook: linked and answered.
    new = zendesk.add_ticket("Payments error on checkout", "Card declined with error 502")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(zendesk_installation, {"ticket_id": str(new), "event": "created"})
    assert response.status_code == 202, response.content
    assert zendesk.tickets[new]["problem_id"] == int(problem.external_id)
    reply = zendesk.comments[new][-1]
    assert reply["public"] is True and reply["body"] == canned
    assert HelpdeskTicketLink.objects.get(ticket_id=str(new)).via == "webhook"

    # The customer of one flagged ticket writes again: that ticket stays open for a person.
    later = datetime.now(UTC) + timedelta(seconds=5)
    zendesk.customer_replies(from_customer, "Any news? We lose money.", at=iso(later))

    with django_capture_on_commit_callbacks(execute=True):
        resolve(incident)

    assert zendesk.tickets[int(problem.external_id)]["status"] == "solved"
    resolution = zendesk.comments[int(problem.external_id)][-1]
    assert resolution["public"] is True and "rolled back" in resolution["body"]
    assert zendesk.tickets[about_payments]["status"] == "solved"
    assert zendesk.tickets[new]["status"] == "solved"
    assert zendesk.tickets[from_customer]["status"] == "open"
    assert zendesk.tickets[from_customer]["problem_id"] is None
    assert zendesk.tickets[unrelated]["status"] == "open"
    left = HelpdeskTicketLink.objects.get(ticket_id=str(from_customer))
    assert left.state == TicketState.LEFT_OPEN
    assert helpdesk_counts(incident) == {
        "flagged": 3,
        "replied": 1,
        "auto_closed": 2,
        "left_open": 1,
    }
    # Every action is recorded with its ticket and outcome.
    recorded = set(
        HelpdeskAction.objects.filter(incident=incident).values_list(
            "ticket_id", "action", "outcome"
        )
    )
    assert (str(about_payments), "flagged", "ok") in recorded
    assert (str(new), "replied", "ok") in recorded
    assert (str(about_payments), "auto_closed", "ok") in recorded
    assert (str(from_customer), "left_open", "ok") in recorded
    assert (problem.external_id, "problem_created", "ok") in recorded


def test_flagging_twice_opens_one_problem_and_links_once(
    zendesk, zendesk_installation, world
) -> None:
    zendesk.add_ticket("Payments down", "help")
    incident = open_payments_incident(started_at=datetime.now(UTC) - timedelta(minutes=5))
    helpdesk_flag(incident_id=incident.pk)
    HelpdeskProblem.objects.filter(incident=incident).update(flagged_at=None)  # a re-run
    helpdesk_flag(incident_id=incident.pk)
    assert len(zendesk.writes("POST")) == 1  # one problem created
    assert len(zendesk.writes("PUT")) == 1  # one ticket linked
    assert HelpdeskTicketLink.objects.filter(incident=incident).count() == 1
