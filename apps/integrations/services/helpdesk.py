"""Help-desk coordination: fewer tickets per incident, and none left open once it is fixed.

- **Flag** (`helpdesk_flag`, when an incident's first external message is published): one
  known-issue ticket for the incident (Zendesk problem: internal subject, public
  description = the canned response), then every open ticket created since the incident
  started that matches (`match_rules_for`) is linked to it, tagged `known_issue` and
  `clarion-incident-<id>` and given an internal note with the canned response. A ticket
  that belongs to another open incident (`ticket_owner`) is left where it is.
- **New tickets** (`helpdesk_ticket_received`, from the webhook): a matching ticket is
  linked the same way and, if the tenant enabled auto-reply, answered with the canned
  response.
- **Close** (`helpdesk_close`, on resolve and on false alarm): tickets whose requester wrote
  after the flag are unlinked and left open for a person; the resolution
  (`resolution_text`: never the in-progress canned response) is posted on the problem,
  which is solved (Zendesk solves its incidents); Clarion then checks every linked ticket
  and solves any still open. A ticket moved to another problem meanwhile is recorded as
  moved and left to it. If the help desk refuses the problem for good (deleted, closed),
  Clarion solves the linked tickets one by one and records why the problem was given up.
  With auto-close off, only the resolution comment is posted.
- **Reopen** (`helpdesk_flag` again, on `incident.reopened`): the known-issue ticket is
  opened again (a new one if the old cannot be) and the flagging runs once more.

Every call is recorded as a `HelpdeskAction` (ticket, action, outcome). A transient failure
(help desk down, 429) is recorded and raised, for the task to retry; the work is idempotent
(one problem per incident, one link per ticket, one reply per link), so a retry redoes only
what is missing. A permanent refusal of the flag or close work itself (credentials refused,
403, 404...) is recorded once and kept on the incident's `HelpdeskProblem` (`refused_at`,
`refusal`); the per-tenant sweep (`helpdesk_due`) leaves it alone until the settings are
saved again, and leaves alone work a task is already on (`queued_at`, `HELPDESK_LEASE`).
One incident's help-desk work runs under a PostgreSQL advisory lock, taken without waiting:
when another task holds it, `HelpdeskBusy` (transient) sends this one to retry later instead
of parking a worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from secrets import token_urlsafe
from typing import TypeVar

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.core.audit import Actor, audit_record
from apps.core.exceptions import PermanentError, TransientError, ValidationFailed
from apps.core.tenancy import tenant_lock_name, tenant_session_lock
from apps.incidents.models import Incident
from apps.integrations.models_support import (
    ActionOutcome,
    HelpdeskAction,
    HelpdeskInstallation,
    HelpdeskProblem,
    HelpdeskProvider,
    HelpdeskTicketLink,
    HelpdeskWebhookDelivery,
    TicketState,
)
from apps.integrations.outbound.freshdesk.client import FreshdeskClient
from apps.integrations.outbound.freshdesk.provider import FreshdeskHelpdesk
from apps.integrations.outbound.helpdesk import Helpdesk, MatchRules, Ticket, ticket_matches
from apps.integrations.outbound.helpdesk import words_of as _words_of
from apps.integrations.outbound.zendesk.client import ZendeskClient
from apps.integrations.outbound.zendesk.provider import ZendeskHelpdesk
from apps.integrations.services.canned import canned_response_for, canned_responses_refresh
from apps.subscribers.models import Customer

T = TypeVar("T")
KNOWN_ISSUE_TAG = "known_issue"
# How long the sweep leaves an incident to the task queued for it (from when that task, or
# its retry, is due): a queue backlog plus one attempt (tasks are killed after 5 minutes).
HELPDESK_LEASE = timedelta(minutes=10)


def incident_tag(incident: Incident) -> str:
    return f"clarion-incident-{incident.pk}"


# --- reads ----------------------------------------------------------------------------------


def helpdesk_installation() -> HelpdeskInstallation | None:
    """The tenant's enabled help desk, if any."""
    return HelpdeskInstallation.objects.filter(enabled=True).first()


def helpdesk_for(installation: HelpdeskInstallation) -> Helpdesk:
    """The provider the tenant picked, with its credentials."""
    if installation.provider == HelpdeskProvider.FRESHDESK:
        client = FreshdeskClient(
            subdomain=installation.subdomain,
            api_key=installation.api_token,
            base_url=installation.api_base_url,
        )
        return FreshdeskHelpdesk(client, requester_email=installation.email)
    return ZendeskHelpdesk(
        ZendeskClient(
            subdomain=installation.subdomain,
            email=installation.email,
            token=installation.api_token,
        )
    )


def affected_customers(incident: Incident) -> QuerySet[Customer]:
    """Active customers with someone subscribed to an affected service, in an affected
    region (or the incident is global, or the customer's region is unknown)."""
    services = incident.affected.values("service_id")
    qs = Customer.objects.filter(active=True).filter(
        Q(subscribers__subscription__all_services=True)
        | Q(subscribers__subscription__services__in=services)
    )
    regions = list(incident.regions.values_list("pk", flat=True))
    if regions:
        qs = qs.filter(Q(region_id__in=regions) | Q(region__isnull=True))
    return qs.distinct()


def match_rules_for(incident: Incident, installation: HelpdeskInstallation) -> MatchRules:
    words = {w.strip().lower() for w in installation.match_keywords if w.strip()}
    if installation.match_incident_terms:
        names = [row.service.name for row in incident.affected.select_related("service")]
        words |= _words_of([incident.title, *names])
    organisations: set[str] = set()
    if installation.match_organisations:
        for name, key in affected_customers(incident).values_list("name", "external_key"):
            organisations.update(v.strip().lower() for v in (name, key) if v and v.strip())
    fields = {
        str(key): frozenset(str(v).strip().lower() for v in (values or []))
        for key, values in (installation.match_fields or {}).items()
    }
    return MatchRules(words=frozenset(words), organisations=frozenset(organisations), fields=fields)


def helpdesk_counts(incident: Incident) -> dict[str, int]:
    """What the incident page shows: tickets flagged, answered, solved by Clarion, and
    left open for a person."""
    counts = HelpdeskTicketLink.objects.filter(incident=incident).aggregate(
        flagged=Count("id"),
        replied=Count("id", filter=Q(replied_at__isnull=False)),
        auto_closed=Count("id", filter=Q(state=TicketState.SOLVED)),
        left_open=Count("id", filter=Q(state=TicketState.LEFT_OPEN)),
    )
    return {k: int(v or 0) for k, v in counts.items()}


def ticket_owner(ticket: Ticket, *, provider: str) -> HelpdeskProblem | None:
    """The known-issue ticket of an open (unresolved) Clarion incident that `ticket` belongs
    to, if any. Zendesk says it (the ticket's problem); Freshdesk has no problems, so it is
    the incident Clarion linked the ticket to last."""
    problems = HelpdeskProblem.objects.filter(
        provider=provider, closed_at__isnull=True, incident__resolved_at__isnull=True
    ).select_related("incident")
    if provider == HelpdeskProvider.ZENDESK:
        if not ticket.problem_id:
            return None
        return problems.filter(external_id=ticket.problem_id).first()
    link = (
        HelpdeskTicketLink.objects.filter(
            ticket_id=ticket.id,
            state=TicketState.LINKED,
            closed_at__isnull=True,
            incident__helpdesk_problem__in=problems,
        )
        .order_by("-flagged_at", "-id")
        .first()
    )
    return problems.filter(incident_id=link.incident_id).first() if link is not None else None


def _known_issue_ticket(ticket: Ticket, *, provider: str) -> bool:
    """Whether `ticket` is one of Clarion's known-issue tickets (never linked to another:
    two incidents on one service would otherwise swallow each other's problem)."""
    return HelpdeskProblem.objects.filter(provider=provider, external_id=ticket.id).exists()


def _points_at(problem: HelpdeskProblem, ticket: Ticket) -> bool:
    """Whether `ticket` still belongs to `problem` (nobody moved it to another one)."""
    if problem.provider == HelpdeskProvider.ZENDESK:
        return ticket.problem_id == problem.external_id
    owner = ticket_owner(ticket, provider=problem.provider)
    return owner is None or owner.pk == problem.pk


# --- the bookkeeping ----------------------------------------------------------------------


def _record(
    incident: Incident | None, ticket_id: str, action: str, outcome: str, detail: str = ""
) -> None:
    HelpdeskAction.objects.create(
        incident=incident, ticket_id=ticket_id, action=action, outcome=outcome, detail=detail[:500]
    )


def _recorded(incident: Incident | None, ticket_id: str, action: str, fn: Callable[[], T]) -> T:
    """`fn()`, recorded; a refusal or a transient failure is recorded and raised."""
    try:
        result = fn()
    except PermanentError as exc:
        _record(incident, ticket_id, action, ActionOutcome.REFUSED, str(exc))
        raise
    except TransientError as exc:
        _record(incident, ticket_id, action, ActionOutcome.FAILED, str(exc))
        raise
    _record(incident, ticket_id, action, ActionOutcome.OK)
    return result


def _attempt(
    incident: Incident | None, ticket_id: str, action: str, fn: Callable[[], T]
) -> T | None:
    """`fn()`, recorded. A permanent refusal is recorded and gives None (the others go on);
    a transient failure is recorded and raised (the task retries)."""
    try:
        result = _recorded(incident, ticket_id, action, fn)
    except PermanentError:
        return None
    return result if result is not None else True  # type: ignore[return-value]


class HelpdeskBusy(TransientError):
    """Another task is working on the incident's help desk: try again later."""


def helpdesk_lock_key(incident_id: int) -> str:
    """The key of the advisory lock of one incident's help-desk work (hashed with
    `hashtextextended(key, 0)`), in the current schema."""
    return tenant_lock_name(f"helpdesk:{incident_id}")


@contextmanager
def _incident_lock(incident_id: int) -> Iterator[None]:
    """One task at a time on one incident's help-desk work (session-level advisory lock:
    the recorded actions commit as they happen). Not waited for: a task finding it taken
    raises `HelpdeskBusy` and retries with backoff, rather than holding a worker (and its
    database connection) until the other one is done."""
    with tenant_session_lock(f"helpdesk:{incident_id}", wait=False) as locked:
        if not locked:
            raise HelpdeskBusy(f"another task is working on incident #{incident_id}'s help desk")
        yield


def _connect(incident: Incident, installation: HelpdeskInstallation) -> Helpdesk:
    """The provider; settings it cannot work with (no API token...) are recorded as refused
    and raised."""
    try:
        return helpdesk_for(installation)
    except PermanentError as exc:
        _record(incident, "", "connected", ActionOutcome.REFUSED, str(exc))
        raise


@contextmanager
def _leased(incident: Incident, installation: HelpdeskInstallation) -> Iterator[None]:
    """The incident's flag or close work. However it ends, the sweep's lease (`queued_at`)
    ends with it, except on a transient failure (raised: the task's retry keeps the lease).
    A permanent refusal, already recorded as the refused action, is kept on the problem with
    its reason and ends the work without raising: see `helpdesk_due` for when it is tried
    again."""
    try:
        yield
    except PermanentError as exc:
        refusal = {"refused_at": timezone.now(), "refusal": str(exc)[:500], "queued_at": None}
        HelpdeskProblem.objects.update_or_create(
            incident=incident,
            defaults=refusal,
            create_defaults={**refusal, "provider": installation.provider},
        )
    else:
        HelpdeskProblem.objects.filter(incident=incident, queued_at__isnull=False).update(
            queued_at=None
        )


# Saved with the problem when its flag or close work is done.
_DONE = {"queued_at": None, "refused_at": None, "refusal": ""}


def _done(problem: HelpdeskProblem, field: str) -> None:
    """`problem.<field>` = now: the work is done; any lease or earlier refusal is over."""
    setattr(problem, field, timezone.now())
    for name, value in _DONE.items():
        setattr(problem, name, value)
    problem.save(update_fields=[field, *_DONE])


def _note(incident: Incident, canned: str) -> str:
    return (
        f"Known issue: Clarion incident #{incident.pk} ({incident.title}). "
        f"Answer with the canned response below; this ticket is solved when the incident is "
        f"resolved.\n\n{canned}"
    )


def _link(
    helpdesk: Helpdesk,
    *,
    problem: HelpdeskProblem,
    ticket: Ticket,
    via: str,
    canned: str,
    reply: bool,
) -> HelpdeskTicketLink | None:
    """Link, tag and note `ticket` once; answer it once if `reply`."""
    incident = problem.incident
    link = HelpdeskTicketLink.objects.filter(incident=incident, ticket_id=ticket.id).first()
    if link is None:
        done = _attempt(
            incident,
            ticket.id,
            "flagged",
            lambda: helpdesk.link(
                ticket_id=ticket.id,
                problem_id=problem.external_id,
                tags=[KNOWN_ISSUE_TAG, incident_tag(incident)],
                note=_note(incident, canned),
            ),
        )
        if done is None:
            return None
        link, _ = HelpdeskTicketLink.objects.get_or_create(
            incident=incident,
            ticket_id=ticket.id,
            defaults={
                "subject": ticket.subject[:300],
                "requester_id": ticket.requester_id,
                "via": via,
            },
        )
    if reply and link.replied_at is None:
        answered = _attempt(
            incident, ticket.id, "replied", lambda: helpdesk.reply(ticket_id=ticket.id, body=canned)
        )
        if answered is not None:
            link.replied_at = timezone.now()
            link.save(update_fields=["replied_at"])
    return link


def _problem(
    helpdesk: Helpdesk, incident: Incident, installation: HelpdeskInstallation, canned: str
) -> HelpdeskProblem:
    """The incident's known-issue ticket, opened once. A refusal is recorded and raised:
    without it there is nothing to flag."""
    problem, _ = HelpdeskProblem.objects.get_or_create(
        incident=incident, defaults={"provider": installation.provider}
    )
    if problem.external_id:
        return problem
    subject = f"[Clarion #{incident.pk}] {incident.internal_title or incident.title}"
    created = _recorded(
        incident,
        "",
        "problem_created",
        lambda: helpdesk.create_problem(
            subject=subject[:250],
            description=canned,
            tags=[KNOWN_ISSUE_TAG, incident_tag(incident)],
        ),
    )
    problem.external_id = str(created)
    problem.save(update_fields=["external_id"])
    HelpdeskAction.objects.filter(incident=incident, action="problem_created", ticket_id="").update(
        ticket_id=problem.external_id
    )
    return problem


# --- use-cases ------------------------------------------------------------------------------


def helpdesk_flag(*, incident_id: int) -> HelpdeskProblem | None:
    """Open the incident's known-issue ticket and flag the open tickets about it (once;
    a second run only does what the first could not). A reopened incident (its problem
    closed, the incident open again) gets its known-issue ticket reopened and is flagged
    again. A resolved incident is not flagged. If the help desk refuses for good (the
    known-issue ticket, the search), the refusal is kept on the problem and None returned;
    a transient failure is raised (the task retries)."""
    installation = helpdesk_installation()
    incident = Incident.objects.filter(pk=incident_id).first()
    if installation is None or incident is None or incident.parent_id is not None:
        return None
    with _incident_lock(incident.pk), _leased(incident, installation):
        existing = HelpdeskProblem.objects.filter(incident=incident).first()
        if incident.resolved_at is not None:
            return existing
        if existing is not None and existing.flagged_at is not None and existing.closed_at is None:
            return existing
        helpdesk = _connect(incident, installation)
        try:
            if existing is not None and existing.closed_at is not None:
                _problem_reopen(helpdesk, existing)
            canned = canned_response_for(incident=incident).text
            problem = _problem(helpdesk, incident, installation, canned)
            rules = match_rules_for(incident, installation)
            if not rules.empty:
                tickets = helpdesk.open_tickets_since(incident.started_at)
                for ticket in _recorded_search(incident, tickets):
                    if not ticket_matches(ticket, rules) or _known_issue_ticket(
                        ticket, provider=problem.provider
                    ):
                        continue
                    owner = ticket_owner(ticket, provider=problem.provider)
                    if owner is not None and owner.pk != problem.pk:
                        _record_once(
                            incident,
                            ticket.id,
                            "skipped",
                            f"already linked to known-issue ticket #{owner.external_id} of "
                            f"open incident #{owner.incident_id}; left there",
                        )
                        continue
                    _link(
                        helpdesk,
                        problem=problem,
                        ticket=ticket,
                        via="search",
                        canned=canned,
                        reply=False,
                    )
            _done(problem, "flagged_at")
            return problem
        finally:
            helpdesk.close()
    return None  # refused for good: kept on the problem by _leased


def _problem_reopen(helpdesk: Helpdesk, problem: HelpdeskProblem) -> None:
    """The incident was reopened: open its known-issue ticket again, or forget it (a new
    one is created) when the help desk refuses for good (deleted, closed), and let the
    flagging run again."""
    incident = problem.incident
    canned_responses_refresh(incident=incident)  # the resolved wording must not be reused
    note = (
        f"Clarion incident #{incident.pk} was reopened: the issue is back. Tickets about it are "
        "linked here again until it is resolved."
    )
    reopened = _attempt(
        incident,
        problem.external_id,
        "problem_reopened",
        lambda: helpdesk.reopen_problem(problem_id=problem.external_id, note=note),
    )
    if reopened is None:
        _record(
            incident,
            problem.external_id,
            "problem_replaced",
            ActionOutcome.OK,
            "the known-issue ticket cannot be reopened: Clarion opens a new one",
        )
        problem.external_id = ""
    problem.closed_at = None
    problem.flagged_at = None
    problem.save(update_fields=["external_id", "closed_at", "flagged_at"])


def _record_once(incident: Incident, ticket_id: str, action: str, detail: str) -> None:
    if not HelpdeskAction.objects.filter(
        incident=incident, ticket_id=ticket_id, action=action
    ).exists():
        _record(incident, ticket_id, action, ActionOutcome.OK, detail)


def _recorded_search(incident: Incident, tickets: Iterator[Ticket]) -> Iterator[Ticket]:
    """The search's tickets; a failure of the search is recorded (and raised)."""
    try:
        yield from tickets
    except (TransientError, PermanentError) as exc:
        outcome = ActionOutcome.FAILED if isinstance(exc, TransientError) else ActionOutcome.REFUSED
        _record(incident, "", "searched", outcome, str(exc))
        raise


def helpdesk_webhook_store(
    *, ticket_id: str, event_key: str, payload: dict[str, object]
) -> HelpdeskWebhookDelivery | None:
    """Store one new-ticket call; None when this event was already stored (a redelivery)."""
    delivery, created = HelpdeskWebhookDelivery.objects.get_or_create(
        event_key=event_key[:200], defaults={"ticket_id": ticket_id[:64], "payload": payload}
    )
    return delivery if created else None


def _candidates_for(ticket: Ticket, *, provider: str) -> list[HelpdeskProblem]:
    """The open incidents a new ticket may be linked to, most severe first: only its own
    when it already belongs to one."""
    problems = (
        HelpdeskProblem.objects.filter(closed_at__isnull=True, incident__resolved_at__isnull=True)
        .exclude(external_id="")
        .select_related("incident")
        .order_by("incident__severity", "-incident__started_at")
    )
    owner = ticket_owner(ticket, provider=provider)
    return [p for p in problems if owner is None or p.pk == owner.pk]


def helpdesk_ticket_received(*, delivery_id: int) -> str:
    """A new ticket while incidents are open: link it to the first open incident it
    matches (most severe first) and answer it if the tenant enabled auto-reply."""
    delivery = HelpdeskWebhookDelivery.objects.filter(pk=delivery_id).first()
    installation = helpdesk_installation()
    if delivery is None or installation is None:
        return "nothing to do"
    if delivery.processed_at is not None:
        return delivery.result
    helpdesk = helpdesk_for(installation)
    try:
        ticket = _attempt(
            None, delivery.ticket_id, "fetched", lambda: helpdesk.ticket(delivery.ticket_id)
        )
        result = "ticket not found" if ticket is None else "no open incident matches"
        candidates: list[HelpdeskProblem] = []
        if isinstance(ticket, Ticket) and ticket.is_open:
            if _known_issue_ticket(ticket, provider=installation.provider):
                result = "one of Clarion's known-issue tickets"
            else:
                candidates = _candidates_for(ticket, provider=installation.provider)
        for problem in candidates:
            assert isinstance(ticket, Ticket)
            incident = problem.incident
            if ticket.id == problem.external_id or not ticket_matches(
                ticket, match_rules_for(incident, installation)
            ):
                continue
            with _incident_lock(incident.pk):
                canned = canned_response_for(incident=incident).text
                link = _link(
                    helpdesk,
                    problem=problem,
                    ticket=ticket,
                    via="webhook",
                    canned=canned,
                    reply=installation.auto_reply,
                )
            result = f"linked to incident #{incident.pk}" if link else "link refused"
            break
    finally:
        helpdesk.close()
    delivery.processed_at = timezone.now()
    delivery.result = result
    delivery.save(update_fields=["processed_at", "result"])
    return result


def _replied_after_flag(helpdesk: Helpdesk, link: HelpdeskTicketLink) -> bool:
    comments = _attempt(
        link.incident, link.ticket_id, "checked_replies", lambda: helpdesk.comments(link.ticket_id)
    )
    if not comments:
        return False
    return any(
        c.public
        and c.author_id == link.requester_id
        and c.created_at is not None
        and c.created_at > link.flagged_at
        for c in comments
    )


def _and(names: list[str]) -> str:
    if not names:
        return "our services"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _resolved_body(incident: Incident) -> str:
    update = (
        incident.updates.filter(status="resolved")
        .exclude(body="")
        .order_by("-display_at", "-id")
        .first()
    )
    return update.body if update is not None else ""


def resolution_text(incident: Incident) -> str:
    """What the tickets are solved with: the false-alarm notice, the public resolution
    message, for a child resolved with its parent the parent's, else a plain all-clear.
    Never the canned response, which says the team is still working on it."""
    services = _and([row.service.name for row in incident.affected.select_related("service")])
    if incident.false_alarm:
        return (
            "Thank you for your patience. After checking, this turned out to be a false alarm: "
            f"{services} worked normally. There is nothing you need to do; if something still "
            "looks wrong, reply to this ticket."
        )
    body = _resolved_body(incident)
    if body:
        return body
    all_clear = (
        f"The issue affecting {services} is resolved and everything works normally again. "
        "Thank you for your patience; if you still see a problem, reply to this ticket."
    )
    parent = incident.parent
    if parent is not None:
        return f"This issue was resolved together with {parent.title}.\n\n" + (
            _resolved_body(parent) or all_clear
        )
    return all_clear


def _open_links(incident: Incident) -> QuerySet[HelpdeskTicketLink]:
    return incident.helpdesk_tickets.filter(state=TicketState.LINKED, closed_at__isnull=True)


def helpdesk_close(*, incident_id: int) -> HelpdeskProblem | None:
    """Close the loop on resolve or false alarm (see the module docstring)."""
    installation = helpdesk_installation()
    incident = Incident.objects.filter(pk=incident_id).first()
    if installation is None or incident is None or incident.resolved_at is None:
        return None
    with _incident_lock(incident.pk), _leased(incident, installation):
        problem = HelpdeskProblem.objects.filter(incident=incident).exclude(external_id="").first()
        if problem is None or problem.closed_at is not None:
            return problem
        helpdesk = _connect(incident, installation)
        try:
            if installation.auto_close:
                for link in list(_open_links(incident)):
                    if _replied_after_flag(helpdesk, link):
                        _leave_open(helpdesk, problem, link)
            text = resolution_text(incident)
            refusal = ""
            try:
                _recorded(
                    incident,
                    problem.external_id,
                    "resolution_posted",
                    lambda: helpdesk.resolve_problem(
                        problem_id=problem.external_id, comment=text, solve=installation.auto_close
                    ),
                )
            except PermanentError as exc:
                refusal = str(exc) or "no reason given"
            if installation.auto_close:
                # Refused (deleted, closed): the help desk solves nothing with the problem,
                # so every ticket is solved here, one by one.
                for link in _open_links(incident):
                    _solve_one(helpdesk, problem, link, text, with_problem=not refusal)
            if refusal:
                _record(
                    incident,
                    problem.external_id,
                    "problem_given_up",
                    ActionOutcome.REFUSED,
                    f"The known-issue ticket refused the resolution ({refusal}); "
                    + (
                        "Clarion solved the linked tickets itself"
                        if installation.auto_close
                        else "auto-close is off: the linked tickets are left as they are"
                    )
                    + " and stops retrying.",
                )
            _done(problem, "closed_at")
            return problem
        finally:
            helpdesk.close()
    return None  # refused for good (settings it cannot work with): kept by _leased


def _fetched(helpdesk: Helpdesk, link: HelpdeskTicketLink) -> Ticket | None:
    ticket = _attempt(
        link.incident, link.ticket_id, "verified", lambda: helpdesk.ticket(link.ticket_id)
    )
    return ticket if isinstance(ticket, Ticket) else None


def _moved_elsewhere(problem: HelpdeskProblem, link: HelpdeskTicketLink, ticket: Ticket) -> bool:
    """True (and recorded, the link finished) when someone moved the ticket off the
    incident's known-issue ticket: its new owner answers it, not this resolution."""
    if _points_at(problem, ticket):
        return False
    where = f"problem #{ticket.problem_id}" if ticket.problem_id else "no problem"
    owner = ticket_owner(ticket, provider=problem.provider)
    if owner is not None:
        where = f"known-issue ticket #{owner.external_id} of incident #{owner.incident_id}"
    _record(
        link.incident,
        link.ticket_id,
        "moved",
        ActionOutcome.OK,
        f"now linked to {where}, not to #{problem.external_id}: not solved with this incident",
    )
    link.closed_at = timezone.now()
    link.save(update_fields=["closed_at"])
    return True


def _leave_open(helpdesk: Helpdesk, problem: HelpdeskProblem, link: HelpdeskTicketLink) -> None:
    """The customer wrote after the flag: unlink the ticket for a person (unless it was
    moved to another problem, which keeps it)."""
    ticket = _fetched(helpdesk, link)
    if ticket is None or _moved_elsewhere(problem, link, ticket):
        return
    detached = _attempt(
        link.incident,
        link.ticket_id,
        "left_open",
        lambda: helpdesk.detach(
            ticket_id=link.ticket_id,
            note="The customer wrote after this ticket was flagged as a known issue: Clarion "
            "leaves it open for a person.",
        ),
    )
    if detached is not None:
        link.state = TicketState.LEFT_OPEN
        link.save(update_fields=["state"])


def _solve_one(
    helpdesk: Helpdesk,
    problem: HelpdeskProblem,
    link: HelpdeskTicketLink,
    text: str,
    *,
    with_problem: bool,
) -> None:
    """Check a linked ticket; solve it if the problem did not already (and it is still
    the incident's)."""
    ticket = _fetched(helpdesk, link)
    if ticket is None or _moved_elsewhere(problem, link, ticket):
        return
    if ticket.is_open:
        solved = _attempt(
            link.incident,
            link.ticket_id,
            "auto_closed",
            lambda: helpdesk.solve(ticket_id=link.ticket_id, comment=text),
        )
        if solved is None:
            return
    else:
        _record(
            link.incident,
            link.ticket_id,
            "auto_closed",
            ActionOutcome.OK,
            "solved with the problem" if with_problem else "already solved in the help desk",
        )
    link.state = TicketState.SOLVED
    link.closed_at = timezone.now()
    link.save(update_fields=["state", "closed_at"])


def _idle(now: datetime) -> Q:
    """No task on the incident's help-desk work (none queued, or its lease is over) and no
    refusal kept (true as well of an incident without a problem row)."""
    return Q(helpdesk_problem__refused_at__isnull=True) & (
        Q(helpdesk_problem__queued_at__isnull=True)
        | Q(helpdesk_problem__queued_at__lte=now - HELPDESK_LEASE)
    )


def helpdesk_due(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Incidents whose help-desk work is unfinished and that no task is on: published but
    not flagged (or reopened, their problem still closed), resolved but not closed. For the
    per-tenant sweep, which claims each (`helpdesk_claim`) before queueing its task.

    Left out:
    - work a task is on: queued by the sweep, or retrying after a transient failure, until
      `HELPDESK_LEASE` after that task (or its retry) is due. A task out of retries ends
      its lease, and the next sweep starts one new chain.
    - work the help desk refused for good (`refused_at`: credentials refused, 403, 404...).
      The sweep tries it again only after the help-desk settings are saved again
      (`helpdesk_installation_save` clears every refusal: the way a person says "try
      again"). The incident's own events (published, reopened, resolved) still queue it."""
    if helpdesk_installation() is None:
        return {"flag": [], "close": []}
    idle = _idle(now or timezone.now())
    published = Incident.objects.filter(
        parent__isnull=True,
        customer_impact_confirmed=True,
        messages__state__in=("sending", "sent"),
        false_alarm=False,
    )
    flag = (
        published.filter(
            Q(helpdesk_problem__isnull=True)
            | Q(helpdesk_problem__flagged_at__isnull=True)
            | Q(helpdesk_problem__closed_at__isnull=False)
        )
        .filter(idle, resolved_at__isnull=True)
        .values_list("pk", flat=True)
        .distinct()
    )
    close = (
        Incident.objects.filter(
            resolved_at__isnull=False,
            helpdesk_problem__isnull=False,
            helpdesk_problem__closed_at__isnull=True,
        )
        .filter(idle)
        .exclude(helpdesk_problem__external_id="")
        .values_list("pk", flat=True)
    )
    return {"flag": sorted(flag), "close": sorted(close)}


def helpdesk_claim(*, incident_id: int, now: datetime | None = None) -> bool:
    """The sweep's claim on a due incident (`helpdesk_due`): True, and its problem row
    (created if need be) leased (`queued_at` = now), when no task is on it and nothing was
    refused; the caller then queues the task. One conditional UPDATE, so two overlapping
    ticks cannot both queue it."""
    installation = helpdesk_installation()
    if installation is None:
        return False
    now = now or timezone.now()
    problem, _ = HelpdeskProblem.objects.get_or_create(
        incident_id=incident_id, defaults={"provider": installation.provider}
    )
    free = Q(queued_at__isnull=True) | Q(queued_at__lte=now - HELPDESK_LEASE)
    claimed = HelpdeskProblem.objects.filter(free, pk=problem.pk, refused_at__isnull=True).update(
        queued_at=now
    )
    return claimed == 1


def helpdesk_requeued(*, incident_id: int, due_at: datetime | None) -> None:
    """A flag or close task of the incident failed for now. `due_at`: its retry is queued
    for then, and the sweep leaves the incident to it (until `HELPDESK_LEASE` after). None:
    it ran out of retries; its lease ends and the next sweep queues the work again."""
    if due_at is None:
        HelpdeskProblem.objects.filter(incident_id=incident_id).update(queued_at=None)
        return
    installation = helpdesk_installation()
    # A task may fail before the problem row exists (it found the incident busy): the
    # lease needs the row all the same. Children have none (their parent is coordinated).
    if (
        installation is None
        or not Incident.objects.filter(pk=incident_id, parent__isnull=True).exists()
    ):
        return
    HelpdeskProblem.objects.update_or_create(
        incident_id=incident_id,
        defaults={"queued_at": due_at},
        create_defaults={"queued_at": due_at, "provider": installation.provider},
    )


HELPDESK_SECRETS = ("api_token", "webhook_secret")


@transaction.atomic
def helpdesk_installation_save(
    *, installation: HelpdeskInstallation, secrets: dict[str, str], actor: Actor
) -> HelpdeskInstallation:
    """Save the tenant's one help-desk installation; `secrets` (api_token, webhook_secret)
    replace the stored ones only when given (they are never shown back). Saving is also
    how a person asks Clarion to try again: every refusal kept on an incident's problem
    (credentials refused...) is cleared, and the next sweep retries that work once."""
    errors: dict[str, list[str]] = {}
    if not installation.subdomain.strip():
        errors["subdomain"] = ["Give the account's subdomain, e.g. acme for acme.zendesk.com."]
    if not installation.email.strip():
        errors["email"] = [
            "Zendesk: the agent whose API token this is. Freshdesk: the requester of the "
            "tracking tickets."
        ]
    for name, value in secrets.items():
        if value and any(c.isspace() for c in value.strip()):
            errors[name] = ["A secret has no spaces; paste it again without them."]
    if errors:
        raise ValidationFailed("The help desk cannot be saved.", fields=errors)
    installation.pk = HelpdeskInstallation.singleton_pk
    if not installation.webhook_token:
        installation.webhook_token = token_urlsafe(24)
    for name, value in secrets.items():
        if value.strip():
            setattr(installation, name, value.strip())
    installation.save()
    HelpdeskProblem.objects.filter(refused_at__isnull=False).update(refused_at=None, refusal="")
    audit_record(
        actor=actor,
        action="helpdesk.installed",
        obj=installation,
        details={"provider": installation.provider},
    )
    return installation
