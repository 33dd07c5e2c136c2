"""A local stand-in for the Zendesk Support API on loopback, for zenpy.

zenpy is pointed at it with `ZENPY_FORCE_NETLOC=127.0.0.1:<port>` and
`ZENPY_FORCE_SCHEME=http`. It keeps tickets, comments and organisations in memory and
answers what Clarion calls: search (`type:ticket status<solved created>...`), show, create,
update (status, type, problem_id, tags / additional_tags, comment), comments and
organisations. Solving a problem solves its incidents, as Zendesk does. `answers` are
served first, in order (e.g. `(429, {"Retry-After": "1"}, {...})`); `down=True` answers 503
to everything.

For the demo: `python -m tests.fakes_zendesk --port 8765` serves a few open tickets (see
apps/integrations/outbound/zendesk/README.md).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fake_http import JsonHandler, serve

AGENT_ID = 1


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    auth: str


@dataclass
class FakeZendesk:
    netloc: str = ""
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    organizations: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    down: bool = False
    next_id: int = 1000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_org(self, name: str) -> int:
        org_id = 500 + len(self.organizations)
        self.organizations[org_id] = {"id": org_id, "name": name}
        return org_id

    def add_ticket(
        self,
        subject: str,
        description: str = "",
        *,
        requester_id: int = 77,
        organization_id: int | None = None,
        created_at: str | None = None,
        status: str = "open",
        custom_fields: dict[str, str] | None = None,
    ) -> int:
        with self.lock:
            self.next_id += 1
            ticket_id = self.next_id
        self.tickets[ticket_id] = {
            "id": ticket_id,
            "subject": subject,
            "description": description or subject,
            "status": status,
            "type": "question",
            "requester_id": requester_id,
            "submitter_id": requester_id,
            "organization_id": organization_id,
            "created_at": created_at or now_iso(),
            "updated_at": created_at or now_iso(),
            "tags": [],
            "problem_id": None,
            "custom_fields": [{"id": int(k), "value": v} for k, v in (custom_fields or {}).items()],
        }
        self.comments[ticket_id] = [
            {
                "id": ticket_id * 10,
                "author_id": requester_id,
                "public": True,
                "body": description or subject,
                "created_at": created_at or now_iso(),
            }
        ]
        return ticket_id

    def customer_replies(self, ticket_id: int, body: str, at: str | None = None) -> None:
        ticket = self.tickets[ticket_id]
        self.comments[ticket_id].append(
            {
                "id": ticket_id * 10 + len(self.comments[ticket_id]),
                "author_id": ticket["requester_id"],
                "public": True,
                "body": body,
                "created_at": at or now_iso(),
            }
        )

    def writes(self, method: str = "PUT") -> list[Call]:
        return [c for c in self.calls if c.method == method]


_CREATED = re.compile(r"created>(\S+)")


def _parse_time(value: str) -> datetime:
    if len(value) == 10:
        value += "T00:00:00Z"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class _Handler(JsonHandler):
    fake: FakeZendesk

    def _handle(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        raw = self._body()
        body = json.loads(raw) if raw else None
        auth = self.headers.get("Authorization", "")
        fake.calls.append(Call(method, parts.path, parse_qs(parts.query), body, auth))
        if fake.down:
            return self._send(503, {"error": "Service Unavailable"})
        if fake.answers:
            status, headers, answer = fake.answers.pop(0)
            return self._send(status, answer, headers)
        if not auth.startswith("Basic "):
            return self._send(401, {"error": "Couldn't authenticate you"})
        user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        if not user.endswith("/token"):
            return self._send(401, {"error": "Couldn't authenticate you"})
        path = parts.path
        if method == "GET" and path == "/api/v2/search.json":
            return self._search(unquote(parse_qs(parts.query).get("query", [""])[0]))
        if method == "POST" and path == "/api/v2/tickets.json":
            return self._create(body["ticket"])
        match = re.fullmatch(r"/api/v2/tickets/(\d+)(/comments)?\.json", path)
        if match and int(match.group(1)) not in fake.tickets:
            return self._send(404, {"error": "RecordNotFound", "description": "Not found"})
        if match and method == "GET" and match.group(2):
            return self._send(
                200,
                {"comments": fake.comments[int(match.group(1))], "next_page": None, "count": 0},
            )
        if match and method == "GET":
            return self._send(200, {"ticket": fake.tickets[int(match.group(1))]})
        if match and method == "PUT":
            return self._update(int(match.group(1)), body["ticket"])
        match = re.fullmatch(r"/api/v2/organizations/(\d+)\.json", path)
        if match and method == "GET":
            org = fake.organizations.get(int(match.group(1)))
            if org is None:
                return self._send(404, {"error": "RecordNotFound", "description": "Not found"})
            return self._send(200, {"organization": org})
        return self._send(404, {"error": "InvalidEndpoint", "description": path})

    def _search(self, query: str) -> None:
        fake = self.fake
        since = _CREATED.search(query)
        found = []
        for ticket in fake.tickets.values():
            if "status<solved" in query and ticket["status"] in ("solved", "closed"):
                continue
            if since and _parse_time(ticket["created_at"]) <= _parse_time(since.group(1)):
                continue
            found.append({**ticket, "result_type": "ticket"})
        self._send(200, {"results": found, "next_page": None, "count": len(found)})

    def _create(self, data: dict[str, Any]) -> None:
        fake = self.fake
        comment = data.get("comment") or {}
        ticket_id = fake.add_ticket(
            data.get("subject", ""), comment.get("body", ""), requester_id=AGENT_ID
        )
        ticket = fake.tickets[ticket_id]
        ticket.update({"type": data.get("type", "question"), "tags": list(data.get("tags") or [])})
        fake.comments[ticket_id][0]["public"] = comment.get("public", True)
        self._send(201, {"ticket": ticket, "audit": {"id": ticket_id * 7, "events": []}})

    def _update(self, ticket_id: int, data: dict[str, Any]) -> None:
        fake = self.fake
        ticket = fake.tickets[ticket_id]
        for key in ("status", "type", "problem_id", "subject"):
            if key in data:
                ticket[key] = data[key]
        if "tags" in data:
            ticket["tags"] = list(data["tags"])
        for tag in data.get("additional_tags") or []:
            if tag not in ticket["tags"]:
                ticket["tags"].append(tag)
        if data.get("comment"):
            fake.comments[ticket_id].append(
                {
                    "id": ticket_id * 10 + len(fake.comments[ticket_id]),
                    "author_id": AGENT_ID,
                    "public": data["comment"].get("public", True),
                    "body": data["comment"].get("body", ""),
                    "created_at": now_iso(),
                }
            )
        ticket["updated_at"] = now_iso()
        if ticket["type"] == "problem" and ticket["status"] == "solved":
            for other in fake.tickets.values():  # Zendesk solves a problem's incidents
                if other.get("problem_id") == ticket_id and other["status"] != "closed":
                    other["status"] = "solved"
        self._send(200, {"ticket": ticket, "audit": {"id": ticket_id * 7, "events": []}})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


def start_fake_zendesk(port: int = 0) -> tuple[FakeZendesk, ThreadingHTTPServer]:
    fake = FakeZendesk()
    server = serve(_Handler, fake, port)
    fake.netloc = f"127.0.0.1:{server.server_address[1]}"
    return fake, server


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake Zendesk API for the Clarion demo.")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    fake, server = start_fake_zendesk(args.port)
    acme = fake.add_org("Initech")
    fake.add_ticket("Checkout fails with a payment error", "Payments are failing since 10am.")
    fake.add_ticket("Cannot log in", "The login page spins forever.", organization_id=acme)
    fake.add_ticket("Invoice question", "Where do I find last month's invoice?")
    print(f"fake Zendesk on http://{fake.netloc}/ ({len(fake.tickets)} open tickets)")
    print(f"export ZENPY_FORCE_NETLOC={fake.netloc} ZENPY_FORCE_SCHEME=http")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
