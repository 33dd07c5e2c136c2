"""A local stand-in for Slack incoming webhooks and Microsoft Teams webhooks on loopback.

It records each JSON post and answers with the (status, body) pairs it is told to, in
order, then its `ok` answer: Slack's `200 ok`, or Teams Workflows' `202` with an empty body.
Slack's refusals look like Slack's: `404 no_service`, `410 channel_is_archived`,
`429 rate_limited` (with `Retry-After`), `500 rollup_error`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    json: Any


@dataclass
class FakeChat:
    url: str = ""
    ok: tuple[int, str] = (200, "ok")
    received: list[Post] = field(default_factory=list)
    answers: list[tuple[int, str]] = field(default_factory=list)


def start_fake_chat(ok: tuple[int, str] = (200, "ok")) -> tuple[FakeChat, ThreadingHTTPServer]:
    fake = FakeChat(ok=ok)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            fake.received.append(Post(self.path, dict(self.headers.items()), json.loads(raw)))
            status, text = fake.answers.pop(0) if fake.answers else fake.ok
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if status == 429:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server
