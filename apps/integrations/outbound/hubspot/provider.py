"""What Clarion reads from HubSpot: companies and contacts (CRM v3), every one on a full
run, those modified since the cursor on an incremental one (search on
`hs_lastmodifieddate` / `lastmodifieddate`), and the archived ones.

Pages follow `paging.next.after`; each page is retried on its own. HubSpot's search returns
at most 10,000 objects per query: an incremental run with more changes than that asks for a
full run instead (`NeedsFullSync`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from apps.integrations.outbound.crm import (
    CrmAccount,
    CrmContact,
    CrmRemoval,
    CrmSource,
    FieldMapping,
    NeedsFullSync,
    RecordKind,
    RetryPolicy,
)
from apps.integrations.outbound.hubspot.client import (
    HubSpotClient,
    HubSpotObject,
    ObjectPage,
    ObjectType,
)

# Property internal names: `tier`, `monthly_fee`, `status_updates`.
FIELD_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")
SEARCH_MAX = 10_000
PRIMARY_COMPANY = "contact_to_company"  # the association type of a contact's primary company
MODIFIED = {"companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate"}

DEFAULT_MAPPING: dict[str, Any] = {
    "tier_field": "tier",
    "region_field": "region",
    "monthly_fee_field": "monthly_fee",
    "currency_field": "",
    "external_key_field": "",
    "contact_opt_in_field": "status_updates",
    "contact_phone_field": "",
    "tier_values": {},
    "region_values": {},
}


def credentials_problems(credentials: Mapping[str, str]) -> list[str]:
    if credentials.get("access_token"):
        return []
    return ["Give the private app's access token (pat-...)."]


def _value(properties: Mapping[str, str | None], name: str) -> str | None:
    """A mapped property as text ("" when empty), None when `name` is not mapped."""
    if not name:
        return None
    return (properties.get(name) or "").strip()


def _company_of(contact: HubSpotObject) -> str:
    """The contact's primary company: its primary association, else the
    `associatedcompanyid` property, else its first associated company."""
    associated = contact.associations.get("companies", [])
    for company_id, kind in associated:
        if kind == PRIMARY_COMPANY:
            return company_id
    primary = (contact.properties.get("associatedcompanyid") or "").strip()
    if primary:
        return primary
    return associated[0][0] if associated else ""


class HubSpotProvider(CrmSource):
    """Reads a HubSpot account through `client`, with the tenant's `mapping`."""

    label = "HubSpot"
    account_label = "Company"
    customer_id_field = "hubspot_company_id"

    def __init__(self, *, client: HubSpotClient, mapping: FieldMapping, retry: RetryPolicy) -> None:
        self.client = client
        self.mapping = mapping
        self.retry = retry

    def close(self) -> None:
        self.client.close()

    # --- paging --------------------------------------------------------------------------

    def _pages(self, what: str, fetch: Callable[[str | None], ObjectPage]) -> Iterator[ObjectPage]:
        after: str | None = None
        number = 1
        while True:
            page = self.retry.call(f"{what} page {number}", partial(fetch, after))
            yield page
            if page.next_after is None or not page.results:
                return
            after = page.next_after
            number += 1

    def _objects(
        self,
        object_type: ObjectType,
        properties: list[str],
        *,
        since: datetime | None,
        associations: tuple[str, ...] = (),
    ) -> Iterator[HubSpotObject]:
        properties = list(dict.fromkeys(p for p in properties if p))
        if since is None:

            def listed(after: str | None) -> ObjectPage:
                return self.client.list_page(
                    object_type, properties=properties, after=after, associations=associations
                )

            for page in self._pages(f"HubSpot {object_type}", listed):
                yield from page.results
            return

        def searched(after: str | None) -> ObjectPage:
            return self.client.search_page(
                object_type,
                properties=properties,
                modified_property=MODIFIED[object_type],
                since=since,
                after=after,
            )

        for page in self._pages(f"HubSpot {object_type} search", searched):
            if page.total is not None and page.total > SEARCH_MAX:
                raise NeedsFullSync(
                    f"{page.total} HubSpot {object_type} changed since {since:%Y-%m-%d %H:%M} "
                    f"UTC, more than the {SEARCH_MAX} a search returns"
                )
            yield from page.results

    # --- CrmSource -----------------------------------------------------------------------

    def accounts(self, *, since: datetime | None) -> Iterator[CrmAccount]:
        m = self.mapping
        properties = ["name", MODIFIED["companies"], *m.account_fields]
        for company in self._objects("companies", properties, since=since):
            p = company.properties
            yield CrmAccount(
                id=company.id,
                name=(p.get("name") or "").strip(),
                modified_at=company.updated_at,
                tier=_value(p, m.tier_field),
                region=_value(p, m.region_field),
                monthly_fee=_value(p, m.monthly_fee_field),
                currency=_value(p, m.currency_field),
                external_key=_value(p, m.external_key_field),
            )

    def contacts(self, *, since: datetime | None) -> Iterator[CrmContact]:
        m = self.mapping
        properties = [
            "email",
            "firstname",
            "lastname",
            "associatedcompanyid",
            MODIFIED["contacts"],
            m.contact_opt_in_field,
            m.contact_phone_field,
        ]
        associations = ("companies",) if since is None else ()
        for contact in self._objects(
            "contacts", properties, since=since, associations=associations
        ):
            p = contact.properties
            opt_in = (p.get(m.contact_opt_in_field) or "") if m.contact_opt_in_field else "true"
            yield CrmContact(
                id=contact.id,
                account_id=_company_of(contact),
                email=(p.get("email") or "").strip(),
                first_name=(p.get("firstname") or "").strip(),
                last_name=(p.get("lastname") or "").strip(),
                opted_in=opt_in.strip().lower() == "true",
                modified_at=contact.updated_at,
                phone=_value(p, m.contact_phone_field),
            )

    def removals(self, *, since: datetime) -> Iterator[CrmRemoval]:
        kinds: tuple[tuple[ObjectType, RecordKind], ...] = (
            ("companies", "account"),
            ("contacts", "contact"),
        )
        for object_type, kind in kinds:

            def archived(after: str | None, object_type: ObjectType = object_type) -> ObjectPage:
                return self.client.list_page(object_type, properties=[], after=after, archived=True)

            for page in self._pages(f"HubSpot archived {object_type}", archived):
                for item in page.results:
                    when = item.archived_at or item.updated_at
                    if when is None or when >= since:
                        yield CrmRemoval(kind=kind, id=item.id, modified_at=when)
