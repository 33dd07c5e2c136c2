"""Freshdesk's REST API v2 over HTTP, with `requests`: list, show, create and update tickets,
add notes and replies, read conversations and companies.

HTTP only. Every call has a timeout. A 429 asking to wait at most
`INLINE_WAIT_MAX_SECONDS` is waited out and the call repeated once; a longer wait is raised
as `RateLimited`. Failures are TransientError (timeouts, connection errors, 5xx, 429) or
PermanentError (401/403 "credentials refused", 404, 400 validation errors).

`base_url` defaults to `https://<subdomain>.freshdesk.com`; tests pass a local server's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from apps.core.exceptions import PermanentError, TransientError
from apps.integrations.outbound.helpdesk import (
    INLINE_WAIT_MAX_SECONDS,
    RateLimited,
    retry_after_seconds,
)

TIMEOUT_SECONDS = 20.0
PAGE_SIZE = 100
MAX_PAGES = 300  # Freshdesk stops listing at page 300 anyway


class FreshdeskClient:
    def __init__(
        self,
        *,
        subdomain: str,
        api_key: str,
        base_url: str = "",
        timeout: float = TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = (base_url or f"https://{subdomain}.freshdesk.com").rstrip("/")
        self.timeout = timeout
        self.sleep = sleep
        self.session = requests.Session()
        self.session.auth = (api_key, "X")
        self.session.headers["User-Agent"] = "Clarion-Helpdesk/1"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of one call (None for an empty body)."""
        for attempt in range(2):
            try:
                response = self.session.request(
                    method, f"{self.base_url}/api/v2{path}", timeout=self.timeout, **kwargs
                )
            except requests.Timeout as exc:
                raise TransientError(f"Freshdesk did not answer in time: {exc}") from exc
            except requests.RequestException as exc:
                raise TransientError(f"cannot connect to Freshdesk: {exc}") from exc
            if response.status_code == 429:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait > INLINE_WAIT_MAX_SECONDS or attempt:
                    raise RateLimited(
                        f"Freshdesk rate limit: retry after {wait} s", retry_after=wait
                    )
                self.sleep(wait)
                continue
            return self._answer(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(self, response: requests.Response) -> Any:
        status = response.status_code
        detail = " ".join(response.text.split())[:300]
        if status in (401, 403):
            raise PermanentError(
                f"credentials refused: Freshdesk answered {status}; check the API key "
                "(Profile settings > Your API Key) and the subdomain."
            )
        if status >= 500:
            raise TransientError(f"Freshdesk answered {status}: {detail}")
        if status >= 400:
            raise PermanentError(f"Freshdesk refused the request ({status}): {detail}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise TransientError(f"Freshdesk sent an unreadable answer: {exc}") from exc

    def tickets_updated_since(self, since_iso: str) -> Iterator[dict[str, Any]]:
        for page in range(1, MAX_PAGES + 1):
            rows = self.request(
                "GET",
                "/tickets",
                params={"updated_since": since_iso, "per_page": PAGE_SIZE, "page": page},
            )
            if not isinstance(rows, list):
                raise TransientError("Freshdesk listed tickets without a list.")
            yield from (r for r in rows if isinstance(r, dict))
            if len(rows) < PAGE_SIZE:
                return

    def close(self) -> None:
        self.session.close()
