"""Slack through the subscriber's own incoming-webhook URL, with the official `slack_sdk`.

The post carries `text` (the message's short text: notifications and clients without
blocks show it) and Block Kit `blocks`: a `section` with the same text in mrkdwn and a
`context` line linking the status page. No credentials: the webhook URL is the secret.

Slack answers `200 ok`; 429 (`rate_limited`), 5xx, timeouts and connection errors are
retried; any other 4xx is permanent with Slack's reason (`404 no_service`,
`410 channel_is_archived`, `403 action_prohibited`, `400 invalid_payload`...). The client's
own retries are off: Clarion retries with backoff on its `retry` queue.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator, Sequence
from typing import Any

from slack_sdk.errors import SlackRequestError
from slack_sdk.webhook import WebhookClient

from apps.communications.channels.base import Capabilities, Channel, Outgoing, SendResult
from apps.communications.choices import AttemptOutcome
from apps.communications.context import status_page_url

TIMEOUT_SECONDS = 10
SECTION_LIMIT = 3000  # characters of a section block's text


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters; everything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(text: str, page_url: str) -> dict[str, Any]:
    """The body Slack receives: plain `text` plus a section and a status page context."""
    section = mrkdwn_escape(text)
    if len(section) > SECTION_LIMIT:
        section = section[: SECTION_LIMIT - 1] + "…"
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": section}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"<{page_url}|Status page>"}],
            },
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }


class SlackChannel(Channel):
    key = "slack"
    capabilities = Capabilities(max_length=None)
    parts = ("text",)

    def __init__(self, *, timeout: int = TIMEOUT_SECONDS) -> None:
        self.timeout = timeout

    def send(self, batch: Sequence[Outgoing]) -> Iterator[SendResult]:
        """One result per item, yielded as soon as the provider answered it (see base)."""
        page_url = status_page_url()
        for item in batch:
            yield self._send_one(item, page_url)

    def _send_one(self, item: Outgoing, page_url: str) -> SendResult:
        client = WebhookClient(item.address, timeout=self.timeout, retry_handlers=[])
        payload = slack_payload(item.parts["text"], page_url)
        started = time.monotonic()
        try:
            response = client.send_dict(payload)
        except SlackRequestError as exc:  # not an http(s) URL: no retry will fix it
            return SendResult(
                item.delivery_id,
                AttemptOutcome.PERMANENT,
                error=str(exc)[:500],
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        except (OSError, http.client.HTTPException) as exc:  # timeouts, refused, reset
            return SendResult(
                item.delivery_id,
                AttemptOutcome.TRANSIENT,
                error=(str(exc) or type(exc).__name__)[:500],
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        elapsed = int((time.monotonic() - started) * 1000)
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(item.delivery_id, AttemptOutcome.SENT, duration_ms=elapsed)
        transient = status == 429 or status >= 500
        return SendResult(
            item.delivery_id,
            AttemptOutcome.TRANSIENT if transient else AttemptOutcome.PERMANENT,
            error=f"HTTP {status}: {(response.body or '').strip()[:200]}",
            duration_ms=elapsed,
        )
