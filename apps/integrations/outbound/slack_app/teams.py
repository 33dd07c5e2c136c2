"""The support team's Microsoft Teams channel, through its incoming webhook: the same
messages as Slack, as Adaptive Cards (the card of the Teams subscriber channel,
`apps.communications.channels.teams.teams_payload`).

A 2xx answer is posted; 429 and 5xx, timeouts and connection errors are TransientError
(a 429's `Retry-After` as `RateLimited`); any other answer is PermanentError.
"""

from __future__ import annotations

import requests

from apps.communications.channels.teams import teams_payload
from apps.core.exceptions import PermanentError, TransientError
from apps.integrations.outbound.helpdesk import RateLimited, retry_after_seconds

TIMEOUT_SECONDS = 10


def teams_post(url: str, text: str, link: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
    try:
        response = requests.post(
            url,
            json=teams_payload(text, link),
            headers={"User-Agent": "Clarion-Teams/1"},
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise TransientError(f"cannot reach Teams: {exc}") from exc
    if 200 <= response.status_code < 300:
        return
    answer = " ".join(response.text.split())[:200]
    if response.status_code == 429:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        raise RateLimited(f"Teams rate limit: retry after {wait} s", retry_after=wait)
    if response.status_code >= 500:
        raise TransientError(f"Teams answered {response.status_code}: {answer}")
    raise PermanentError(f"Teams refused the post ({response.status_code}): {answer}")
