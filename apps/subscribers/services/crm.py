"""CRM sync: the tenant's Salesforce or HubSpot accounts and contacts become customers and
subscribers.

Rules, in support-team terms:

- **Accounts -> customers**, matched by their CRM id (`salesforce_account_id`,
  `hubspot_company_id`), else by the mapped external-key field, else created with the key
  `<provider>-<id>`. The mapped fields set tier, region, monthly fee and currency; a CRM field
  left empty keeps Clarion's value (new customers take the defaults).
- **Contacts -> subscribers** (source `crm`, confirmed: the opt-in field is the tenant's
  record of consent), matched by the contact they came from, else by e-mail address. Only
  contacts with an e-mail address and, when an opt-in field is mapped, opted in.
- **Never resurrected:** someone who unsubscribed (or whose address is suppressed as
  unsubscribed or complained) is skipped and counted, never subscribed again.
- **Deleted upstream** (or no longer selected): the customer is deactivated (its people get
  nothing), a subscriber the sync created goes back to "pending confirmation". Nothing is
  deleted; a record that comes back is reactivated.
- A **malformed record** (invalid e-mail address, unknown tier or region...) is rejected with
  its reason in the log; the others sync. A refused credential (401) stops the run;
  timeouts, 429 and 5xx are retried with backoff, a bounded number of times.
- **Incremental** from the cursor (`last_synced_at`, the CRM's own modification time) with
  deletions read from the CRM; a **full** run (the first, one a day, or on request) reads
  everything and deactivates what it did not see. The cursor only moves when a run finishes.
- One sync per connection at a time (PostgreSQL advisory lock); a second one is refused at
  once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.core.audit import Actor, actor_label, audit_record
from apps.core.exceptions import (
    ApplicationError,
    Conflict,
    IntegrationError,
    TransientError,
    ValidationFailed,
)
from apps.core.tenancy import tenant_lock_name, tenant_session_lock
from apps.incidents.models import Region
from apps.integrations.outbound.crm import (
    CrmAccount,
    CrmContact,
    CrmSource,
    FieldMapping,
    NeedsFullSync,
    RetryPolicy,
)
from apps.integrations.outbound.hubspot import provider as hubspot
from apps.integrations.outbound.hubspot.client import HubSpotClient
from apps.integrations.outbound.salesforce import provider as salesforce
from apps.integrations.outbound.salesforce.client import SalesforceClient
from apps.subscribers.choices import (
    CustomerTier,
    SubscriberChannel,
    SubscriberSource,
    SuppressionReason,
)
from apps.subscribers.models import (
    CrmConnection,
    CrmLink,
    CrmObject,
    CrmProvider,
    CrmSyncLog,
    CrmSyncStatus,
    Customer,
    Subscriber,
    Suppression,
)
from apps.subscribers.services.common import UNCHANGED, FieldErrors, Unchanged, printable
from apps.subscribers.services.customers import customer_upsert
from apps.subscribers.services.subscribers import (
    subscriber_confirm,
    subscriber_create,
    subscriber_snapshot,
    subscriber_update,
)
from apps.subscribers.validators import normalize_email, validate_webhook_url

# The CRM's clocks and commits are not ours: read a little before the cursor (re-reading a
# record changes nothing).
CURSOR_OVERLAP = timedelta(minutes=2)
MAX_ERROR_LINES = 200
REFRESHED_FIELDS = (
    "enabled",
    "base_url",
    "mapping",
    "sync_interval_minutes",
    "last_synced_at",
    "last_full_sync_at",
)
CREDENTIAL_KEYS = ("access_token", "username", "password", "security_token", "domain")
DEFAULT_MAPPINGS: dict[str, dict[str, Any]] = {
    CrmProvider.SALESFORCE: salesforce.DEFAULT_MAPPING,
    CrmProvider.HUBSPOT: hubspot.DEFAULT_MAPPING,
}


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def retry_policy() -> RetryPolicy:
    """Retries of a failed CRM call: `CLARION_CRM_RETRIES` (default 3) more attempts,
    `CLARION_CRM_BACKOFF_SECONDS` (default 2) doubled each time, with jitter."""
    return RetryPolicy(
        retries=int(_setting("CLARION_CRM_RETRIES", 3)),
        backoff_seconds=_setting("CLARION_CRM_BACKOFF_SECONDS", 2.0),
    )


# --- the connection -----------------------------------------------------------------------


def crm_mapping(
    provider: str, mapping: Mapping[str, Any]
) -> tuple[FieldMapping, dict[str, list[str]]]:
    """The provider's default mapping overridden by `mapping`, and what is wrong with it."""
    if provider == CrmProvider.SALESFORCE:
        parsed, errors = FieldMapping.parse(
            mapping,
            defaults=salesforce.DEFAULT_MAPPING,
            field_name=salesforce.FIELD_NAME,
            filter_allowed=True,
        )
    else:
        parsed, errors = FieldMapping.parse(
            mapping,
            defaults=hubspot.DEFAULT_MAPPING,
            field_name=hubspot.FIELD_NAME,
            filter_allowed=False,
        )
    unknown_tiers = sorted(set(parsed.tier_values.values()) - set(CustomerTier.values))
    if unknown_tiers:
        errors.setdefault("tier_values", []).append(
            f"Unknown tier(s) {', '.join(unknown_tiers)}: use {', '.join(CustomerTier.values)}."
        )
    codes = set(Region.objects.values_list("code", flat=True))
    unknown_regions = sorted(set(parsed.region_values.values()) - codes)
    if unknown_regions:
        errors.setdefault("region_values", []).append(
            f"Unknown region code(s) {', '.join(unknown_regions)}: use "
            f"{', '.join(sorted(codes)) or 'the codes of your regions'}."
        )
    return parsed, errors


def crm_stored_credentials(connection: CrmConnection) -> dict[str, str]:
    """The connection's credentials as stored now, decrypted (never show them to anyone)."""
    saved = (
        CrmConnection.objects.filter(pk=connection.pk).values_list("credentials", flat=True).first()
    )
    try:
        stored = json.loads(saved or "{}")
    except ValueError:
        stored = {}
    return {k: str(v) for k, v in stored.items() if k in CREDENTIAL_KEYS and v}


def _check_connection(
    *,
    provider: str,
    base_url: str,
    credentials: dict[str, str],
    interval: int,
    current_url: str | None = None,
) -> tuple[str, FieldErrors]:
    """The normalised URL and what is wrong. A URL already stored (`current_url`) is not
    checked again."""
    errors: FieldErrors = {}
    url = base_url.strip().rstrip("/")
    if url == current_url:
        pass
    elif provider == CrmProvider.SALESFORCE and not url:
        errors["base_url"] = ["Give your instance URL, e.g. https://acme.my.salesforce.com."]
    elif url:
        try:
            # https to a public host; DEBUG (a developer's machine) allows a local fake.
            url = validate_webhook_url(url, https_only=not settings.DEBUG)
        except ValidationError as exc:
            errors["base_url"] = list(exc.messages)
    module = salesforce if provider == CrmProvider.SALESFORCE else hubspot
    problems = module.credentials_problems(credentials)
    if problems:
        errors["credentials"] = problems
    if not 5 <= interval <= 24 * 60:
        errors["sync_interval_minutes"] = ["Give a number of minutes from 5 to 1440."]
    return url, errors


def _mapping_fields(errors: dict[str, list[str]]) -> FieldErrors:
    return {"mapping": [f"{key}: {m}" for key, messages in errors.items() for m in messages]}


@transaction.atomic
def crm_connection_create(
    *,
    provider: str,
    credentials: Mapping[str, str],
    base_url: str = "",
    mapping: Mapping[str, Any] | None = None,
    enabled: bool = True,
    sync_interval_minutes: int = 60,
    actor: Actor,
) -> CrmConnection:
    """Install a CRM for the tenant (one per provider).

    `credentials`: Salesforce `access_token` (with `base_url`, the instance URL) or
    `username`, `password`, `security_token` (and `domain` login|test); HubSpot
    `access_token` (a private app's). They are stored encrypted. `mapping` overrides the
    provider's default field mapping (see the provider's README)."""
    if provider not in CrmProvider.values:
        raise ValidationFailed(
            "The CRM connection cannot be created.",
            fields={"provider": [f"Use one of {', '.join(CrmProvider.values)}."]},
        )
    given = {k: str(v).strip() for k, v in credentials.items() if k in CREDENTIAL_KEYS and v}
    url, errors = _check_connection(
        provider=provider, base_url=base_url, credentials=given, interval=sync_interval_minutes
    )
    if mapping is not None and not isinstance(mapping, Mapping):
        raise ValidationFailed(
            "The CRM connection cannot be created.",
            fields={"mapping": ['Give a JSON object, e.g. {"tier_field": "Tier__c"}.']},
        )
    merged = {**DEFAULT_MAPPINGS[provider], **(mapping or {})}
    _, mapping_errors = crm_mapping(provider, merged)
    if mapping_errors:
        errors.update(_mapping_fields(mapping_errors))
    if errors:
        raise ValidationFailed("The CRM connection cannot be created.", fields=errors)
    if CrmConnection.objects.filter(provider=provider).exists():
        raise Conflict(
            f"This tenant already has a {CrmProvider(provider).label} connection; change it "
            "instead.",
            fields={"provider": ["Already installed."]},
        )
    connection = CrmConnection.objects.create(
        provider=provider,
        base_url=url,
        credentials=json.dumps(given),
        mapping=merged,
        enabled=enabled,
        sync_interval_minutes=sync_interval_minutes,
    )
    audit_record(
        actor=actor,
        action="crm_connection.created",
        obj=connection,
        details={"provider": provider, "base_url": url, "enabled": enabled},
    )
    return connection


@transaction.atomic
def crm_connection_update(
    *,
    connection: CrmConnection,
    credentials: Mapping[str, str] | Unchanged = UNCHANGED,
    base_url: str | Unchanged = UNCHANGED,
    mapping: Mapping[str, Any] | Unchanged = UNCHANGED,
    enabled: bool | Unchanged = UNCHANGED,
    sync_interval_minutes: int | Unchanged = UNCHANGED,
    actor: Actor,
) -> CrmConnection:
    """Change what is given. `credentials` are merged into the stored ones (an empty value
    keeps the stored one). A changed mapping makes the next sync a full one."""
    connection = CrmConnection.objects.select_for_update().get(pk=connection.pk)
    stored = crm_stored_credentials(connection)
    given = (
        {}
        if isinstance(credentials, Unchanged)
        else {k: str(v).strip() for k, v in credentials.items() if k in CREDENTIAL_KEYS and v}
    )
    if given.get("access_token"):
        # A token replaces a password login (and the other way round).
        stored = {}
    elif given.get("username"):
        stored.pop("access_token", None)
    new_credentials = {**stored, **given}
    url, errors = _check_connection(
        provider=connection.provider,
        base_url=connection.base_url if isinstance(base_url, Unchanged) else base_url,
        credentials=new_credentials,
        interval=connection.sync_interval_minutes
        if isinstance(sync_interval_minutes, Unchanged)
        else sync_interval_minutes,
        current_url=connection.base_url,
    )
    new_mapping = connection.mapping
    if not isinstance(mapping, Unchanged):
        new_mapping = {**DEFAULT_MAPPINGS[connection.provider], **mapping}
        _, mapping_errors = crm_mapping(connection.provider, new_mapping)
        if mapping_errors:
            errors.update(_mapping_fields(mapping_errors))
    if errors:
        raise ValidationFailed("The CRM connection cannot be changed.", fields=errors)

    details: dict[str, Any] = {}
    wanted: dict[str, Any] = {"base_url": url, "mapping": new_mapping}
    if not isinstance(enabled, Unchanged):
        wanted["enabled"] = enabled
    if not isinstance(sync_interval_minutes, Unchanged):
        wanted["sync_interval_minutes"] = sync_interval_minutes
    for field, value in wanted.items():
        if getattr(connection, field) != value:
            details[field] = {"from": printable(getattr(connection, field)), "to": printable(value)}
            setattr(connection, field, value)
    if "mapping" in details:
        connection.last_full_sync_at = None
    if given and new_credentials != crm_stored_credentials(connection):
        connection.credentials = json.dumps(new_credentials)
        details["credentials"] = "changed"
    if details:
        connection.save()
        audit_record(actor=actor, action="crm_connection.updated", obj=connection, details=details)
    return connection


@transaction.atomic
def crm_connection_delete(*, connection: CrmConnection, actor: Actor) -> None:
    """Uninstall a CRM: its credentials, logs and links go; the customers and subscribers it
    brought stay (deactivate them yourself if they should hear nothing)."""
    audit_record(
        actor=actor,
        action="crm_connection.deleted",
        obj=connection,
        details={"provider": connection.provider},
    )
    connection.delete()


# The Customer field holding each CRM's account id (the providers say which).
CUSTOMER_ID_FIELD: dict[str, str] = {
    CrmProvider.SALESFORCE.value: salesforce.SalesforceProvider.customer_id_field,
    CrmProvider.HUBSPOT.value: hubspot.HubSpotProvider.customer_id_field,
}
# What the sync writes on a linked customer (`_apply_account`): its own copy would be undone.
CRM_SYNCED = ("name", "tier", "region", "monthly_fee", "currency")


def crm_owner(customer: Customer) -> CrmConnection | None:
    """The enabled CRM connection whose sync keeps `customer` up to date, if any."""
    for connection in CrmConnection.objects.filter(enabled=True):
        if getattr(customer, CUSTOMER_ID_FIELD.get(connection.provider, ""), ""):
            return connection
    return None


def crm_source(connection: CrmConnection, *, retry: RetryPolicy) -> CrmSource:
    """The provider that reads `connection`'s CRM (a password login happens here)."""
    mapping, errors = crm_mapping(connection.provider, connection.mapping or {})
    if errors:
        raise ValidationFailed(
            "The field mapping is invalid: "
            + "; ".join(f"{k}: {m}" for k, ms in errors.items() for m in ms)
        )
    credentials = crm_stored_credentials(connection)
    timeout = _setting("CLARION_CRM_TIMEOUT_SECONDS", 30.0)
    if connection.provider == CrmProvider.SALESFORCE:
        client = SalesforceClient(
            instance_url=connection.base_url,
            access_token=credentials.get("access_token", ""),
            username=credentials.get("username", ""),
            password=credentials.get("password", ""),
            security_token=credentials.get("security_token", ""),
            domain=credentials.get("domain", "login"),
            timeout=timeout,
        )
        return salesforce.SalesforceProvider(client=client, mapping=mapping, retry=retry)
    return hubspot.HubSpotProvider(
        client=HubSpotClient(
            access_token=credentials.get("access_token", ""),
            host=connection.base_url,
            timeout=timeout,
        ),
        mapping=mapping,
        retry=retry,
    )


# --- one run ------------------------------------------------------------------------------


def _reason(exc: ApplicationError) -> str:
    if exc.fields:
        return "; ".join(f"{field}: {m}" for field, ms in exc.fields.items() for m in ms)
    return exc.message


class _Sync:
    """Applies what a source yields, counting and collecting rejections."""

    def __init__(self, *, connection: CrmConnection, source: CrmSource) -> None:
        self.connection = connection
        self.source = source
        self.actor = connection.actor
        self.mapping, _ = crm_mapping(connection.provider, connection.mapping or {})
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []
        self.notes: list[str] = []  # shown with the errors, but not a problem
        self.cursor = connection.last_synced_at
        self.links = {
            (link.kind, link.external_id): link
            for link in connection.links.select_related("customer", "subscriber")
        }
        # Which contact each subscriber came from: two contacts with one e-mail address are
        # duplicates, not one person updated twice.
        self.contact_of = {
            link.subscriber_id: link.external_id
            for link in self.links.values()
            if link.kind == CrmObject.CONTACT and link.subscriber_id and link.removed_at is None
        }
        self.seen: dict[str, set[str]] = {CrmObject.ACCOUNT: set(), CrmObject.CONTACT: set()}
        self.regions: dict[str, str] = {}
        for code, name in Region.objects.values_list("code", "name"):
            self.regions[name.strip().lower()] = code
        for code in Region.objects.values_list("code", flat=True):
            self.regions[code.lower()] = code
        self.now = timezone.now()

    # --- bookkeeping -----------------------------------------------------------------------

    def advance(self, moment: datetime | None) -> None:
        if moment is not None and (self.cursor is None or moment > self.cursor):
            self.cursor = moment

    def reject(self, what: str, reason: str) -> None:
        self.counts["rejected"] += 1
        self.errors.append(f"{what}: {reason}")

    def retried(self, error: TransientError, delay: float) -> None:
        self.counts["retries"] += 1

    def _link(
        self,
        kind: str,
        external_id: str,
        *,
        customer: Customer | None = None,
        subscriber: Subscriber | None = None,
    ) -> None:
        link = self.links.get((kind, external_id))
        if kind == CrmObject.CONTACT and subscriber is not None:
            self.contact_of[subscriber.pk] = external_id
        if link is None:
            self.links[(kind, external_id)] = CrmLink.objects.create(
                connection=self.connection,
                kind=kind,
                external_id=external_id,
                customer=customer,
                subscriber=subscriber,
            )
            return
        if (
            link.customer_id != (customer.pk if customer else None)
            or link.subscriber_id != (subscriber.pk if subscriber else None)
            or link.removed_at is not None
        ):
            link.customer, link.subscriber, link.removed_at = customer, subscriber, None
            link.save(update_fields=["customer", "subscriber", "removed_at"])

    # --- accounts --------------------------------------------------------------------------

    def _tier(self, value: str) -> str:
        wanted = value.strip().lower()
        tier = self.mapping.tier_values.get(wanted)
        if tier is None:
            tier = next(
                (t.value for t in CustomerTier if wanted in (t.value, str(t.label).lower())),
                None,
            )
        if tier is None:
            raise ValidationFailed(
                "rejected",
                fields={
                    "tier": [
                        f"Unknown tier {value!r} in {self.mapping.tier_field}: use "
                        f"{', '.join(str(t.label) for t in CustomerTier)}, or map it in "
                        "tier_values."
                    ]
                },
            )
        return tier

    def _region(self, value: str) -> str:
        wanted = value.strip().lower()
        code = self.mapping.region_values.get(wanted) or self.regions.get(wanted)
        if code is None:
            raise ValidationFailed(
                "rejected",
                fields={
                    "region": [
                        f"Unknown region {value!r} in {self.mapping.region_field}: use a "
                        "region's code or name, or map it in region_values."
                    ]
                },
            )
        return code

    def _fee(self, value: str) -> Decimal:
        try:
            return Decimal(value.replace(",", "").strip()).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
        except InvalidOperation as exc:
            raise ValidationFailed(
                "rejected",
                fields={
                    "monthly_fee": [
                        f"{value!r} in {self.mapping.monthly_fee_field} is not an amount."
                    ]
                },
            ) from exc

    def account(self, record: CrmAccount) -> None:
        self.advance(record.modified_at)
        self.seen[CrmObject.ACCOUNT].add(record.id)
        what = f"{self.source.account_label} {record.id} ({record.name or 'no name'})"
        try:
            with transaction.atomic():
                self._apply_account(record)
        except ApplicationError as exc:
            self.reject(what, _reason(exc))

    def _apply_account(self, record: CrmAccount) -> None:
        arguments: dict[str, Any] = {"name": record.name}
        if record.tier:
            arguments["tier"] = self._tier(record.tier)
        if record.region:
            arguments["region"] = self._region(record.region)
        if record.monthly_fee:
            arguments["monthly_fee"] = self._fee(record.monthly_fee)
        if record.currency:
            arguments["currency"] = record.currency
        id_field = self.source.customer_id_field
        arguments[id_field] = record.id
        existing = Customer.objects.filter(**{id_field: record.id}).first() if record.id else None
        link = self.links.get((CrmObject.ACCOUNT, record.id))
        if existing is not None:
            key = existing.external_key
            if link is not None and link.removed_at is not None and not existing.active:
                arguments["active"] = True  # deactivated by the sync, back upstream
        else:
            key = record.external_key or f"{self.connection.provider}-{record.id}"
            holder = Customer.objects.filter(external_key=key).first()
            if holder is not None and getattr(holder, id_field):
                raise ValidationFailed(
                    "rejected",
                    fields={
                        "external_key": [
                            f"Customer {key!r} is already linked to {self.source.account_label} "
                            f"{getattr(holder, id_field)}; two accounts name the same key."
                        ]
                    },
                )
        customer, outcome = customer_upsert(external_key=key, **arguments, actor=self.actor)
        self.counts[f"customers_{'created' if outcome == 'added' else outcome}"] += 1
        self._link(CrmObject.ACCOUNT, record.id, customer=customer)

    # --- contacts --------------------------------------------------------------------------

    def contact(self, record: CrmContact) -> None:
        self.advance(record.modified_at)
        link = self.links.get((CrmObject.CONTACT, record.id))
        if not (record.opted_in and record.email):
            if link is not None and link.removed_at is None:
                self.remove(link, why=f"no longer selected in {self.source.label}")
            return
        self.seen[CrmObject.CONTACT].add(record.id)
        what = f"Contact {record.id} ({record.email})"
        try:
            with transaction.atomic():
                self._apply_contact(record, link)
        except ApplicationError as exc:
            self.reject(what, _reason(exc))

    def _customer_key(self, record: CrmContact) -> str | Unchanged | None:
        if not record.account_id:
            return UNCHANGED
        id_field = self.source.customer_id_field
        customer = Customer.objects.filter(**{id_field: record.account_id}).first()
        if customer is None:
            raise ValidationFailed(
                "rejected",
                fields={
                    "account": [
                        f"Its {self.source.account_label.lower()} {record.account_id} is not "
                        "in Clarion (rejected, or left out by the account filter)."
                    ]
                },
            )
        return customer.external_key

    def _apply_contact(self, record: CrmContact, link: CrmLink | None) -> None:
        customer = self._customer_key(record)
        try:
            email = normalize_email(record.email)
        except ValidationError as exc:
            raise ValidationFailed("rejected", fields={"email": list(exc.messages)}) from exc
        phone = record.phone or UNCHANGED
        name = record.name or UNCHANGED
        subscriber = link.subscriber if link is not None else None
        if subscriber is None:
            subscriber = Subscriber.objects.filter(email=email).first()
        other = self.contact_of.get(subscriber.pk) if subscriber is not None else None
        if other is not None and other != record.id:
            raise ValidationFailed(
                "rejected",
                fields={
                    "email": [
                        f"Contact {other} has the same e-mail address; merge the duplicates in "
                        f"{self.source.label}."
                    ]
                },
            )
        if subscriber is None:
            opted_out = Suppression.objects.filter(
                channel=SubscriberChannel.EMAIL,
                address=email,
                reason__in=[SuppressionReason.UNSUBSCRIBED, SuppressionReason.COMPLAINED],
            ).exists()
            if opted_out:
                self.counts["subscribers_skipped_unsubscribed"] += 1
                return
            created = subscriber_create(
                email=email,
                phone="" if isinstance(phone, Unchanged) else phone,
                name="" if isinstance(name, Unchanged) else name,
                customer=None if isinstance(customer, Unchanged) else customer,
                source=SubscriberSource.CRM,
                confirmed=True,
                actor=self.actor,
            )
            self.counts["subscribers_created"] += 1
            self._link(CrmObject.CONTACT, record.id, subscriber=created)
            return
        if subscriber.unsubscribed_at is not None:
            self.counts["subscribers_skipped_unsubscribed"] += 1
            self._link(CrmObject.CONTACT, record.id, subscriber=subscriber)
            return
        before = subscriber_snapshot(subscriber)
        subscriber = subscriber_update(
            subscriber=subscriber,
            email=email,
            phone=phone,
            name=name,
            customer=customer,
            actor=self.actor,
        )
        came_back = link is not None and link.removed_at is not None
        if came_back and subscriber.source == SubscriberSource.CRM and not subscriber.confirmed:
            subscriber = subscriber_confirm(subscriber=subscriber, actor=self.actor)
        changed = subscriber_snapshot(subscriber) != before
        self.counts[f"subscribers_{'updated' if changed else 'unchanged'}"] += 1
        self._link(CrmObject.CONTACT, record.id, subscriber=subscriber)

    # --- deletions -------------------------------------------------------------------------

    def remove(self, link: CrmLink, *, why: str) -> None:
        """Deactivate what `link` became: the customer, or the subscriber if the sync created
        it (someone who subscribed on their own keeps their subscription)."""
        what = f"{link.get_kind_display()} {link.external_id}"
        try:
            with transaction.atomic():
                if link.kind == CrmObject.ACCOUNT:
                    self._deactivate_customer(link)
                else:
                    self._deactivate_subscriber(link, why=why)
                CrmLink.objects.filter(pk=link.pk).update(removed_at=self.now)
        except ApplicationError as exc:
            self.reject(what, _reason(exc))
            return
        link.removed_at = self.now
        if link.subscriber_id is not None:
            self.contact_of.pop(link.subscriber_id, None)

    def _deactivate_customer(self, link: CrmLink) -> None:
        customer = link.customer
        if customer is None or not customer.active:
            return
        customer_upsert(external_key=customer.external_key, active=False, actor=self.actor)
        self.counts["customers_deactivated"] += 1

    def _deactivate_subscriber(self, link: CrmLink, *, why: str) -> None:
        if link.subscriber_id is None:
            return
        subscriber = Subscriber.objects.select_for_update().get(pk=link.subscriber_id)
        if (
            subscriber.source != SubscriberSource.CRM
            or subscriber.confirmed_at is None
            or subscriber.unsubscribed_at is not None
        ):
            return
        confirmed_at = subscriber.confirmed_at
        subscriber.confirmed_at = None
        subscriber.save(update_fields=["confirmed_at", "updated_at"])
        audit_record(
            actor=self.actor,
            action="subscriber.deactivated",
            obj=subscriber,
            details={
                "reason": why,
                "contact": link.external_id,
                "confirmed_at_was": confirmed_at.isoformat(),
            },
        )
        self.counts["subscribers_deactivated"] += 1

    # --- the run ---------------------------------------------------------------------------

    def run(self, *, full: bool) -> None:
        since = None if full or self.cursor is None else self.cursor - CURSOR_OVERLAP
        for account in self.source.accounts(since=since):
            self.account(account)
        for contact in self.source.contacts(since=since):
            self.contact(contact)
        if since is None:
            self.remove_unseen()
            return
        for removal in self.source.removals(since=since):
            self.advance(removal.modified_at)
            gone = self.links.get((removal.kind, removal.id))
            if gone is not None and gone.removed_at is None:
                self.remove(gone, why=f"deleted in {self.source.label}")

    def remove_unseen(self) -> None:
        """After a full read: deactivate what the CRM no longer has (or no longer selects).
        A read that found no account (or no contact) at all is far more likely a wrong
        filter or mapping than an emptied CRM: then nothing of that kind is deactivated."""
        label = self.source.label
        for kind, what in ((CrmObject.ACCOUNT, "accounts"), (CrmObject.CONTACT, "contacts")):
            linked = [
                link
                for link in self.links.values()
                if link.kind == kind and link.removed_at is None
            ]
            if linked and not self.seen[kind]:
                self.errors.append(
                    f"{label} returned no {what} to sync, so none of the {len(linked)} synced "
                    "before was deactivated; check the connection's filter and mapping."
                )
                continue
            for link in linked:
                if link.external_id not in self.seen[kind]:
                    self.remove(link, why=f"not in {label} any more, or no longer selected")

    def errors_text(self, failure: str) -> str:
        lines = [failure] if failure else []
        lines += self.errors[:MAX_ERROR_LINES]
        if len(self.errors) > MAX_ERROR_LINES:
            lines.append(f"... and {len(self.errors) - MAX_ERROR_LINES} more.")
        return "\n".join(lines + self.notes)


def crm_sync_lock_key(connection: CrmConnection) -> str:
    """The key of the advisory lock a sync of `connection` holds (hashed with
    `hashtextextended(key, 0)`); per schema, since every tenant numbers its connections."""
    return tenant_lock_name(f"crm_sync:{connection.pk}")


def _sync_lock(connection: CrmConnection) -> AbstractContextManager[bool]:
    """Whether this session got the connection's lock (held until the block ends). A
    session-level lock: the sync commits as it goes, not in one transaction."""
    return tenant_session_lock(f"crm_sync:{connection.pk}", wait=False)


def _full_due(connection: CrmConnection) -> bool:
    hours = _setting("CLARION_CRM_FULL_SYNC_HOURS", 24.0)
    last = connection.last_full_sync_at
    return (
        connection.last_synced_at is None
        or last is None
        or last <= timezone.now() - timedelta(hours=hours)
    )


def crm_sync(*, connection: CrmConnection, actor: Actor, full: bool | None = None) -> CrmSyncLog:
    """Sync the connection's CRM into customers and subscribers and return the run's log.

    `full=None` reads only what changed since the cursor, unless a full run is due (the
    first run, a changed mapping, or the last full run more than `CLARION_CRM_FULL_SYNC_HOURS`
    (24) hours ago). Records are applied as they are read, each in its own transaction. The
    log's status is ok, partial (finished, but records were rejected: see its errors) or
    failed (the run stopped: a refused credential, a CRM still failing after the retries);
    the cursor moves only when a run finishes.

    Raises Conflict at once if a sync of this connection is already running."""
    with _sync_lock(connection) as acquired:
        if not acquired:
            raise Conflict(
                f"A {connection} sync is already running; its log shows the outcome when it "
                "finishes.",
                code="crm_sync_running",
            )
        # A run still "running" while nobody holds the lock was interrupted (worker killed).
        CrmSyncLog.objects.filter(connection=connection, status=CrmSyncStatus.RUNNING).update(
            status=CrmSyncStatus.FAILED,
            finished_at=timezone.now(),
            errors="Interrupted before it finished (the worker stopped).",
        )
        # Not the credentials: they are read (and decrypted) when the run starts, so that
        # a key that cannot decrypt them is reported in the log.
        connection.refresh_from_db(fields=REFRESHED_FIELDS)
        full = _full_due(connection) if full is None else full
        log = CrmSyncLog.objects.create(
            connection=connection,
            started_at=timezone.now(),
            full=full,
            started_by=actor_label(actor)[:200],
        )
        failure = ""
        sync: _Sync | None = None
        source: CrmSource | None = None
        retry = retry_policy()
        try:
            source = crm_source(connection, retry=retry)
            sync = _Sync(connection=connection, source=source)
            retry.on_retry = sync.retried
            try:
                sync.run(full=full)
            except NeedsFullSync as exc:
                sync.notes.append(f"{exc}: read everything instead.")
                log.full = full = True
                sync.run(full=True)
        except (IntegrationError, ApplicationError) as exc:
            failure = exc.message if isinstance(exc, ApplicationError) else str(exc)
        except Exception as exc:
            _finish(log, connection, sync, full=full, failure=f"Internal error: {exc!r}")
            raise
        finally:
            if source is not None:
                source.close()
        _finish(log, connection, sync, full=full, failure=failure)
    return log


def _finish(
    log: CrmSyncLog, connection: CrmConnection, sync: _Sync | None, *, full: bool, failure: str
) -> None:
    counts = dict(sync.counts) if sync else {}
    if failure:
        log.status = CrmSyncStatus.FAILED
    else:
        log.status = CrmSyncStatus.PARTIAL if sync and sync.errors else CrmSyncStatus.OK
    log.finished_at = timezone.now()
    log.counts = counts
    log.errors = sync.errors_text(failure) if sync else failure
    log.save(update_fields=["status", "finished_at", "counts", "errors", "full"])
    if failure or sync is None:
        return
    fields = ["last_synced_at"]
    connection.last_synced_at = sync.cursor
    if full:
        connection.last_full_sync_at = log.started_at
        fields.append("last_full_sync_at")
    connection.save(update_fields=fields)


def crm_sync_due() -> int:
    """Per-tenant periodic job: sync every enabled connection whose last run started at
    least its interval ago (60 minutes by default). Returns how many ran; a connection
    whose sync is still running is left alone."""
    now = timezone.now()
    ran = 0
    due = (
        CrmConnection.objects.filter(enabled=True)
        .defer("credentials")
        .annotate(last_run=Max("logs__started_at"))
    )
    for connection in due:
        last_run = getattr(connection, "last_run", None)
        if last_run is not None and last_run > now - connection.sync_interval:
            continue
        try:
            crm_sync(connection=connection, actor="schedule")
        except Conflict:
            continue
        ran += 1
    return ran
