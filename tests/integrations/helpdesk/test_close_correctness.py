"""Closing the loop right: overlapping incidents keep their own tickets, a false alarm and a
child incident are not answered with "we are working on it", Freshdesk's waiting statuses
are open, a refused known-issue ticket does not stop the tickets from being solved, and a
reopened incident is coordinated again. Real zenpy / requests against the fake help desks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apps.incidents.models import Incident
from apps.incidents.services import (
    incident_attach_child,
    incident_mark_false_alarm,
    incident_open,
    incident_reopen,
)
from apps.integrations.models_support import (
    HelpdeskAction,
    HelpdeskProblem,
    HelpdeskTicketLink,
    HelpdeskWebhookDelivery,
    TicketState,
)
from apps.integrations.services.canned import canned_response_for
from apps.integrations.services.helpdesk import helpdesk_counts, helpdesk_due
from apps.integrations.tasks_support import helpdesk_sweep
from tests.integrations.helpdesk.conftest import (
    ACTOR,
    open_payments_incident,
    post_webhook,
    resolve,
)

RESOLUTION = "Payments work again. We rolled back the faulty deploy."


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def open_search_incident(**kwargs: Any) -> Incident:
    return incident_open(
        title="Search results missing",
        severity="P3",
        services={"search": "degraded_performance"},
        body="Search returns no results for some customers; we are investigating.",
        actor=ACTOR,
        **kwargs,
    )


def problem_of(incident: Incident) -> HelpdeskProblem:
    return HelpdeskProblem.objects.get(incident=incident)


def public_bodies(zendesk: Any, ticket_id: int) -> list[str]:
    return [c["body"] for c in zendesk.comments[ticket_id] if c["public"]]


# --- 1. overlapping incidents ---------------------------------------------------------------


def test_a_ticket_of_another_open_incident_stays_with_it(
    zendesk, zendesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=30)
    both = zendesk.add_ticket(
        "Payments and search broken",
        "Card payments fail and search shows nothing",
        created_at=iso(started + timedelta(minutes=5)),
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = open_payments_incident(started_at=started)
    with django_capture_on_commit_callbacks(execute=True):
        second = open_search_incident(started_at=started)
    first_problem = problem_of(first)
    # The second incident's search leaves the ticket on the first incident's problem.
    assert zendesk.tickets[both]["problem_id"] == int(first_problem.external_id)
    assert f"clarion-incident-{second.pk}" not in zendesk.tickets[both]["tags"]
    assert not HelpdeskTicketLink.objects.filter(incident=second).exists()
    skipped = HelpdeskAction.objects.get(incident=second, ticket_id=str(both), action="skipped")
    assert f"open incident #{first.pk}" in skipped.detail
    with django_capture_on_commit_callbacks(execute=True):
        resolve(first)
    assert zendesk.tickets[both]["status"] == "solved"


def test_a_second_incident_on_the_same_service_leaves_the_first_problem_ticket_alone(
    zendesk, zendesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=30)
    with django_capture_on_commit_callbacks(execute=True):
        first = open_payments_incident(started_at=started)
    with django_capture_on_commit_callbacks(execute=True):
        second = open_payments_incident(
            title="Payments refunds delayed",
            internal_title="refund queue stuck",
            started_at=started,
        )
    # The first problem's description (its canned response) names Payments: still, it is
    # a known-issue ticket, never an incident of the second one.
    first_ticket = zendesk.tickets[int(problem_of(first).external_id)]
    assert first_ticket["type"] == "problem" and first_ticket["problem_id"] is None
    # Nor when Zendesk announces it by webhook (it is a new ticket, after all).
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(zendesk_installation, {"ticket_id": str(first_ticket["id"])})
    assert HelpdeskWebhookDelivery.objects.get().result == "one of Clarion's known-issue tickets"
    assert first_ticket["type"] == "problem" and first_ticket["problem_id"] is None
    assert not HelpdeskTicketLink.objects.filter(incident=second).exists()


def test_a_ticket_moved_to_another_problem_is_not_solved_by_the_first_incident(
    zendesk, zendesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=30)
    ticket = zendesk.add_ticket(
        "Payments declined", "Card payments fail", created_at=iso(started + timedelta(minutes=5))
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = open_payments_incident(started_at=started)
        second = open_search_incident(started_at=started)
    second_problem = problem_of(second)
    # An agent sees it is really about the second incident and moves it there.
    zendesk.tickets[ticket]["problem_id"] = int(second_problem.external_id)
    with django_capture_on_commit_callbacks(execute=True):
        resolve(first)
    assert zendesk.tickets[ticket]["status"] == "open"
    assert not any(RESOLUTION in body for body in public_bodies(zendesk, ticket))
    moved = HelpdeskAction.objects.get(incident=first, ticket_id=str(ticket), action="moved")
    assert f"incident #{second.pk}" in moved.detail
    assert HelpdeskTicketLink.objects.get(incident=first).closed_at is not None
    assert helpdesk_counts(first)["auto_closed"] == 0
    # The second incident's resolve solves it (Zendesk solves the problem's incidents).
    with django_capture_on_commit_callbacks(execute=True):
        resolve(second)
    assert zendesk.tickets[ticket]["status"] == "solved"


def test_freshdesk_ticket_of_another_open_incident_is_not_tagged_again(
    freshdesk, freshdesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=30)
    both = freshdesk.add_ticket("Payments and search broken", "payments fail, search is empty")
    with django_capture_on_commit_callbacks(execute=True):
        first = open_payments_incident(started_at=started)
    with django_capture_on_commit_callbacks(execute=True):
        second = open_search_incident(started_at=started)
    assert freshdesk.tickets[both]["tags"] == ["known_issue", f"clarion-incident-{first.pk}"]
    assert not HelpdeskTicketLink.objects.filter(incident=second, ticket_id=str(both)).exists()
    assert HelpdeskAction.objects.filter(incident=second, action="skipped").count() == 1


# --- 2. false alarm, child incident -------------------------------------------------------


def test_a_false_alarm_solves_the_tickets_with_the_false_alarm_notice(
    zendesk, zendesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    ticket = zendesk.add_ticket("Payments declined", "Card payments fail")
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_payments_incident(started_at=datetime.now(UTC) - timedelta(minutes=5))
    canned = canned_response_for(incident=incident).text
    problem = problem_of(incident)
    with django_capture_on_commit_callbacks(execute=True):
        incident_mark_false_alarm(incident=incident, note="monitoring glitch", actor=ACTOR)
    problem.refresh_from_db()
    assert problem.closed_at is not None
    posted = zendesk.comments[int(problem.external_id)][-1]
    assert posted["public"] is True
    assert "this turned out to be a false alarm: Payments worked normally" in posted["body"]
    assert "working on it" not in posted["body"] and canned not in posted["body"]
    assert zendesk.tickets[ticket]["status"] == "solved"
    assert HelpdeskTicketLink.objects.get(incident=incident).state == TicketState.SOLVED
    assert helpdesk_due() == {"flag": [], "close": []}


def test_a_child_resolved_with_its_parent_is_answered_with_the_parents_resolution(
    zendesk, zendesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=30)
    ticket = zendesk.add_ticket(
        "Payments declined", "Card payments fail", created_at=iso(started + timedelta(minutes=5))
    )
    with django_capture_on_commit_callbacks(execute=True):
        child = open_payments_incident(started_at=started)  # flagged before it was attached
        parent = open_search_incident(started_at=started)
    canned = canned_response_for(incident=child).text
    incident_attach_child(child=child, parent=parent, actor=ACTOR)
    with django_capture_on_commit_callbacks(execute=True):
        resolve(parent)
    problem = problem_of(child)
    assert problem.closed_at is not None
    posted = zendesk.comments[int(problem.external_id)][-1]["body"]
    assert posted.startswith("This issue was resolved together with Search results missing.")
    assert RESOLUTION in posted
    assert canned not in posted and "working on it" not in posted
    assert zendesk.tickets[ticket]["status"] == "solved"


# --- 3. Freshdesk statuses ------------------------------------------------------------------


def test_freshdesk_tickets_waiting_on_someone_are_open_flagged_and_solved(
    freshdesk, freshdesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    waiting_customer = freshdesk.add_ticket("Payments broken", "card payments fail")
    third_party = freshdesk.add_ticket("Payments refused", "the bank says no")
    freshdesk.tickets[third_party]["status"] = 7  # waiting on third party
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_payments_incident(started_at=datetime.now(UTC) - timedelta(minutes=5))
    assert freshdesk.tickets[third_party]["tags"][0] == "known_issue"
    freshdesk.tickets[waiting_customer]["status"] = 6  # the agent asked the customer
    with django_capture_on_commit_callbacks(execute=True):
        resolve(incident)
    for ticket in (waiting_customer, third_party):
        assert freshdesk.tickets[ticket]["status"] == 4
        assert freshdesk.conversations[ticket][-1]["body_text"] == RESOLUTION
    assert helpdesk_counts(incident)["auto_closed"] == 2


# --- 4. a refused known-issue ticket --------------------------------------------------------


def test_a_deleted_problem_still_solves_the_linked_tickets_and_stops_retrying(
    zendesk, zendesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    first = zendesk.add_ticket("Payments declined", "Card payments fail")
    second = zendesk.add_ticket("Payments error", "checkout error 502")
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_payments_incident(started_at=datetime.now(UTC) - timedelta(minutes=5))
    problem = problem_of(incident)
    del zendesk.tickets[int(problem.external_id)]  # an admin deleted it
    with django_capture_on_commit_callbacks(execute=True):
        resolve(incident)
    for ticket in (first, second):
        assert zendesk.tickets[ticket]["status"] == "solved"
        assert public_bodies(zendesk, ticket)[-1] == RESOLUTION
    problem.refresh_from_db()
    assert problem.closed_at is not None
    given_up = HelpdeskAction.objects.get(incident=incident, action="problem_given_up")
    assert given_up.outcome == "refused" and "404" in given_up.detail
    assert helpdesk_counts(incident)["auto_closed"] == 2
    assert helpdesk_sweep() == {"flag": 0, "close": 0}


def test_the_sweep_leaves_resolved_incidents_without_a_known_issue_ticket_alone(
    zendesk, zendesk_installation
) -> None:
    incident = open_payments_incident()  # never flagged (its events never dispatched)
    resolve(incident)
    assert helpdesk_due() == {"flag": [], "close": []}


# --- 5. reopen ------------------------------------------------------------------------------


def test_a_reopened_incident_reopens_its_problem_and_flags_again(
    zendesk, zendesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    before = zendesk.add_ticket("Payments declined", "Card payments fail")
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_payments_incident(started_at=datetime.now(UTC) - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        resolve(incident)
    problem = problem_of(incident)
    problem_id = int(problem.external_id)
    assert zendesk.tickets[problem_id]["status"] == "solved"
    again = zendesk.add_ticket("Payments failing again", "card payments fail again")
    with django_capture_on_commit_callbacks(execute=True):
        incident_reopen(incident=incident, reason="502s are back", actor=ACTOR)
    problem.refresh_from_db()
    assert problem.closed_at is None and problem.flagged_at is not None
    assert zendesk.tickets[problem_id]["status"] == "open"
    assert "was reopened" in zendesk.comments[problem_id][-1]["body"]
    assert zendesk.tickets[again]["problem_id"] == problem_id
    # New tickets are linked again by the webhook.
    new = zendesk.add_ticket("Payments error on checkout", "card declined")
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(zendesk_installation, {"ticket_id": str(new), "event": "created"})
    assert zendesk.tickets[new]["problem_id"] == problem_id
    with django_capture_on_commit_callbacks(execute=True):
        resolve(incident)
    problem.refresh_from_db()
    assert problem.closed_at is not None
    for ticket in (before, again, new):
        assert zendesk.tickets[ticket]["status"] == "solved"
    assert helpdesk_counts(incident)["flagged"] == 3


def test_a_reopened_incident_whose_problem_is_closed_gets_a_new_one(
    zendesk, zendesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_payments_incident(started_at=datetime.now(UTC) - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        resolve(incident)
    old = problem_of(incident).external_id
    again = zendesk.add_ticket("Payments failing again", "card payments fail again")
    closed = {"error": "RecordInvalid", "description": "Status: closed prevents ticket update"}
    zendesk.answers.append((422, {}, closed))
    with django_capture_on_commit_callbacks(execute=True):
        incident_reopen(incident=incident, reason="502s are back", actor=ACTOR)
    problem = problem_of(incident)
    assert problem.external_id not in ("", old) and problem.flagged_at is not None
    assert zendesk.tickets[int(problem.external_id)]["type"] == "problem"
    assert zendesk.tickets[again]["problem_id"] == int(problem.external_id)
    refused = HelpdeskAction.objects.get(incident=incident, action="problem_reopened")
    assert refused.outcome == "refused" and refused.ticket_id == old
    assert HelpdeskAction.objects.filter(incident=incident, action="problem_replaced").exists()


def test_a_reopen_that_failed_while_the_help_desk_was_down_is_finished_by_the_sweep(
    zendesk, zendesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_payments_incident(started_at=datetime.now(UTC) - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        resolve(incident)
    problem_id = int(problem_of(incident).external_id)
    zendesk.down = True
    with django_capture_on_commit_callbacks(execute=True):
        incident_reopen(incident=incident, reason="502s are back", actor=ACTOR)
    assert HelpdeskAction.objects.filter(
        incident=incident, action="problem_reopened", outcome="failed"
    ).exists()
    assert helpdesk_due() == {"flag": [incident.pk], "close": []}
    zendesk.down = False
    assert helpdesk_sweep() == {"flag": 1, "close": 0}
    assert zendesk.tickets[problem_id]["status"] == "open"
    assert problem_of(incident).closed_at is None
