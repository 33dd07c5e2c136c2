"""Salesforce over HTTP, through simple-salesforce: SOQL queries and their next pages.

HTTP only. Every call has a timeout; a failure is raised as TransientError (timeout,
connection error, 429, 5xx: worth retrying) or PermanentError (401 "credentials refused",
403, a refused query, a certificate that is not trusted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from apps.core.exceptions import PermanentError, TransientError

API_VERSION = "59.0"
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class QueryPage:
    """One page of a SOQL result: its records and, when there are more, the URL of the
    next page (`nextRecordsUrl`)."""

    records: list[dict[str, Any]]
    total_size: int
    next_records_url: str | None


def _describe(content: Any) -> str:
    """Salesforce's error body (`[{"errorCode": ..., "message": ...}]`) in one line."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return "; ".join(
            f"{item.get('errorCode', '')}: {item.get('message', '')}".strip(": ")
            for item in content
            if isinstance(item, dict)
        )
    if isinstance(content, dict):
        return str(content.get("message") or content.get("error_description") or content)
    text = content.decode(errors="replace") if isinstance(content, bytes) else str(content)
    return " ".join(text.split())[:300]


# What simple-salesforce and requests raise for a failed call.
FAILURES = (SalesforceError, requests.RequestException, ValueError)


def _translate(exc: Exception) -> TransientError | PermanentError:
    """The Clarion error for a failed call (one of FAILURES)."""
    if isinstance(exc, SalesforceAuthenticationFailed):
        return PermanentError(f"credentials refused: Salesforce login failed: {exc}")
    if isinstance(exc, SalesforceExpiredSession):
        return PermanentError(
            f"credentials refused: Salesforce answered 401 ({_describe(exc.content)}). "
            "Enter a new access token (or the user's password and security token)."
        )
    if isinstance(exc, SalesforceRefusedRequest):
        detail = _describe(exc.content)
        if "REQUEST_LIMIT_EXCEEDED" in detail:
            return PermanentError(f"Salesforce API request limit exceeded ({detail}).")
        return PermanentError(
            f"Salesforce refused the request (403: {detail}); the integration user needs "
            "'API Enabled' and read access to Account and Contact."
        )
    if isinstance(exc, SalesforceMalformedRequest):
        return PermanentError(
            f"Salesforce refused the query ({_describe(exc.content)}); check the field "
            "mapping against your Account and Contact fields."
        )
    if isinstance(exc, SalesforceResourceNotFound):
        return PermanentError(
            f"Salesforce answered 404 for {exc.url}; check the instance URL "
            f"({_describe(exc.content)})."
        )
    if isinstance(exc, SalesforceError):
        if exc.status == 429 or exc.status >= 500:
            return TransientError(f"Salesforce answered {exc.status} ({_describe(exc.content)})")
        return PermanentError(f"Salesforce answered {exc.status} ({_describe(exc.content)})")
    if isinstance(exc, requests.exceptions.SSLError):
        return PermanentError(f"Salesforce's TLS certificate is not trusted: {exc}")
    if isinstance(exc, requests.Timeout):
        return TransientError(f"Salesforce did not answer in time: {exc}")
    if isinstance(exc, requests.ConnectionError):
        return TransientError(f"cannot connect to Salesforce: {exc}")
    # Another RequestException, or a ValueError: a 200 whose body is not JSON (a proxy's
    # error page, a cut-off body).
    return TransientError(f"Salesforce sent an unreadable answer: {exc}")


class SalesforceClient:
    """A Salesforce org, read with an access token and its instance URL (OAuth), or with
    a user's name, password and security token (logged in when the client is made).

    `session` is a `requests.Session` of the caller's (its `verify`, proxies and adapters
    are used); without one, simple-salesforce makes its own."""

    def __init__(
        self,
        *,
        instance_url: str = "",
        access_token: str = "",
        username: str = "",
        password: str = "",
        security_token: str = "",
        domain: str = "login",
        session: requests.Session | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.timeout = (CONNECT_TIMEOUT, timeout)
        self._owns_session = session is None
        try:
            if access_token:
                self._sf = Salesforce(
                    instance_url=instance_url,
                    session_id=access_token,
                    session=session,
                    version=API_VERSION,
                    parse_float=Decimal,
                    object_pairs_hook=dict,
                )
            else:
                self._sf = Salesforce(
                    username=username,
                    password=password,
                    security_token=security_token,
                    domain=domain or "login",
                    session=session,
                    version=API_VERSION,
                    parse_float=Decimal,
                    object_pairs_hook=dict,
                )
        except FAILURES as exc:
            raise _translate(exc) from exc

    def close(self) -> None:
        if self._owns_session:
            self._sf.session.close()

    def _page(self, result: Any) -> QueryPage:
        if not isinstance(result, dict) or not isinstance(result.get("records"), list):
            raise TransientError(
                f"Salesforce sent a query result without records: {json.dumps(result)[:200]}"
            )
        next_url = result.get("nextRecordsUrl") if not result.get("done", True) else None
        return QueryPage(
            records=[r for r in result["records"] if isinstance(r, dict)],
            total_size=int(result.get("totalSize") or 0),
            next_records_url=str(next_url) if next_url else None,
        )

    def query(self, soql: str, *, include_deleted: bool = False) -> QueryPage:
        """The first page of `soql` (`queryAll` with `include_deleted`: deleted records in
        the recycle bin too)."""
        try:
            result = self._sf.query(soql, include_deleted=include_deleted, timeout=self.timeout)
        except FAILURES as exc:
            raise _translate(exc) from exc
        return self._page(result)

    def query_more(self, next_records_url: str) -> QueryPage:
        """The page at a previous page's `nextRecordsUrl`."""
        try:
            result = self._sf.query_more(
                next_records_url, identifier_is_url=True, timeout=self.timeout
            )
        except FAILURES as exc:
            raise _translate(exc) from exc
        return self._page(result)
