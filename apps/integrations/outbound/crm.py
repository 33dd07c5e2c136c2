"""What the CRM providers share: the records they hand to the sync, the field mapping, the
source interface and the bounded retry of one call.

A CRM provider reads accounts (Salesforce Account, HubSpot company) and contacts and yields
them as `CrmAccount` / `CrmContact` with the raw values of the mapped fields; it does not
decide what they mean. `apps.subscribers.services.crm.crm_sync` turns them into customers
and subscribers.
"""

from __future__ import annotations

import logging
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from apps.core.exceptions import IntegrationError, TransientError

logger = logging.getLogger(__name__)

T = TypeVar("T")
RecordKind = Literal["account", "contact"]

# Keys of a mapping that name a field of the CRM ("" = not synced).
FIELD_KEYS = (
    "tier_field",
    "region_field",
    "monthly_fee_field",
    "currency_field",
    "external_key_field",
    "contact_opt_in_field",
    "contact_phone_field",
)
VALUE_MAP_KEYS = ("tier_values", "region_values")
TEXT_KEYS = ("account_filter",)


@dataclass(frozen=True)
class CrmAccount:
    """One account (Salesforce Account, HubSpot company). A mapped field's value is a string
    ("" when empty in the CRM); None means the field is not mapped (leave Clarion's value)."""

    id: str
    name: str
    modified_at: datetime | None
    tier: str | None = None
    region: str | None = None
    monthly_fee: str | None = None
    currency: str | None = None
    external_key: str | None = None


@dataclass(frozen=True)
class CrmContact:
    """One contact. `opted_in` is the mapped opt-in field (True when none is mapped);
    `account_id` is "" for a contact without an account."""

    id: str
    account_id: str
    email: str
    first_name: str
    last_name: str
    opted_in: bool
    modified_at: datetime | None
    phone: str | None = None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class CrmRemoval:
    """An account or contact deleted (Salesforce recycle bin) or archived (HubSpot)."""

    kind: RecordKind
    id: str
    modified_at: datetime | None


class NeedsFullSync(IntegrationError):
    """An incremental read is not possible (e.g. more changes than HubSpot's search returns):
    read everything instead."""


@dataclass(frozen=True)
class FieldMapping:
    """Which CRM fields mean what. Field names are the CRM's API names (Salesforce
    `Tier__c`, HubSpot `tier`); "" means "not synced". `tier_values` and `region_values`
    translate CRM values (case-insensitive) to Clarion's tier and region codes."""

    tier_field: str = ""
    region_field: str = ""
    monthly_fee_field: str = ""
    currency_field: str = ""
    external_key_field: str = ""
    contact_opt_in_field: str = ""
    contact_phone_field: str = ""
    account_filter: str = ""
    tier_values: Mapping[str, str] = field(default_factory=dict)
    region_values: Mapping[str, str] = field(default_factory=dict)

    @property
    def account_fields(self) -> list[str]:
        """The mapped account fields, without repeats."""
        names = (
            self.tier_field,
            self.region_field,
            self.monthly_fee_field,
            self.currency_field,
            self.external_key_field,
        )
        return list(dict.fromkeys(n for n in names if n))

    @classmethod
    def parse(
        cls,
        raw: Mapping[str, Any],
        *,
        defaults: Mapping[str, Any],
        field_name: re.Pattern[str],
        filter_allowed: bool,
    ) -> tuple[FieldMapping, dict[str, list[str]]]:
        """`defaults` overridden by `raw`, and what is wrong with it (by key)."""
        errors: dict[str, list[str]] = {}
        merged = {**defaults, **raw}
        known = {*FIELD_KEYS, *VALUE_MAP_KEYS, *(TEXT_KEYS if filter_allowed else ())}
        for key in sorted(set(merged) - known):
            errors.setdefault(key, []).append(
                f"Unknown mapping key {key!r}; the keys are: {', '.join(sorted(known))}."
            )
        values: dict[str, Any] = {}
        for key in FIELD_KEYS:
            value = merged.get(key, "")
            if value is None:
                value = ""
            if not isinstance(value, str) or (value and not field_name.fullmatch(value)):
                errors.setdefault(key, []).append(
                    f"{value!r} is not a field's API name (letters, digits and _), or empty."
                )
                value = ""
            values[key] = value
        for key in VALUE_MAP_KEYS:
            value = merged.get(key) or {}
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                errors.setdefault(key, []).append(
                    'Give an object of CRM value -> Clarion value, e.g. {"Gold": "enterprise"}.'
                )
                value = {}
            values[key] = {k.strip().lower(): v.strip() for k, v in value.items()}
        if filter_allowed:
            text = merged.get("account_filter", "") or ""
            if not isinstance(text, str):
                errors.setdefault("account_filter", []).append("Give a condition as text.")
                text = ""
            values["account_filter"] = text.strip()
        return cls(**values), errors


class CrmSource(ABC):
    """A CRM as the sync reads it. `since=None` reads everything; otherwise only what was
    modified at or after `since` (the CRM's own clock). Every method pages through the
    CRM's results lazily and retries a failed page with the source's `RetryPolicy`."""

    label: str  # "Salesforce"
    account_label: str  # "Account", "Company": how an error line names a record
    customer_id_field: str  # the Customer field that holds the account's id

    @abstractmethod
    def accounts(self, *, since: datetime | None) -> Iterator[CrmAccount]: ...

    @abstractmethod
    def contacts(self, *, since: datetime | None) -> Iterator[CrmContact]:
        """A full read (`since=None`) may leave out contacts that do not qualify (no e-mail
        address, not opted in); an incremental one yields every changed contact so that
        one that stopped qualifying is seen."""

    @abstractmethod
    def removals(self, *, since: datetime) -> Iterator[CrmRemoval]:
        """Accounts and contacts deleted or archived since `since`."""

    @abstractmethod
    def close(self) -> None:
        """Release the HTTP connections."""


@dataclass
class RetryPolicy:
    """Retry a call that raised TransientError up to `retries` more times, waiting
    `backoff_seconds` x 2^n (with jitter, at most `max_backoff_seconds`) in between.
    `on_retry(error, delay)` is told about each retry."""

    retries: int = 3
    backoff_seconds: float = 2.0
    max_backoff_seconds: float = 60.0
    on_retry: Callable[[TransientError, float], None] | None = None
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int) -> float:
        base = min(self.backoff_seconds * 2**attempt, self.max_backoff_seconds)
        return base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret

    def call(self, what: str, fn: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return fn()
            except TransientError as exc:
                if attempt >= self.retries:
                    raise TransientError(
                        f"{exc} (gave up after {attempt + 1} attempts at {what})"
                    ) from exc
                wait = self.delay(attempt)
                logger.info("%s failed (%s); retrying in %.2f s", what, exc, wait)
                if self.on_retry is not None:
                    self.on_retry(exc, wait)
                self.sleep(wait)
                attempt += 1
