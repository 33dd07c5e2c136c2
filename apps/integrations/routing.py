"""Routing: which services, regions and severity an alert is about, from its labels, and
which of those services are under maintenance.

Every processed alert needs the routing table and the maintenance windows in progress, and
both rarely change, so each process keeps them in memory, checked against one version
number per tenant in Redis that every change of a rule, a service, a region or a
maintenance window bumps (see `signals.py`): a change applies to the very next alert in
every process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from django.db import transaction

from apps.core.tenancy import current_schema
from apps.integrations import kv
from apps.integrations.models import Integration
from apps.integrations.selectors import (
    ActiveWindow,
    RuleSpec,
    maintenance_active,
    region_codes,
    routing_table,
)

REGION_LABEL = "region"
T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    """What the first matching rule decided."""

    rule_id: int
    rule_name: str
    services: Mapping[str, str]  # service slug -> component status
    service_ids: Mapping[str, int]  # service slug -> id
    regions: tuple[str, ...]
    severity: str | None


# --- the per-process catalog cache --------------------------------------------------------

# (schema, what) -> (version, value)
_cached: dict[tuple[str, str], tuple[int, Any]] = {}


def _version_key(schema: str) -> str:
    return kv.key("catalog-version", schema)


def _bump() -> None:
    kv.client().incr(_version_key(current_schema()))


def catalog_changed() -> None:
    """Rules, services, regions or maintenance changed: every process reloads what it
    keeps. Bumped now and again once committed, so no process keeps what it read between."""
    _bump()
    transaction.on_commit(_bump)


def catalog_cache_clear() -> None:
    _cached.clear()


def catalog_version() -> int:
    return int(kv.client().get(_version_key(current_schema())) or 0)


def _remembered(what: str, version: int, load: Callable[[], T]) -> T:
    key = (current_schema(), what)
    hit = _cached.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]  # type: ignore[no-any-return]
    value = load()
    _cached[key] = (version, value)
    return value


# --- routing ------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _pattern(expression: str) -> re.Pattern[str]:
    return re.compile(expression)


def matches(matchers: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Every matcher holds: the label equals the value, or fully matches `~regex`. A label
    the alert lacks matches only `~` expressions that accept the empty string."""
    for label, expected in matchers.items():
        value = labels.get(label, "")
        if expected.startswith("~"):
            if _pattern(expected[1:]).fullmatch(value) is None:
                return False
        elif value != expected:
            return False
    return True


def route_alert(
    *,
    integration: Integration,
    labels: Mapping[str, str],
    rules: Sequence[RuleSpec] | None = None,
    version: int | None = None,
) -> Route | None:
    """The first enabled rule (by position) whose matchers match `labels`, or None (the
    alert goes to the inbox). A rule without regions takes the region the alert's `region`
    label names, if the tenant has it."""
    if rules is None:
        rules = _remembered(
            f"routing:{integration.pk}",
            catalog_version() if version is None else version,
            lambda: routing_table(integration),
        )
    for rule in rules:
        if not rule.services or not matches(rule.matchers, labels):
            continue
        regions = rule.regions
        if not regions and labels.get(REGION_LABEL):
            regions = tuple(region_codes([labels[REGION_LABEL]]))
        return Route(
            rule_id=rule.id,
            rule_name=rule.name,
            services={slug: rule.component_status for slug, _ in rule.services},
            service_ids=dict(rule.services),
            regions=regions,
            severity=rule.severity or None,
        )
    return None


# --- maintenance --------------------------------------------------------------------------


def maintenance_covering(
    *, services: Mapping[str, int], regions: Iterable[str] = (), version: int | None = None
) -> dict[str, ActiveWindow]:
    """Service slug -> the in-progress maintenance window covering it, for `services`
    (slug -> id) in the alert's regions: a window without regions covers them all; an alert
    without regions is covered only by such a window."""
    windows = _remembered(
        "maintenance", catalog_version() if version is None else version, maintenance_active
    )
    if not windows or not services:
        return {}
    wanted = frozenset(regions)
    found: dict[str, ActiveWindow] = {}
    for window in windows:
        if window.regions and (not wanted or not wanted <= window.regions):
            continue
        for slug, service_id in services.items():
            if service_id in window.service_ids:
                found.setdefault(slug, window)
    return found
