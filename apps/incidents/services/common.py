"""Helpers shared by the incident and maintenance use-cases."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Final

from django.db import models

from apps.incidents.choices import ComponentStatus
from apps.incidents.models import Region, Service

# Clock skew between a client and the server is not a reason to refuse a time.
PAST_TOLERANCE = timedelta(minutes=1)


class Unchanged(Enum):
    """Marks a keyword argument the caller did not give (None is a value: 'unknown')."""

    MARK = "unchanged"


UNCHANGED: Final = Unchanged.MARK

FieldErrors = dict[str, list[str]]


def resolve_services(
    statuses: Mapping[str, str], *, field: str = "services"
) -> tuple[list[tuple[Service, str]], FieldErrors]:
    """Services by slug (of this tenant) with the component status given for each."""
    found = {s.slug: s for s in Service.objects.filter(slug__in=list(statuses))}
    problems = []
    unknown = sorted(set(statuses) - set(found))
    if unknown:
        problems.append(
            f"Unknown service(s): {', '.join(unknown)}. Use the slugs listed at /api/v1/services/."
        )
    bad = sorted(
        f"{slug}={status}"
        for slug, status in statuses.items()
        if status not in ComponentStatus.values
    )
    if bad:
        problems.append(
            f"Invalid component status in {', '.join(bad)}: use one of "
            f"{', '.join(ComponentStatus.values)}."
        )
    if problems:
        return [], {field: problems}
    return [(found[slug], status) for slug, status in statuses.items()], {}


def resolve_regions(
    codes: Sequence[str], *, field: str = "regions"
) -> tuple[list[Region], FieldErrors]:
    """Regions by code (of this tenant); an empty list means every region."""
    found = {r.code: r for r in Region.objects.filter(code__in=list(codes))}
    unknown = sorted(set(codes) - set(found))
    if unknown:
        return [], {
            field: [
                f"Unknown region(s): {', '.join(unknown)}. Use the codes listed at "
                "/api/v1/regions/."
            ]
        }
    return [found[c] for c in dict.fromkeys(codes)], {}


def check_future(field: str, value: datetime, now: datetime) -> FieldErrors:
    if value < now - PAST_TOLERANCE:
        return {field: [f"{value:%Y-%m-%d %H:%M} UTC is in the past; give a future time."]}
    return {}


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


def humanise(delta: timedelta) -> str:
    """'under 1 min', '12 min', '2 h 5 min', '3 d 4 h'."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under 1 min"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"
