"""A local stand-in for Twilio's Messages API on loopback, for the real `twilio` client.

It checks HTTP Basic auth (account SID / auth token), records each form post (`To`, `From`,
`Body`) and answers with the statuses it is told to, in order, then 201: 201 with a message
resource (`sid` SM...), 400 with Twilio's error 21211 (invalid 'To'), 429 (error 20429) or
503 with a non-JSON body, as Twilio's edge does.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-auth-token"
FROM_NUMBER = "+15005550006"
_PATH = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Messages\.json$")


@dataclass
class Sms:
    account: str
    form: dict[str, str]


@dataclass
class FakeTwilio:
    url: str = ""
    received: list[Sms] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering (timeouts)
    unauthorised: int = 0


def _error(status: int, to: str) -> tuple[int, bytes, str]:
    if status >= 500:
        return status, b"<html>Service Unavailable</html>", "text/html"
    if status == 429:
        code, message = 20429, "Too Many Requests"
    else:
        code, message = 21211, f"The 'To' number {to} is not a valid phone number."
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return status, json.dumps(body).encode(), "application/json"


def start_fake_twilio() -> tuple[FakeTwilio, ThreadingHTTPServer]:
    fake = FakeTwilio()
    counter = iter(range(1, 1_000_000))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            match = _PATH.match(self.path)
            expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
            if match is None or self.headers.get("Authorization") != expected:
                fake.unauthorised += 1
                self._answer(401, json.dumps({"code": 20003, "message": "Authenticate"}).encode())
                return
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            if fake.delay:
                time.sleep(fake.delay)
            fake.received.append(Sms(account=match.group(1), form=form))
            status = fake.statuses.pop(0) if fake.statuses else 201
            if status != 201:
                self._answer(*_error(status, form.get("To", "")))
                return
            sid = f"SM{next(counter):032x}"
            resource = {
                "sid": sid,
                "account_sid": match.group(1),
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{match.group(1)}/Messages/{sid}.json",
            }
            self._answer(201, json.dumps(resource).encode())

        def _answer(self, status: int, body: bytes, content_type: str = "application/json"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server
