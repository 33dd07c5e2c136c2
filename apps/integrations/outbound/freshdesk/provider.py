"""What Clarion does with Freshdesk, behind the same `Helpdesk` interface as Zendesk.

Freshdesk has no problem tickets: the known issue is a tracking ticket (requested by the
installation's e-mail, tagged like the others); matching tickets get the tags and a private
note, answers are replies, and on resolve Clarion comments the tracking ticket and resolves
each linked ticket itself (status 4).

Open is every status but resolved (4) and closed (5): pending (3), waiting on customer (6),
waiting on third party (7) and the account's custom statuses are all unresolved tickets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from apps.integrations.outbound.freshdesk.client import FreshdeskClient
from apps.integrations.outbound.helpdesk import Comment, Helpdesk, Ticket

OPEN, PENDING, RESOLVED, CLOSED = 2, 3, 4, 5
PRIORITY_MEDIUM = 2


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class FreshdeskHelpdesk(Helpdesk):
    label = "Freshdesk"

    def __init__(self, client: FreshdeskClient, *, requester_email: str) -> None:
        self.client = client
        self.requester_email = requester_email
        self._companies: dict[int, str] = {}

    def _company(self, company_id: Any) -> str:
        if not company_id:
            return ""
        key = int(company_id)
        if key not in self._companies:
            company = self.client.request("GET", f"/companies/{key}") or {}
            self._companies[key] = str(company.get("name") or "")
        return self._companies[key]

    def _ticket(self, raw: dict[str, Any]) -> Ticket:
        status = int(raw.get("status") or OPEN)
        custom = raw.get("custom_fields") or {}
        return Ticket(
            id=str(raw["id"]),
            subject=str(raw.get("subject") or ""),
            description=str(raw.get("description_text") or raw.get("description") or ""),
            status=str(status),
            created_at=_time(raw.get("created_at")),
            requester_id=str(raw.get("requester_id") or ""),
            organization=self._company(raw.get("company_id")),
            tags=tuple(raw.get("tags") or ()),
            fields={str(k): "" if v is None else str(v) for k, v in custom.items()},
            is_open=status not in (RESOLVED, CLOSED),
        )

    def create_problem(self, *, subject: str, description: str, tags: Sequence[str]) -> str:
        created = self.client.request(
            "POST",
            "/tickets",
            json={
                "subject": subject,
                "description": description,
                "email": self.requester_email,
                "status": OPEN,
                "priority": PRIORITY_MEDIUM,
                "tags": list(tags),
            },
        )
        return str(created["id"])

    def open_tickets_since(self, since: datetime) -> Iterator[Ticket]:
        iso = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        for raw in self.client.tickets_updated_since(iso):
            ticket = self._ticket(raw)
            if ticket.is_open and ticket.created_at is not None and ticket.created_at >= since:
                yield ticket

    def ticket(self, ticket_id: str) -> Ticket:
        return self._ticket(self.client.request("GET", f"/tickets/{int(ticket_id)}"))

    def link(self, *, ticket_id: str, problem_id: str, tags: Sequence[str], note: str) -> None:
        current = self.client.request("GET", f"/tickets/{int(ticket_id)}") or {}
        merged = list(dict.fromkeys([*(current.get("tags") or []), *tags]))
        self.client.request("PUT", f"/tickets/{int(ticket_id)}", json={"tags": merged})
        self.client.request(
            "POST",
            f"/tickets/{int(ticket_id)}/notes",
            json={"body": f"{note}\n\nTracking ticket: #{problem_id}", "private": True},
        )

    def reply(self, *, ticket_id: str, body: str) -> None:
        self.client.request("POST", f"/tickets/{int(ticket_id)}/reply", json={"body": body})

    def comments(self, ticket_id: str) -> list[Comment]:
        rows = self.client.request("GET", f"/tickets/{int(ticket_id)}/conversations") or []
        return [
            Comment(
                author_id=str(row.get("user_id") or ""),
                public=not row.get("private", False),
                created_at=_time(row.get("created_at")),
                body=str(row.get("body_text") or ""),
            )
            for row in rows
            if isinstance(row, dict)
        ]

    def detach(self, *, ticket_id: str, note: str) -> None:
        self.client.request(
            "POST", f"/tickets/{int(ticket_id)}/notes", json={"body": note, "private": True}
        )

    def resolve_problem(self, *, problem_id: str, comment: str, solve: bool) -> None:
        self.client.request(
            "POST", f"/tickets/{int(problem_id)}/notes", json={"body": comment, "private": False}
        )
        if solve:
            self.client.request("PUT", f"/tickets/{int(problem_id)}", json={"status": RESOLVED})

    def reopen_problem(self, *, problem_id: str, note: str) -> None:
        """The incident is back: the tracking ticket open again, with a private `note`."""
        self.client.request("PUT", f"/tickets/{int(problem_id)}", json={"status": OPEN})
        self.client.request(
            "POST", f"/tickets/{int(problem_id)}/notes", json={"body": note, "private": True}
        )

    def solve(self, *, ticket_id: str, comment: str) -> None:
        self.reply(ticket_id=ticket_id, body=comment)
        self.client.request("PUT", f"/tickets/{int(ticket_id)}", json={"status": RESOLVED})

    def close(self) -> None:
        self.client.close()
