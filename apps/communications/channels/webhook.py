"""Outgoing webhooks to a subscriber's endpoint, signed per the Standard Webhooks spec.

Headers: `webhook-id` (the delivery's idempotency key: a receiver can drop a resend),
`webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">` keyed with the subscriber's `whsec_<base64>` secret. The body follows
Atlassian Statuspage's webhook shape: `meta`, `page` and `incident` (maintenance windows
travel as incidents with impact `maintenance`, as Statuspage does).

A 2xx answer is delivered; 429, 5xx, timeouts and connection errors are retried; any other
4xx is permanent (the endpoint refused it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator, Sequence

import requests

from apps.communications.channels.base import Capabilities, Channel, Outgoing, SendResult
from apps.communications.choices import AttemptOutcome

TIMEOUT_SECONDS = 10


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookChannel(Channel):
    key = "webhook"
    capabilities = Capabilities()
    parts = ("json",)

    def __init__(self) -> None:
        self.session = requests.Session()
        self.session.trust_env = False  # subscriber endpoints: no proxy from the environment

    def send(self, batch: Sequence[Outgoing]) -> Iterator[SendResult]:
        """One result per item, yielded as soon as the provider answered it (see base)."""
        for item in batch:
            yield self._send_one(item)

    def _send_one(self, item: Outgoing) -> SendResult:
        body = item.parts["json"].encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Clarion-Webhooks/1",
            "webhook-id": item.idempotency_key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(item.secret, item.idempotency_key, timestamp, body),
        }
        started = time.monotonic()
        try:
            response = self.session.post(
                item.address,
                data=body,
                headers=headers,
                timeout=TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return SendResult(
                item.delivery_id,
                AttemptOutcome.TRANSIENT,
                error=str(exc)[:500],
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        elapsed = int((time.monotonic() - started) * 1000)
        if 200 <= response.status_code < 300:
            return SendResult(
                item.delivery_id,
                AttemptOutcome.SENT,
                provider_id=response.headers.get("X-Request-Id", "")[:200],
                duration_ms=elapsed,
            )
        transient = response.status_code == 429 or response.status_code >= 500
        return SendResult(
            item.delivery_id,
            AttemptOutcome.TRANSIENT if transient else AttemptOutcome.PERMANENT,
            error=f"HTTP {response.status_code}: {response.text[:200]}",
            duration_ms=elapsed,
        )
