"""Local stand-ins, on loopback, for the HTTP APIs behind the broadcast channels:

- X: `POST /2/tweets` with a bearer token -> `201 {"data": {"id", "text"}}`; X's refusal of
  a repeated text is `403` "You are not allowed to create a Tweet with duplicate content.";
- LinkedIn: `POST /rest/posts` with a bearer token, `LinkedIn-Version` and
  `X-Restli-Protocol-Version: 2.0.0` -> `201`, empty body, the post URN in `x-restli-id`
  (`400` without the version headers, as LinkedIn answers);
- Customer.io: `POST /v1/campaigns/<id>/triggers` with the App API key as bearer token ->
  `200 {"id": <trigger id>}`.

A wrong token gets `401`. `answers` queues (status, body) pairs returned before the normal
answer (429, 503...). Every request is recorded.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "fake-social-token"


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    json: Any


@dataclass
class FakeSocial:
    url: str = ""
    received: list[Request] = field(default_factory=list)
    answers: list[tuple[int, str]] = field(default_factory=list)
    posted: set[str] = field(default_factory=set)

    def to(self, prefix: str) -> list[Request]:
        return [r for r in self.received if r.path.startswith(prefix)]


def start_fake_social() -> tuple[FakeSocial, ThreadingHTTPServer]:
    fake = FakeSocial()
    counter = iter(range(1445880548472328192, 1445880548472338192))

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
            raw = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            payload = json.loads(raw) if raw else None
            fake.received.append(Request(self.path, dict(self.headers.items()), payload))
            if fake.answers:
                status, text = fake.answers.pop(0)
                self._answer(status, {"title": text, "detail": text, "status": status})
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"title": "Unauthorized", "status": 401})
                return
            if self.path == "/2/tweets":
                text = payload["text"]
                if text in fake.posted:
                    detail = "You are not allowed to create a Tweet with duplicate content."
                    self._answer(403, {"detail": detail, "status": 403})
                    return
                fake.posted.add(text)
                self._answer(201, {"data": {"id": str(next(counter)), "text": text}})
            elif self.path == "/rest/posts":
                if not self.headers.get("LinkedIn-Version") or (
                    self.headers.get("X-Restli-Protocol-Version") != "2.0.0"
                ):
                    self._answer(400, {"message": "A version header is missing.", "status": 400})
                    return
                urn = f"urn:li:share:{next(counter)}"
                self._answer(201, None, {"x-restli-id": urn})
            elif self.path.startswith("/v1/campaigns/") and self.path.endswith("/triggers"):
                self._answer(200, {"id": next(counter) % 1000})
            else:
                self._answer(404, {"message": "not found"})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server
