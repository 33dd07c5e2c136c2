"""Social posts: the message's `social` text (at most 280 characters) on the tenant's X and
LinkedIn accounts, or in the log.

Providers, chosen by `CLARION_SOCIAL_PROVIDERS` (comma-separated; default `log`), one ledger
row per provider and message:
- `log`: writes the post to the `clarion.social` logger at INFO and records it as sent (an
  installation without accounts still shows what would have been posted);
- `x`: `POST {X_API_URL}/2/tweets` with `{"text": ...}` and an OAuth 2.0 user-context access
  token (`X_ACCESS_TOKEN`, scopes `tweet.write tweet.read users.read`) as a bearer token;
  201 gives `data.id`, the post's id;
- `linkedin`: `POST {LINKEDIN_API_URL}/rest/posts` (versioned API, `LinkedIn-Version:
  LINKEDIN_VERSION`) as `LINKEDIN_AUTHOR_URN` (`urn:li:organization:...`) with an access
  token holding `w_organization_social`; 201 gives the post URN in `x-restli-id`. The text is
  sent in LinkedIn's "little" format, so its reserved characters are escaped.

Like every channel: 2xx sent; 429, 5xx, timeouts and connection errors retried; any other
refusal (401 bad token, 403 duplicate post...) fails the row with the provider's answer. A
provider with a missing setting fails with a message naming it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import requests
from django.conf import settings

from apps.communications.channels.base import Capabilities, Outgoing, SendResult
from apps.communications.channels.broadcast import BroadcastChannel
from apps.communications.choices import AttemptOutcome

logger = logging.getLogger("clarion.social")

TIMEOUT_SECONDS = 10
MAX_LENGTH = 280
PROVIDERS = ("log", "x", "linkedin")
# LinkedIn's "little" text format reserves these; unescaped, a post is cut at the first one.
_LITTLE_RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")
_URL = re.compile(r"https?://\S+")


def little_escape(text: str) -> str:
    """`text` as plain text in LinkedIn's little format; URLs are left as they are so that
    LinkedIn still links them."""
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(_LITTLE_RESERVED.sub(r"\\\1", text[last : match.start()]))
        out.append(match.group())
        last = match.end()
    out.append(_LITTLE_RESERVED.sub(r"\\\1", text[last:]))
    return "".join(out)


def _setting(name: str, default: str = "") -> str:
    return str(getattr(settings, name, default) or default)


def _failure(item: Outgoing, response: requests.Response, name: str, ms: int) -> SendResult:
    transient = response.status_code == 429 or response.status_code >= 500
    return SendResult(
        item.delivery_id,
        AttemptOutcome.TRANSIENT if transient else AttemptOutcome.PERMANENT,
        error=f"{name} HTTP {response.status_code}: {response.text[:200]}",
        duration_ms=ms,
    )


class SocialChannel(BroadcastChannel):
    key = "social"
    capabilities = Capabilities(max_length=MAX_LENGTH)
    parts = ("text",)

    def __init__(
        self,
        *,
        providers: Sequence[str] | None = None,
        x_url: str | None = None,
        x_token: str | None = None,
        linkedin_url: str | None = None,
        linkedin_token: str | None = None,
        linkedin_author: str | None = None,
    ) -> None:
        """Arguments override settings (local fakes in tests)."""
        chosen = providers if providers is not None else settings.CLARION_SOCIAL_PROVIDERS
        unknown = sorted(set(chosen) - set(PROVIDERS))
        if unknown:
            raise ValueError(
                f"Unknown social provider(s) {', '.join(unknown)}: use {', '.join(PROVIDERS)}."
            )
        self.providers = list(dict.fromkeys(chosen)) or ["log"]
        self.x_url = (x_url or _setting("X_API_URL", "https://api.x.com")).rstrip("/")
        self.x_token = x_token if x_token is not None else _setting("X_ACCESS_TOKEN")
        self.linkedin_url = (
            linkedin_url or _setting("LINKEDIN_API_URL", "https://api.linkedin.com")
        ).rstrip("/")
        self.linkedin_token = (
            linkedin_token if linkedin_token is not None else _setting("LINKEDIN_ACCESS_TOKEN")
        )
        self.linkedin_author = (
            linkedin_author if linkedin_author is not None else _setting("LINKEDIN_AUTHOR_URN")
        )
        self.linkedin_version = _setting("LINKEDIN_VERSION", "202510")
        self.session = requests.Session()

    def targets(self) -> list[str]:
        return list(self.providers)

    def validate(self, rendered: Mapping[str, str]) -> list[str]:
        text = rendered.get("text", "")
        if len(text) > MAX_LENGTH:
            return [
                f"The social text is {len(text)} characters; a post holds {MAX_LENGTH}. "
                "Shorten the social template of this kind."
            ]
        return []

    def send(self, batch: Sequence[Outgoing]) -> Iterator[SendResult]:
        """One result per item, yielded as soon as the provider answered it (see base)."""
        for item in batch:
            yield self._send_one(item)

    def _send_one(self, item: Outgoing) -> SendResult:
        text = item.parts.get("text", "")
        if len(text) > MAX_LENGTH:  # approval refuses it; a template edited since would not
            return SendResult(
                item.delivery_id,
                AttemptOutcome.PERMANENT,
                error=f"The post is {len(text)} characters; the limit is {MAX_LENGTH}.",
            )
        if item.address == "log":
            logger.info("social post %s: %s", item.idempotency_key, text)
            return SendResult(item.delivery_id, AttemptOutcome.SENT, provider_id="log")
        missing = self._missing(item.address)
        if missing:
            return SendResult(
                item.delivery_id,
                AttemptOutcome.PERMANENT,
                error=f"{item.address} is not configured: set {', '.join(missing)}.",
            )
        started = time.monotonic()
        try:
            if item.address == "x":
                response = self.session.post(
                    f"{self.x_url}/2/tweets",
                    json={"text": text},
                    headers={"Authorization": f"Bearer {self.x_token}"},
                    timeout=TIMEOUT_SECONDS,
                )
            else:
                response = self.session.post(
                    f"{self.linkedin_url}/rest/posts",
                    json=self._linkedin_post(text),
                    headers={
                        "Authorization": f"Bearer {self.linkedin_token}",
                        "LinkedIn-Version": self.linkedin_version,
                        "X-Restli-Protocol-Version": "2.0.0",
                    },
                    timeout=TIMEOUT_SECONDS,
                )
        except requests.RequestException as exc:
            return SendResult(
                item.delivery_id,
                AttemptOutcome.TRANSIENT,
                error=(str(exc) or type(exc).__name__)[:500],
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        elapsed = int((time.monotonic() - started) * 1000)
        name = "X" if item.address == "x" else "LinkedIn"
        if not 200 <= response.status_code < 300:
            return _failure(item, response, name, elapsed)
        if item.address == "x":
            try:
                post_id = str(response.json()["data"]["id"])
            except (ValueError, KeyError, TypeError):
                post_id = ""
        else:
            post_id = response.headers.get("x-restli-id", "")
        return SendResult(
            item.delivery_id, AttemptOutcome.SENT, provider_id=post_id, duration_ms=elapsed
        )

    def _missing(self, provider: str) -> list[str]:
        values = (
            {"X_ACCESS_TOKEN": self.x_token}
            if provider == "x"
            else {
                "LINKEDIN_ACCESS_TOKEN": self.linkedin_token,
                "LINKEDIN_AUTHOR_URN": self.linkedin_author,
            }
        )
        return [name for name, value in values.items() if not value]

    def _linkedin_post(self, text: str) -> dict[str, Any]:
        return {
            "author": self.linkedin_author,
            "commentary": little_escape(text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
