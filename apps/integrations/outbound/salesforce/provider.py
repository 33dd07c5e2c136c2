"""What Clarion reads from Salesforce: accounts and contacts by SOQL, incrementally on
`SystemModstamp`, and what was deleted (`queryAll` with `IsDeleted = true`).

Every page (`query`, then `query_more` on `nextRecordsUrl`, the calls `query_all` makes) is
retried on its own, so a 503 on page 7 does not read pages 1-6 again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from apps.integrations.outbound.crm import (
    CrmAccount,
    CrmContact,
    CrmRemoval,
    CrmSource,
    FieldMapping,
    RecordKind,
    RetryPolicy,
)
from apps.integrations.outbound.salesforce.client import QueryPage, SalesforceClient

# Field API names: `Tier__c`, `CurrencyIsoCode`, `Status_Updates__c` (no relationships).
FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")

DEFAULT_MAPPING: dict[str, Any] = {
    "tier_field": "Tier__c",
    "region_field": "Region__c",
    "monthly_fee_field": "Monthly_Fee__c",
    "currency_field": "CurrencyIsoCode",
    "external_key_field": "",
    "account_filter": "",
    "contact_opt_in_field": "Status_Updates__c",
    "contact_phone_field": "",
    "tier_values": {},
    "region_values": {},
}


def credentials_problems(credentials: Mapping[str, str]) -> list[str]:
    """What is missing from Salesforce credentials: an access token, or a user name,
    password and security token."""
    if credentials.get("access_token"):
        return []
    missing = [k for k in ("username", "password", "security_token") if not credentials.get(k)]
    if missing:
        return [
            "Give an access token (OAuth), or the integration user's name, password and "
            f"security token (missing: {', '.join(missing)})."
        ]
    if credentials.get("domain", "login") not in ("login", "test"):
        return ["The login domain is login (production) or test (sandbox)."]
    return []


def soql_datetime(moment: datetime) -> str:
    """A SOQL dateTime literal (UTC, no quotes)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: Any) -> datetime | None:
    """`2026-01-15T10:00:00.000+0000` as an aware datetime (None when absent or bad)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _text(record: Mapping[str, Any], field: str) -> str | None:
    """The value of a mapped field as text ("" when empty), None when `field` is not
    mapped."""
    if not field:
        return None
    value = record.get(field)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int | float):
        return format(Decimal(str(value)), "f")
    return str(value).strip()


class SalesforceProvider(CrmSource):
    """Reads a Salesforce org through `client`, with the tenant's `mapping`."""

    label = "Salesforce"
    account_label = "Account"
    customer_id_field = "salesforce_account_id"

    def __init__(
        self, *, client: SalesforceClient, mapping: FieldMapping, retry: RetryPolicy
    ) -> None:
        self.client = client
        self.mapping = mapping
        self.retry = retry

    def close(self) -> None:
        self.client.close()

    # --- paging --------------------------------------------------------------------------

    def _records(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        page: QueryPage = self.retry.call(
            "Salesforce query",
            lambda: self.client.query(soql, include_deleted=include_deleted),
        )
        number = 1
        while True:
            yield from page.records
            next_url = page.next_records_url
            if next_url is None:
                return
            number += 1
            page = self.retry.call(
                f"Salesforce query page {number}", partial(self.client.query_more, next_url)
            )

    @staticmethod
    def _soql(fields: list[str], sobject: str, where: list[str]) -> str:
        # SOQL, not SQL; field names were checked against FIELD_NAME.
        soql = f"SELECT {', '.join(dict.fromkeys(fields))} FROM {sobject}"  # noqa: S608
        return f"{soql} WHERE {' AND '.join(where)}" if where else soql

    # --- CrmSource -----------------------------------------------------------------------

    def accounts(self, *, since: datetime | None) -> Iterator[CrmAccount]:
        m = self.mapping
        where = [f"SystemModstamp >= {soql_datetime(since)}"] if since else []
        if m.account_filter:
            where.append(f"({m.account_filter})")
        fields = ["Id", "Name", "SystemModstamp", *m.account_fields]
        for record in self._records(self._soql(fields, "Account", where)):
            yield CrmAccount(
                id=str(record.get("Id") or ""),
                name=str(record.get("Name") or "").strip(),
                modified_at=parse_datetime(record.get("SystemModstamp")),
                tier=_text(record, m.tier_field),
                region=_text(record, m.region_field),
                monthly_fee=_text(record, m.monthly_fee_field),
                currency=_text(record, m.currency_field),
                external_key=_text(record, m.external_key_field),
            )

    def contacts(self, *, since: datetime | None) -> Iterator[CrmContact]:
        m = self.mapping
        fields = ["Id", "AccountId", "Email", "FirstName", "LastName", "SystemModstamp"]
        fields += [f for f in (m.contact_opt_in_field, m.contact_phone_field) if f]
        if since is None:
            # Everything that qualifies; what does not is deactivated as "not seen".
            where = ["Email != null"]
            if m.contact_opt_in_field:
                where.append(f"{m.contact_opt_in_field} = true")
        else:
            # Every change, so that a contact who stopped qualifying is seen.
            where = [f"SystemModstamp >= {soql_datetime(since)}"]
        for record in self._records(self._soql(fields, "Contact", where)):
            opted_in = record.get(m.contact_opt_in_field) if m.contact_opt_in_field else True
            yield CrmContact(
                id=str(record.get("Id") or ""),
                account_id=str(record.get("AccountId") or ""),
                email=str(record.get("Email") or "").strip(),
                first_name=str(record.get("FirstName") or "").strip(),
                last_name=str(record.get("LastName") or "").strip(),
                opted_in=opted_in is True,
                modified_at=parse_datetime(record.get("SystemModstamp")),
                phone=_text(record, m.contact_phone_field),
            )

    def removals(self, *, since: datetime) -> Iterator[CrmRemoval]:
        kinds: tuple[tuple[str, RecordKind], ...] = (("Account", "account"), ("Contact", "contact"))
        for sobject, kind in kinds:
            soql = self._soql(
                ["Id", "SystemModstamp"],
                sobject,
                ["IsDeleted = true", f"SystemModstamp >= {soql_datetime(since)}"],
            )
            for record in self._records(soql, include_deleted=True):
                yield CrmRemoval(
                    kind=kind,
                    id=str(record.get("Id") or ""),
                    modified_at=parse_datetime(record.get("SystemModstamp")),
                )
