"""A local stand-in for Freshdesk's REST API v2 on loopback (tickets, notes, replies,
conversations, companies), with Basic auth `<api key>:X`. `answers` are served first, in
order; `down=True` answers 503 to everything."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fake_http import JsonHandler, serve

AGENT_ID = 9


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeFreshdesk:
    url: str = ""
    api_key: str = "fd-key"
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    conversations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    companies: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    down: bool = False
    next_id: int = 100

    def add_ticket(
        self, subject: str, description: str = "", *, requester_id: int = 55, company: str = ""
    ) -> int:
        self.next_id += 1
        company_id = None
        if company:
            company_id = 700 + len(self.companies)
            self.companies[company_id] = {"id": company_id, "name": company}
        self.tickets[self.next_id] = {
            "id": self.next_id,
            "subject": subject,
            "description_text": description or subject,
            "status": 2,
            "priority": 1,
            "requester_id": requester_id,
            "company_id": company_id,
            "tags": [],
            "custom_fields": {},
            "created_at": now_iso(),
            "updated_at": now_iso(),
        }
        self.conversations[self.next_id] = []
        return self.next_id

    def customer_replies(self, ticket_id: int, body: str) -> None:
        self.conversations[ticket_id].append(
            {
                "user_id": self.tickets[ticket_id]["requester_id"],
                "incoming": True,
                "private": False,
                "body_text": body,
                "created_at": now_iso(),
            }
        )


class _Handler(JsonHandler):
    fake: FakeFreshdesk

    content_type = "application/json"

    def _handle(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        raw = self._body()
        body = json.loads(raw) if raw else None
        fake.calls.append((method, parts.path, body))
        if fake.down:
            return self._send(503, {"message": "down"})
        if fake.answers:
            status, headers, answer = fake.answers.pop(0)
            return self._send(status, answer, headers)
        auth = self.headers.get("Authorization", "")
        if auth != "Basic " + base64.b64encode(f"{fake.api_key}:X".encode()).decode():
            return self._send(401, {"code": "invalid_credentials"})
        path = parts.path
        if path == "/api/v2/tickets" and method == "GET":
            since = parse_qs(parts.query).get("updated_since", [""])[0]
            rows = [t for t in fake.tickets.values() if not since or t["updated_at"] >= since]
            return self._send(200, rows)
        if path == "/api/v2/tickets" and method == "POST":
            ticket_id = fake.add_ticket(body["subject"], body.get("description", ""))
            fake.tickets[ticket_id].update({"tags": body.get("tags", []), "requester_id": AGENT_ID})
            return self._send(201, fake.tickets[ticket_id])
        match = re.fullmatch(r"/api/v2/tickets/(\d+)(/notes|/reply|/conversations)?", path)
        if match:
            ticket_id = int(match.group(1))
            if ticket_id not in fake.tickets:
                return self._send(404, {"code": "not_found"})
            ticket, sub = fake.tickets[ticket_id], match.group(2)
            if sub is None and method == "GET":
                return self._send(200, ticket)
            if sub is None and method == "PUT":
                ticket.update(body)
                ticket["updated_at"] = now_iso()
                return self._send(200, ticket)
            if sub == "/conversations":
                return self._send(200, fake.conversations[ticket_id])
            entry = {
                "user_id": AGENT_ID,
                "incoming": False,
                "private": sub == "/notes" and bool(body.get("private", True)),
                "body_text": body["body"],
                "created_at": now_iso(),
            }
            fake.conversations[ticket_id].append(entry)
            return self._send(201, entry)
        match = re.fullmatch(r"/api/v2/companies/(\d+)", path)
        if match and int(match.group(1)) in fake.companies:
            return self._send(200, fake.companies[int(match.group(1))])
        return self._send(404, {"code": "not_found"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


def start_fake_freshdesk() -> tuple[FakeFreshdesk, ThreadingHTTPServer]:
    fake = FakeFreshdesk()
    server = serve(_Handler, fake)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    return fake, server
