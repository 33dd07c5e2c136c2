"""Slack's Web API with the tenant's bot token, through slack_sdk's `WebClient`: create a
war-room channel, invite people, post messages.

HTTP only. A 429 is retried once by slack_sdk after its `Retry-After`; a second one is
raised as `RateLimited`. Other failures: TransientError (5xx, timeouts, connection errors)
or PermanentError (Slack's own refusals: `invalid_auth`, `channel_not_found`,
`missing_scope`...). `base_url` points the client at a local server in tests.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from apps.core.exceptions import PermanentError, TransientError
from apps.integrations.outbound.helpdesk import RateLimited, retry_after_seconds

T = TypeVar("T")
TIMEOUT_SECONDS = 15
DEFAULT_BASE_URL = "https://slack.com/api/"


class SlackApp:
    def __init__(self, *, token: str, base_url: str = "", timeout: int = TIMEOUT_SECONDS) -> None:
        base = base_url or DEFAULT_BASE_URL
        self.client = WebClient(
            token=token,
            base_url=base if base.endswith("/") else base + "/",
            timeout=timeout,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
        )

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except SlackApiError as exc:
            status = exc.response.status_code
            error = exc.response.get("error", "") if isinstance(exc.response.data, dict) else ""
            if status == 429:
                wait = retry_after_seconds(exc.response.headers.get("Retry-After"))
                raise RateLimited(
                    f"Slack rate limit: retry after {wait} s", retry_after=wait
                ) from exc
            if status >= 500:
                raise TransientError(f"Slack answered {status}") from exc
            raise PermanentError(f"Slack refused: {error or status}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise TransientError(f"cannot reach Slack: {exc}") from exc

    def create_channel(self, name: str) -> str:
        """The id of a new public channel `name`, or of the existing one of that name."""
        try:
            answer = self._call(lambda: self.client.conversations_create(name=name))
            return str(answer["channel"]["id"])
        except PermanentError as exc:
            if "name_taken" not in str(exc):
                raise
        listed = self._call(
            lambda: self.client.conversations_list(types="public_channel", limit=1000)
        )
        for channel in listed.get("channels") or []:
            if channel.get("name") == name:
                return str(channel["id"])
        raise PermanentError(f"Slack says #{name} exists but does not list it.")

    def invite(self, channel: str, users: Sequence[str]) -> None:
        if not users:
            return
        try:
            self._call(lambda: self.client.conversations_invite(channel=channel, users=list(users)))
        except PermanentError as exc:
            if "already_in_channel" not in str(exc):
                raise

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None) -> str:
        """The posted message's `ts`."""
        answer = self._call(
            lambda: self.client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, unfurl_links=False
            )
        )
        return str(answer.get("ts") or "")
