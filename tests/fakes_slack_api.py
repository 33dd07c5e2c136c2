"""A local stand-in for Slack's Web API on loopback, for slack_sdk's `WebClient(base_url=...)`:
`conversations.create`, `conversations.invite`, `conversations.list`, `chat.postMessage`.
It checks the bot token (`Authorization: Bearer xoxb-...`), records every call and serves
`answers` first, in order (e.g. `(429, {"Retry-After": "1"}, {"ok": False, ...})`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.fake_http import JsonHandler, serve


@dataclass
class FakeSlackApi:
    url: str = ""
    token: str = "xoxb-test-token"
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        return [
            args
            for method, args in self.calls
            if method == "chat.postMessage" and (channel is None or args.get("channel") == channel)
        ]


class _Handler(JsonHandler):
    fake: FakeSlackApi

    def do_POST(self) -> None:
        fake = self.fake
        method = self.path.strip("/").split("/")[-1]
        raw = self._body().decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            args = json.loads(raw or "{}")
        else:
            args = {k: v[0] for k, v in parse_qs(raw).items()}
        fake.calls.append((method, args))
        if fake.answers:
            status, headers, answer = fake.answers.pop(0)
            return self._send(status, answer, headers)
        if self.headers.get("Authorization") != f"Bearer {fake.token}":
            return self._send(200, {"ok": False, "error": "invalid_auth"})
        if method == "conversations.create":
            name = args["name"]
            if any(c["name"] == name for c in fake.channels.values()):
                return self._send(200, {"ok": False, "error": "name_taken"})
            channel_id = f"C{len(fake.channels) + 100:08d}"
            fake.channels[channel_id] = {"id": channel_id, "name": name, "members": []}
            return self._send(200, {"ok": True, "channel": fake.channels[channel_id]})
        if method == "conversations.list":
            return self._send(200, {"ok": True, "channels": list(fake.channels.values())})
        if method == "conversations.invite":
            channel = fake.channels.get(args.get("channel", ""))
            if channel is None:
                return self._send(200, {"ok": False, "error": "channel_not_found"})
            users = args["users"] if isinstance(args["users"], list) else args["users"].split(",")
            channel["members"].extend(users)
            return self._send(200, {"ok": True, "channel": channel})
        if method == "chat.postMessage":
            return self._send(
                200, {"ok": True, "channel": args.get("channel"), "ts": f"{len(fake.calls)}.0001"}
            )
        return self._send(200, {"ok": False, "error": "unknown_method"})


def start_fake_slack_api() -> tuple[FakeSlackApi, ThreadingHTTPServer]:
    fake = FakeSlackApi()
    server = serve(_Handler, fake)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    return fake, server
