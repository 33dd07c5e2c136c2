"""Helpers shared by the subscriber use-cases: the "not given" marker and lookups of the
codes, slugs and keys that callers name things by."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, Final, TypeVar

from django.core.exceptions import ValidationError

from apps.incidents.models import Region, Service
from apps.subscribers.models import Customer

T = TypeVar("T")
FieldErrors = dict[str, list[str]]
ALL = "all"


class Unchanged(Enum):
    """Marks a keyword argument the caller did not give (None and "" are values)."""

    MARK = "unchanged"


UNCHANGED: Final = Unchanged.MARK


def check(errors: FieldErrors, field: str, validate: Callable[[str], T], value: str) -> T | None:
    """`validate(value)`, or None with its messages added to `errors[field]`."""
    try:
        return validate(value)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(str(m) for m in exc.messages)
        return None


def resolve_region(code: str | None, errors: FieldErrors, field: str = "region") -> Region | None:
    """The region with `code` (None or "" = no region)."""
    if not code:
        return None
    found = Region.objects.filter(code=code).first()
    if found is None:
        errors.setdefault(field, []).append(
            f"Unknown region {code!r}. Use the codes listed at /api/v1/regions/."
        )
    return found


def resolve_customer(
    key: str | None, errors: FieldErrors, field: str = "customer"
) -> Customer | None:
    """The customer with external key `key` (None or "" = no customer)."""
    if not key:
        return None
    found = Customer.objects.filter(external_key=key).first()
    if found is None:
        errors.setdefault(field, []).append(
            f"There is no customer with the key {key!r} in this tenant."
        )
    return found


def resolve_services(
    slugs: Sequence[str], errors: FieldErrors, field: str = "services"
) -> list[Service]:
    found = {s.slug: s for s in Service.objects.filter(slug__in=list(slugs))}
    unknown = sorted(set(slugs) - set(found))
    if unknown:
        errors.setdefault(field, []).append(
            f"Unknown service(s): {', '.join(unknown)}. Use the slugs listed at /api/v1/services/."
        )
    return [found[s] for s in dict.fromkeys(slugs) if s in found]


def check_choices(
    values: Sequence[str], allowed: Sequence[str], errors: FieldErrors, field: str, what: str
) -> list[str]:
    """`values` without repeats; unknown ones and an empty list are errors."""
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        errors.setdefault(field, []).append(
            f"Unknown {what}(s): {', '.join(unknown)}. Use {', '.join(allowed)}."
        )
    elif not values:
        errors.setdefault(field, []).append(f"Choose at least one of {', '.join(allowed)}.")
    return list(dict.fromkeys(values))


def changes(obj: Any, wanted: dict[str, Any]) -> dict[str, Any]:
    """The entries of `wanted` that differ from `obj`'s attributes."""
    return {name: value for name, value in wanted.items() if getattr(obj, name) != value}


def printable(value: Any) -> Any:
    """A value for an audit entry's details (JSON)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list | tuple):
        return [printable(v) for v in value]
    return str(value)
