"""Microsoft Teams through the subscriber's webhook URL (a Teams "Workflows" webhook, or a
legacy Office 365 incoming-webhook connector), with `requests`.

The body is an **Adaptive Card** (schema 1.4) in a `message` envelope, the one format both
kinds of webhook accept (MessageCard works only with the retiring connectors): a
`TextBlock` with the message's short text and an `Action.OpenUrl` button to the status page.
No credentials: the webhook URL is the secret.

A 2xx answer is delivered (Workflows answer 202, connectors 200 `1`). A connector that
could not deliver answers 200 with `Webhook message delivery failed with error: ... HTTP
error 429`; that text is read like the status it names. 429, 5xx, timeouts and connection
errors are retried; any other 4xx is permanent with the endpoint's answer.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from typing import Any

import requests

from apps.communications.channels.base import Capabilities, Channel, Outgoing, SendResult
from apps.communications.choices import AttemptOutcome
from apps.communications.context import status_page_url

TIMEOUT_SECONDS = 10
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
_CONNECTOR_FAILURE = re.compile(r"delivery failed.*?HTTP error (\d{3})", re.IGNORECASE | re.DOTALL)


def teams_payload(text: str, page_url: str) -> dict[str, Any]:
    """The body Teams receives: one Adaptive Card with the text and a status page button."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": ADAPTIVE_CARD,
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [{"type": "TextBlock", "text": text, "wrap": True}],
                    "actions": [
                        {"type": "Action.OpenUrl", "title": "Status page", "url": page_url}
                    ],
                },
            }
        ],
    }


def _outcome(status: int) -> AttemptOutcome:
    if 200 <= status < 300:
        return AttemptOutcome.SENT
    transient = status == 429 or status >= 500
    return AttemptOutcome.TRANSIENT if transient else AttemptOutcome.PERMANENT


class TeamsChannel(Channel):
    key = "teams"
    capabilities = Capabilities(max_length=None)
    parts = ("text",)

    def __init__(self, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # subscriber endpoints: no proxy from the environment

    def send(self, batch: Sequence[Outgoing]) -> Iterator[SendResult]:
        """One result per item, yielded as soon as the provider answered it (see base)."""
        page_url = status_page_url()
        for item in batch:
            yield self._send_one(item, page_url)

    def _send_one(self, item: Outgoing, page_url: str) -> SendResult:
        started = time.monotonic()
        try:
            response = self.session.post(
                item.address,
                json=teams_payload(item.parts["text"], page_url),
                headers={"User-Agent": "Clarion-Teams/1"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return SendResult(
                item.delivery_id,
                AttemptOutcome.TRANSIENT,
                error=(str(exc) or type(exc).__name__)[:500],
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        elapsed = int((time.monotonic() - started) * 1000)
        status = response.status_code
        answer = response.text.strip()
        failure = _CONNECTOR_FAILURE.search(answer) if 200 <= status < 300 else None
        if failure:
            status = int(failure.group(1))
        outcome = _outcome(status)
        if outcome == AttemptOutcome.SENT:
            request_id = response.headers.get("x-ms-workflow-run-id") or response.headers.get(
                "request-id", ""
            )
            return SendResult(
                item.delivery_id, outcome, provider_id=request_id[:200], duration_ms=elapsed
            )
        return SendResult(
            item.delivery_id, outcome, error=f"HTTP {status}: {answer[:200]}", duration_ms=elapsed
        )
