"""Customer use-cases: create or update by external key, delete."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from django.db import IntegrityError, transaction

from apps.core.audit import Actor, audit_record
from apps.core.exceptions import Conflict, ValidationFailed
from apps.incidents.models.catalog import validate_time_zone
from apps.subscribers.choices import CustomerTier
from apps.subscribers.models import Customer
from apps.subscribers.models.customers import salesforce_id_18
from apps.subscribers.services.common import (
    UNCHANGED,
    FieldErrors,
    Unchanged,
    changes,
    check,
    printable,
    resolve_region,
)
from apps.subscribers.validators import normalize_locale, validate_external_key

Outcome = Literal["added", "updated", "unchanged"]
NAME_MAX = 200
FEE_MAX = Decimal("9999999999.99")
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?")
_HUBSPOT_ID = re.compile(r"[0-9]{1,32}")
_CURRENCY = re.compile(r"[A-Z]{3}")


def _customer_fields(
    *,
    creating: bool,
    name: str | Unchanged,
    tier: str | Unchanged,
    region: str | Unchanged | None,
    time_zone: str | Unchanged,
    locale: str | Unchanged,
    monthly_fee: Decimal | Unchanged | None,
    currency: str | Unchanged,
    salesforce_account_id: str | Unchanged,
    hubspot_company_id: str | Unchanged,
    active: bool | Unchanged,
) -> tuple[dict[str, Any], FieldErrors]:
    """The model fields to set, validated and normalised, and what is wrong."""
    errors: FieldErrors = {}
    wanted: dict[str, Any] = {}
    if not isinstance(name, Unchanged):
        name = name.strip()
        if not name:
            errors["name"] = ["Give the customer's name."]
        elif len(name) > NAME_MAX:
            errors["name"] = [f"Use at most {NAME_MAX} characters."]
        wanted["name"] = name
    elif creating:
        errors["name"] = ["Give the customer's name."]
    if not isinstance(tier, Unchanged):
        if tier not in CustomerTier.values:
            errors["tier"] = [
                f"Unknown tier {tier!r}: use one of {', '.join(CustomerTier.values)}."
            ]
        wanted["tier"] = tier
    if not isinstance(region, Unchanged):
        wanted["region"] = resolve_region(region, errors)
    if not isinstance(time_zone, Unchanged):
        wanted["time_zone"] = time_zone.strip() or "UTC"

        def _zone(value: str) -> str:
            validate_time_zone(value)
            return value

        check(errors, "time_zone", _zone, wanted["time_zone"])
    if not isinstance(locale, Unchanged):
        wanted["locale"] = check(errors, "locale", normalize_locale, locale or "en")
    if not isinstance(monthly_fee, Unchanged):
        # NaN and infinities parse as decimals, but any comparison of NaN raises.
        if monthly_fee is not None and not monthly_fee.is_finite():
            errors["monthly_fee"] = [
                f"{monthly_fee} is not an amount: give a number such as 1250.00, or leave it empty."
            ]
        elif monthly_fee is not None and not Decimal(0) <= monthly_fee <= FEE_MAX:
            errors["monthly_fee"] = [
                "Give an amount of 0 or more (two decimals), or leave it empty."
            ]
        elif monthly_fee is not None and monthly_fee != round(monthly_fee, 2):
            errors["monthly_fee"] = ["Use at most two decimals."]
        wanted["monthly_fee"] = monthly_fee
    if not isinstance(currency, Unchanged):
        currency = currency.strip().upper() or "USD"
        if not _CURRENCY.fullmatch(currency):
            errors["currency"] = [f"{currency!r} is not an ISO 4217 code such as USD or EUR."]
        wanted["currency"] = currency
    if not isinstance(salesforce_account_id, Unchanged):
        salesforce_account_id = salesforce_account_id.strip()
        if salesforce_account_id and not _SALESFORCE_ID.fullmatch(salesforce_account_id):
            errors["salesforce_account_id"] = [
                "A Salesforce account id has 15 or 18 letters and digits, e.g. 0015g00000AbCdEAAV."
            ]
        else:
            # Salesforce answers with 18 characters: a stored 15-character id would never
            # match, and the sync would create the customer a second time.
            salesforce_account_id = salesforce_id_18(salesforce_account_id)
        wanted["salesforce_account_id"] = salesforce_account_id
    if not isinstance(hubspot_company_id, Unchanged):
        hubspot_company_id = hubspot_company_id.strip()
        if hubspot_company_id and not _HUBSPOT_ID.fullmatch(hubspot_company_id):
            errors["hubspot_company_id"] = ["A HubSpot company id is a number, e.g. 9876543210."]
        wanted["hubspot_company_id"] = hubspot_company_id
    if not isinstance(active, Unchanged):
        wanted["active"] = active
    return wanted, errors


def _check_crm_ids(customer: Customer | None, wanted: dict[str, Any], errors: FieldErrors) -> None:
    others = Customer.objects.exclude(pk=customer.pk) if customer else Customer.objects.all()
    for field, label in (
        ("salesforce_account_id", "Salesforce account"),
        ("hubspot_company_id", "HubSpot company"),
    ):
        value = wanted.get(field)
        if value and field not in errors:
            holder = others.filter(**{field: value}).first()
            if holder is not None:
                errors[field] = [f"This {label} is already linked to {holder}."]


@transaction.atomic
def customer_upsert(
    *,
    external_key: str,
    name: str | Unchanged = UNCHANGED,
    tier: str | Unchanged = UNCHANGED,
    region: str | Unchanged | None = UNCHANGED,
    time_zone: str | Unchanged = UNCHANGED,
    locale: str | Unchanged = UNCHANGED,
    monthly_fee: Decimal | Unchanged | None = UNCHANGED,
    currency: str | Unchanged = UNCHANGED,
    salesforce_account_id: str | Unchanged = UNCHANGED,
    hubspot_company_id: str | Unchanged = UNCHANGED,
    active: bool | Unchanged = UNCHANGED,
    actor: Actor,
) -> tuple[Customer, Outcome]:
    """Create the customer with `external_key`, or update the one that has it.

    Arguments not given keep their value (or take the default for a new customer: tier
    standard, time zone UTC, locale en, currency USD, active). `region` is a region code;
    None or "" means no region. Returns the customer and what happened."""
    errors: FieldErrors = {}
    key = check(errors, "external_key", validate_external_key, external_key)
    existing = (
        Customer.objects.select_for_update().filter(external_key=key).first() if key else None
    )
    wanted, field_errors = _customer_fields(
        creating=existing is None,
        name=name,
        tier=tier,
        region=region,
        time_zone=time_zone,
        locale=locale,
        monthly_fee=monthly_fee,
        currency=currency,
        salesforce_account_id=salesforce_account_id,
        hubspot_company_id=hubspot_company_id,
        active=active,
    )
    errors.update(field_errors)
    _check_crm_ids(existing, wanted, errors)
    if errors or key is None:
        what = "updated" if existing else "created"
        raise ValidationFailed(f"The customer cannot be {what}.", fields=errors)

    if existing is not None:
        changed = changes(existing, wanted)
        if not changed:
            return existing, "unchanged"
        before = {field: printable(getattr(existing, field)) for field in changed}
        for field, value in changed.items():
            setattr(existing, field, value)
        existing.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=actor,
            action="customer.updated",
            obj=existing,
            details={
                f: {"from": before[f], "to": printable(getattr(existing, f))} for f in changed
            },
        )
        return existing, "updated"

    try:
        with transaction.atomic():
            customer = Customer.objects.create(external_key=key, **wanted)
    except IntegrityError as exc:
        raise Conflict(
            f"A customer with the key {key!r} was created at the same moment; try again.",
            fields={"external_key": ["Created by another request just now."]},
        ) from exc
    audit_record(
        actor=actor,
        action="customer.created",
        obj=customer,
        details={
            "tier": customer.tier,
            "region": customer.region.code if customer.region else None,
        },
    )
    return customer, "added"


@transaction.atomic
def customer_delete(*, customer: Customer, actor: Actor) -> None:
    """Delete a customer that has no subscribers (deactivate it otherwise) and that no
    segment names: a segment's empty customer list means "any customer", so deleting the
    only customer it names would turn it into everyone."""
    count = customer.subscribers.count()
    if count:
        raise Conflict(
            f"{customer} still has {count} subscriber(s). Deactivate the customer instead, or "
            "delete its subscribers first.",
            code="customer_has_subscribers",
        )
    segments = sorted(customer.segments.values_list("name", flat=True))
    if segments:
        raise Conflict(
            f"{customer} is named in the segment(s) {', '.join(repr(s) for s in segments)}. "
            "Remove it from them (or delete them) first, or deactivate the customer instead.",
            code="customer_in_segments",
        )
    audit_record(actor=actor, action="customer.deleted", obj=customer)
    customer.delete()
