"""What Clarion does with Zendesk: a problem ticket per incident, matching tickets linked to
it as incidents with the known-issue tags and an internal note, public replies, and on
resolve a public comment and the problem solved (Zendesk then solves its incidents)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from zenpy.lib.api_objects import Comment as ZComment
from zenpy.lib.api_objects import Ticket as ZTicket

from apps.core.exceptions import PermanentError
from apps.integrations.outbound.helpdesk import Comment, Helpdesk, Ticket
from apps.integrations.outbound.zendesk.client import ZendeskClient

OPEN_STATUSES = ("new", "open", "pending", "hold")


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _id(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise PermanentError(f"{value!r} is not a Zendesk ticket id.") from exc


class ZendeskHelpdesk(Helpdesk):
    label = "Zendesk"

    def __init__(self, client: ZendeskClient) -> None:
        self.client = client
        self._organizations: dict[int, str] = {}

    def _organization(self, organization_id: Any) -> str:
        if not organization_id:
            return ""
        key = int(organization_id)
        if key not in self._organizations:
            self._organizations[key] = self.client.organization_name(key)
        return self._organizations[key]

    def _ticket(self, raw: Any) -> Ticket:
        fields = {
            str(f.get("id")): "" if f.get("value") is None else str(f.get("value"))
            for f in (getattr(raw, "custom_fields", None) or [])
            if isinstance(f, dict)
        }
        status = str(getattr(raw, "status", "") or "")
        return Ticket(
            id=str(raw.id),
            subject=str(getattr(raw, "subject", "") or ""),
            description=str(getattr(raw, "description", "") or ""),
            status=status,
            created_at=_time(getattr(raw, "created_at", None)),
            requester_id=str(getattr(raw, "requester_id", "") or ""),
            organization=self._organization(getattr(raw, "organization_id", None)),
            tags=tuple(getattr(raw, "tags", None) or ()),
            fields=fields,
            problem_id=str(getattr(raw, "problem_id", "") or ""),
            is_open=status in OPEN_STATUSES,
        )

    def create_problem(self, *, subject: str, description: str, tags: Sequence[str]) -> str:
        audit = self.client.create(
            ZTicket(
                subject=subject,
                type="problem",
                tags=list(tags),
                comment=ZComment(body=description, public=True),
            )
        )
        return str(audit.ticket.id)

    def open_tickets_since(self, since: datetime) -> Iterator[Ticket]:
        iso = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        for raw in self.client.search_open_since(iso):
            ticket = self._ticket(raw)
            if ticket.is_open and (ticket.created_at is None or ticket.created_at >= since):
                yield ticket

    def ticket(self, ticket_id: str) -> Ticket:
        return self._ticket(self.client.show(_id(ticket_id)))

    def link(self, *, ticket_id: str, problem_id: str, tags: Sequence[str], note: str) -> None:
        self.client.update(
            _id(ticket_id),
            type="incident",
            problem_id=_id(problem_id),
            additional_tags=list(tags),
            comment=(note, False),
        )

    def reply(self, *, ticket_id: str, body: str) -> None:
        self.client.update(_id(ticket_id), comment=(body, True))

    def comments(self, ticket_id: str) -> list[Comment]:
        return [
            Comment(
                author_id=str(getattr(c, "author_id", "") or ""),
                public=bool(getattr(c, "public", True)),
                created_at=_time(getattr(c, "created_at", None)),
                body=str(getattr(c, "body", "") or ""),
            )
            for c in self.client.comments(_id(ticket_id))
        ]

    def detach(self, *, ticket_id: str, note: str) -> None:
        self.client.update(_id(ticket_id), type="question", problem_id=None, comment=(note, False))

    def resolve_problem(self, *, problem_id: str, comment: str, solve: bool) -> None:
        fields: dict[str, Any] = {"comment": (comment, True)}
        if solve:
            fields["status"] = "solved"
        self.client.update(_id(problem_id), **fields)

    def reopen_problem(self, *, problem_id: str, note: str) -> None:
        """The incident is back: the problem open again, with an internal `note`. Zendesk
        refuses (422) to reopen a ticket that is already closed."""
        self.client.update(_id(problem_id), status="open", comment=(note, False))

    def solve(self, *, ticket_id: str, comment: str) -> None:
        self.client.update(_id(ticket_id), status="solved", comment=(comment, True))

    def close(self) -> None:
        self.client.close()
