"""HubSpot over HTTP, through hubspot-api-client: pages of CRM objects (companies,
contacts), listed or searched.

HTTP only. Every call has a timeout and no retry of its own (urllib3 retries are off: the
sync retries with backoff); a failure is raised as TransientError (timeout, connection
error, 429, 5xx) or PermanentError (401 "credentials refused", 403 missing scope, another
4xx, an untrusted certificate).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import urllib3
from hubspot import HubSpot
from hubspot.crm import companies, contacts
from urllib3.util.retry import Retry

from apps.core.exceptions import PermanentError, TransientError

ObjectType = Literal["companies", "contacts"]
CONNECT_TIMEOUT = 10.0
PAGE_SIZE = 100  # the most the list and search endpoints return per page
DEFAULT_HOST = "https://api.hubapi.com"


@dataclass(frozen=True)
class HubSpotObject:
    """One company or contact: its id, the properties asked for (None when empty) and,
    for a listed contact, the ids of its associated companies by association type."""

    id: str
    properties: dict[str, str | None]
    updated_at: datetime | None
    archived_at: datetime | None = None
    associations: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectPage:
    results: list[HubSpotObject]
    next_after: str | None
    total: int | None = None  # search only: how many objects match


def _message(exc: Any) -> str:
    """HubSpot's error body (`{"status", "message", "category", "correlationId"}`) in one
    line: category, message and correlation id (what HubSpot support asks for)."""
    body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else exc.body
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("message"):
        parts = [
            str(answer.get("category") or answer.get("errorType") or ""),
            " ".join(str(answer["message"]).split())[:200],
        ]
        text = ": ".join(p for p in parts if p)
        if answer.get("correlationId"):
            text += f"; correlation id {answer['correlationId']}"
        return text
    return " ".join(str(body or exc.reason or "").split())[:300]


def _translate(exc: Exception) -> TransientError | PermanentError:
    status = getattr(exc, "status", None)
    if isinstance(exc, companies.ApiException | contacts.ApiException):
        if status == 401:
            return PermanentError(
                f"credentials refused: HubSpot answered 401 ({_message(exc)}). Enter the "
                "private app's access token again."
            )
        if status == 403:
            return PermanentError(
                f"HubSpot refused the request (403: {_message(exc)}); the private app needs "
                "the crm.objects.companies.read and crm.objects.contacts.read scopes."
            )
        if status == 429 or (isinstance(status, int) and status >= 500):
            return TransientError(f"HubSpot answered {status} ({_message(exc)})")
        if status == 0:  # urllib3 SSLError, re-raised by the library
            return PermanentError(f"HubSpot's TLS certificate is not trusted: {exc.reason}")
        return PermanentError(f"HubSpot answered {status} ({_message(exc)})")
    if isinstance(exc, urllib3.exceptions.SSLError):
        return PermanentError(f"HubSpot's TLS certificate is not trusted: {exc}")
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return TransientError(f"cannot reach HubSpot: {exc}")
    # ValueError: a page the library cannot read (a missing id, a bad date).
    return PermanentError(f"HubSpot sent a page Clarion cannot read: {exc}")


FAILURES = (
    companies.ApiException,
    contacts.ApiException,
    urllib3.exceptions.HTTPError,
    ValueError,
)
# Each object type's package has its own (identical) search request models.
_MODELS = {"companies": companies, "contacts": contacts}


def _object(item: Any) -> HubSpotObject:
    associations: dict[str, list[tuple[str, str]]] = {}
    for name, collection in (getattr(item, "associations", None) or {}).items():
        associations[name] = [(str(a.id), str(a.type or "")) for a in collection.results or []]
    return HubSpotObject(
        id=str(item.id),
        properties=dict(item.properties or {}),
        updated_at=item.updated_at,
        archived_at=getattr(item, "archived_at", None),
        associations=associations,
    )


def _after(response: Any) -> str | None:
    paging = getattr(response, "paging", None)
    following = getattr(paging, "next", None) if paging else None
    return str(following.after) if following and following.after else None


class HubSpotClient:
    """A HubSpot account, read with a private app's access token. `host` is the API's
    base URL (https://api.hubapi.com unless given)."""

    def __init__(self, *, access_token: str, host: str = "", timeout: float = 30.0) -> None:
        self.timeout = (CONNECT_TIMEOUT, timeout)
        self._hubspot = HubSpot(
            access_token=access_token,
            host=host.rstrip("/") or DEFAULT_HOST,
            retry=Retry(total=0, redirect=False),
        )
        crm = self._hubspot.crm
        # Each attribute access builds an API client with its own connection pool: keep one.
        self._list = {"companies": crm.companies.basic_api, "contacts": crm.contacts.basic_api}
        self._search = {
            "companies": crm.companies.search_api,
            "contacts": crm.contacts.search_api,
        }

    def close(self) -> None:
        for api in (*self._list.values(), *self._search.values()):
            api.api_client.close()
            api.api_client.rest_client.pool_manager.clear()

    def list_page(
        self,
        object_type: ObjectType,
        *,
        properties: Sequence[str],
        after: str | None = None,
        associations: Sequence[str] = (),
        archived: bool = False,
    ) -> ObjectPage:
        """One page of every object (`archived=True`: of the archived ones only)."""
        kwargs: dict[str, Any] = {
            "limit": PAGE_SIZE,
            "properties": list(properties),
            "archived": archived,
            "_request_timeout": self.timeout,
        }
        if after:
            kwargs["after"] = after
        if associations:
            kwargs["associations"] = list(associations)
        try:
            response = self._list[object_type].get_page(**kwargs)
            return ObjectPage([_object(r) for r in response.results or []], _after(response))
        except FAILURES as exc:
            raise _translate(exc) from exc

    def search_page(
        self,
        object_type: ObjectType,
        *,
        properties: Sequence[str],
        modified_property: str,
        since: datetime,
        after: str | None = None,
    ) -> ObjectPage:
        """One page of the objects whose `modified_property` is at or after `since`."""
        models = _MODELS[object_type]
        request = models.PublicObjectSearchRequest(
            filter_groups=[
                models.FilterGroup(
                    filters=[
                        models.Filter(
                            property_name=modified_property,
                            operator="GTE",
                            value=str(int(since.timestamp() * 1000)),
                        )
                    ]
                )
            ],
            properties=list(properties),
            limit=PAGE_SIZE,
            after=after or None,
        )
        try:
            response = self._search[object_type].do_search(
                public_object_search_request=request, _request_timeout=self.timeout
            )
            return ObjectPage(
                [_object(r) for r in response.results or []],
                _after(response),
                total=int(response.total or 0),
            )
        except FAILURES as exc:
            raise _translate(exc) from exc
