"""Zendesk over HTTP, through zenpy: search, show, create and update tickets, read comments
and organisations.

HTTP only. Every call has a timeout. zenpy itself waits out a 429's `Retry-After`; a wait
longer than `INLINE_WAIT_MAX_SECONDS` is not waited here but raised as `RateLimited` (the
task retries after it). Failures are raised as TransientError (timeouts, connection errors,
5xx, 429) or PermanentError (401/403 "credentials refused", 404, 422).

Tests and the demo point zenpy at a local server with `ZENPY_FORCE_NETLOC=127.0.0.1:<port>`
and `ZENPY_FORCE_SCHEME=http` (zenpy reads them on every call).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket
from zenpy.lib.exception import APIException, RecordNotFoundException, ZenpyException

from apps.core.exceptions import PermanentError, TransientError
from apps.integrations.outbound.helpdesk import (
    INLINE_WAIT_MAX_SECONDS,
    RateLimited,
    retry_after_seconds,
)

T = TypeVar("T")
TIMEOUT_SECONDS = 20.0


def _refuse_long_waits(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A requests response hook: a 429 asking for a long wait becomes RateLimited before
    zenpy would sleep through it."""
    if response.status_code == 429:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait > INLINE_WAIT_MAX_SECONDS:
            raise RateLimited(f"Zendesk rate limit: retry after {wait} s", retry_after=wait)


def _status(exc: Exception) -> int:
    response = getattr(exc, "response", None)
    return int(getattr(response, "status_code", 0) or 0)


def _translate(exc: Exception) -> TransientError | PermanentError:
    if isinstance(exc, TransientError):
        return exc
    status = _status(exc)
    detail = str(exc)[:300]
    if status == 429:
        response = getattr(exc, "response", None)
        wait = retry_after_seconds(response.headers.get("Retry-After") if response else None)
        return RateLimited(f"Zendesk rate limit: retry after {wait} s", retry_after=wait)
    if status in (401, 403):
        return PermanentError(
            f"credentials refused: Zendesk answered {status}; check the agent e-mail and "
            "the API token (Admin Center > Apps and integrations > Zendesk API)."
        )
    if isinstance(exc, RecordNotFoundException) or status == 404:
        return PermanentError(f"Zendesk answered 404: {detail}")
    if status >= 500:
        return TransientError(f"Zendesk answered {status}: {detail}")
    if isinstance(exc, requests.Timeout):
        return TransientError(f"Zendesk did not answer in time: {exc}")
    if isinstance(exc, requests.ConnectionError):
        return TransientError(f"cannot connect to Zendesk: {exc}")
    if isinstance(exc, APIException | requests.HTTPError):
        return PermanentError(f"Zendesk refused the request ({status}): {detail}")
    if isinstance(exc, ValueError):  # a 200 whose body is not JSON
        return TransientError(f"Zendesk sent an unreadable answer: {exc}")
    return PermanentError(f"Zendesk: {detail}")


FAILURES = (ZenpyException, APIException, requests.RequestException, ValueError, TransientError)


class ZendeskClient:
    """One Zendesk account (`subdomain`.zendesk.com), as an agent with an API token."""

    def __init__(self, *, subdomain: str, email: str, token: str, timeout: float = TIMEOUT_SECONDS):
        self.session = requests.Session()
        self.session.hooks["response"].append(_refuse_long_waits)
        try:
            self.zenpy = Zenpy(
                subdomain=subdomain,
                email=email,
                token=token,
                session=self.session,
                timeout=timeout,
                disable_cache=True,
            )
        except ZenpyException as exc:
            raise PermanentError(f"Zendesk settings are incomplete: {exc}") from exc

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """`fn()` with zenpy's and requests' errors translated."""
        try:
            return fn()
        except FAILURES as exc:
            raise _translate(exc) from exc

    def search_open_since(self, since_iso: str) -> Iterator[Any]:
        results = self.call(
            "search",
            lambda: self.zenpy.search(
                type="ticket", status_less_than="solved", created_after=since_iso
            ),
        )
        iterator = iter(results)
        while True:
            try:
                item = self.call("search page", lambda: next(iterator))
            except StopIteration:
                return
            yield item

    def show(self, ticket_id: int) -> Any:
        return self.call("show", lambda: self.zenpy.tickets(id=ticket_id))

    def organization_name(self, organization_id: int) -> str:
        org = self.call("organization", lambda: self.zenpy.organizations(id=organization_id))
        return str(getattr(org, "name", "") or "")

    def create(self, ticket: Ticket) -> Any:
        return self.call("create", lambda: self.zenpy.tickets.create(ticket))

    def update(self, ticket_id: int, **fields: Any) -> Any:
        comment = fields.pop("comment", None)
        ticket = Ticket(id=ticket_id)
        for name, value in fields.items():  # set one by one: a None is sent (as null) too
            setattr(ticket, name, value)
        if comment is not None:
            ticket.comment = Comment(body=comment[0], public=comment[1])
        return self.call("update", lambda: self.zenpy.tickets.update(ticket))

    def comments(self, ticket_id: int) -> list[Any]:
        return self.call("comments", lambda: list(self.zenpy.tickets.comments(ticket=ticket_id)))

    def close(self) -> None:
        self.session.close()
