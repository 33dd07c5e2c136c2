"""Segment use-cases: save, change and delete an audience rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from apps.core.audit import Actor, audit_record
from apps.core.exceptions import ValidationFailed
from apps.incidents.models import Region
from apps.subscribers.choices import CustomerTier
from apps.subscribers.models import Customer, Segment
from apps.subscribers.services.common import (
    UNCHANGED,
    FieldErrors,
    Unchanged,
    resolve_services,
)

NAME_MAX = 100


def _regions(codes: Sequence[str], errors: FieldErrors) -> list[Region]:
    found = {r.code: r for r in Region.objects.filter(code__in=list(codes))}
    unknown = sorted(set(codes) - set(found))
    if unknown:
        errors["regions"] = [
            f"Unknown region(s): {', '.join(unknown)}. Use the codes listed at /api/v1/regions/."
        ]
    return [found[c] for c in dict.fromkeys(codes) if c in found]


def _customers(keys: Sequence[str], errors: FieldErrors) -> list[Customer]:
    found = {c.external_key: c for c in Customer.objects.filter(external_key__in=list(keys))}
    unknown = sorted(set(keys) - set(found))
    if unknown:
        errors["customers"] = [f"Unknown customer key(s): {', '.join(unknown)}."]
    return [found[k] for k in dict.fromkeys(keys) if k in found]


def _segment_fields(
    *,
    segment: Segment | None,
    name: str | Unchanged,
    description: str | Unchanged,
    tiers: Sequence[str] | Unchanged,
    regions: Sequence[str] | Unchanged,
    services: Sequence[str] | Unchanged,
    customers: Sequence[str] | Unchanged,
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    errors: FieldErrors = {}
    fields: dict[str, Any] = {}
    related: dict[str, list[Any]] = {}
    if not isinstance(name, Unchanged):
        fields["name"] = name.strip()
        others = Segment.objects.exclude(pk=segment.pk) if segment else Segment.objects.all()
        if not fields["name"]:
            errors["name"] = ["Give the segment a name, e.g. 'Enterprise in Europe'."]
        elif len(fields["name"]) > NAME_MAX:
            errors["name"] = [f"Use at most {NAME_MAX} characters."]
        elif others.filter(name=fields["name"]).exists():
            errors["name"] = ["Another segment has this name."]
    if not isinstance(description, Unchanged):
        fields["description"] = description.strip()
    if not isinstance(tiers, Unchanged):
        unknown = sorted(set(tiers) - set(CustomerTier.values))
        if unknown:
            errors["tiers"] = [
                f"Unknown tier(s): {', '.join(unknown)}. Use {', '.join(CustomerTier.values)}."
            ]
        fields["tiers"] = list(dict.fromkeys(tiers))
    # Remembered apart from the lists: a region or service deleted elsewhere leaves the
    # list empty, and the segment must then select nobody, not everyone.
    if not isinstance(regions, Unchanged):
        related["regions"] = _regions(regions, errors)
        fields["limits_regions"] = bool(related["regions"])
    if not isinstance(services, Unchanged):
        related["services"] = resolve_services(services, errors)
        fields["limits_services"] = bool(related["services"])
    if not isinstance(customers, Unchanged):
        related["customers"] = _customers(customers, errors)
    if errors:
        what = "changed" if segment else "saved"
        raise ValidationFailed(f"The segment cannot be {what}.", fields=errors)
    return fields, related


ALL_DELETED = "(all deleted: selects nobody)"


def _describe(segment: Segment) -> dict[str, Any]:
    regions = sorted(r.code for r in segment.regions.all())
    services = sorted(s.slug for s in segment.services.all())
    return {
        "name": segment.name,
        "tiers": list(segment.tiers),
        "regions": regions or ([ALL_DELETED] if segment.limits_regions else []),
        "services": services or ([ALL_DELETED] if segment.limits_services else []),
        "customers": sorted(c.external_key for c in segment.customers.all()),
    }


@transaction.atomic
def segment_create(
    *,
    name: str,
    description: str = "",
    tiers: Sequence[str] = (),
    regions: Sequence[str] = (),
    services: Sequence[str] = (),
    customers: Sequence[str] = (),
    actor: Actor,
) -> Segment:
    """Save an audience rule: customer tiers, region codes, service slugs and customer
    external keys. Every non-empty list must match (any of its values); empty = no limit.
    If every region (or service) chosen is deleted later, the segment selects nobody."""
    fields, related = _segment_fields(
        segment=None,
        name=name,
        description=description,
        tiers=tiers,
        regions=regions,
        services=services,
        customers=customers,
    )
    segment = Segment.objects.create(**fields)
    for relation, rows in related.items():
        getattr(segment, relation).set(rows)
    audit_record(actor=actor, action="segment.created", obj=segment, details=_describe(segment))
    return segment


@transaction.atomic
def segment_update(
    *,
    segment: Segment,
    name: str | Unchanged = UNCHANGED,
    description: str | Unchanged = UNCHANGED,
    tiers: Sequence[str] | Unchanged = UNCHANGED,
    regions: Sequence[str] | Unchanged = UNCHANGED,
    services: Sequence[str] | Unchanged = UNCHANGED,
    customers: Sequence[str] | Unchanged = UNCHANGED,
    actor: Actor,
) -> Segment:
    """Change what is given; a list given replaces the old one (an empty one lifts that
    limit, also from a criterion whose regions or services were all deleted)."""
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    before = _describe(segment) | {"description": segment.description}
    fields, related = _segment_fields(
        segment=segment,
        name=name,
        description=description,
        tiers=tiers,
        regions=regions,
        services=services,
        customers=customers,
    )
    for field, value in fields.items():
        setattr(segment, field, value)
    for relation, rows in related.items():
        getattr(segment, relation).set(rows)
    after = _describe(segment) | {"description": segment.description}
    changed = {k: {"from": before[k], "to": v} for k, v in after.items() if before[k] != v}
    if not changed:
        return segment
    segment.save()
    audit_record(actor=actor, action="segment.updated", obj=segment, details=changed)
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment, actor: Actor) -> None:
    """Delete a saved segment (messages already sent keep their recipients)."""
    audit_record(actor=actor, action="segment.deleted", obj=segment)
    segment.delete()
