"""Severity policy use-cases: edit one level (P1-P4, which are fixed) and the tenant-wide
timers. The cadence, the channels and the clocks of every incident follow these rows, so an
edit is checked here (not only by the form that happens to make it) and audited with what
changed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from apps.core.audit import Actor, audit_record
from apps.core.exceptions import ValidationFailed
from apps.incidents.choices import Channel, PostmortemVisibility
from apps.incidents.models import PolicySettings, SeverityPolicy
from apps.incidents.models.policy import validate_traffic_profile
from apps.incidents.services.common import FieldErrors, snapshot

POLICY_FIELDS = (
    "name",
    "criteria",
    "channels",
    "update_interval",
    "internal_response",
    "target_resolution",
    "target_resolution_label",
    "postmortem_visibility",
    "postmortem_deadline",
)
SETTINGS_FIELDS = (
    "assessment_due",
    "update_reminder_lead",
    "extended_outage_after",
    "extended_update_interval",
    "maintenance_buffer_pct",
    "traffic_profile",
)
POSITIVE = "Give a duration longer than zero, e.g. 00:30:00."


def _unknown(changes: Mapping[str, Any], allowed: tuple[str, ...]) -> FieldErrors:
    return {
        name: [f"Not an editable setting; use {', '.join(allowed)}."]
        for name in changes
        if name not in allowed
    }


def _plain(value: Any) -> Any:
    """A value as the audit log's JSON keeps it."""
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, list | dict | str | int | float | bool) or value is None:
        return value
    return str(value)


def _apply(
    obj: models.Model, new: Mapping[str, Any], fields: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """Set what differs on `obj`; return it as {field: {"old", "new"}} for the audit entry."""
    before = snapshot(obj, fields)
    changed = {}
    for name in fields:
        if new[name] != before[name]:
            changed[name] = {"old": _plain(before[name]), "new": _plain(new[name])}
            setattr(obj, name, new[name])
    return changed


@transaction.atomic
def severity_policy_update(
    *, policy: SeverityPolicy, changes: Mapping[str, Any], actor: Actor
) -> SeverityPolicy:
    """Edit one severity level: any of POLICY_FIELDS (the level itself is fixed). Durations
    must be longer than zero (empty = no cadence, no resolution clock); a post-mortem that
    is not `none` needs its deadline. Returns early when nothing changes."""
    policy = SeverityPolicy.objects.select_for_update().get(pk=policy.pk)
    errors = _unknown(changes, POLICY_FIELDS)
    new = {**snapshot(policy, POLICY_FIELDS), **changes}
    if not str(new["name"] or "").strip():
        errors["name"] = [f"Give the level a name, e.g. '{policy.get_level_display()}'."]
    unknown = sorted(set(new["channels"] or []) - set(Channel.values))
    if unknown:
        errors["channels"] = [
            f"Unknown channel(s): {', '.join(unknown)}; use {', '.join(Channel.values)}."
        ]
    for name in ("update_interval", "target_resolution", "postmortem_deadline"):
        if new[name] is not None and new[name] <= timedelta(0):
            errors[name] = [POSITIVE]
    if new["postmortem_visibility"] not in PostmortemVisibility.values:
        errors["postmortem_visibility"] = [f"Use one of {', '.join(PostmortemVisibility.values)}."]
    elif (
        new["postmortem_visibility"] != PostmortemVisibility.NONE and not new["postmortem_deadline"]
    ):
        errors.setdefault("postmortem_deadline", []).append(
            "Give a deadline, or set the post-mortem to none."
        )
    if errors:
        raise ValidationFailed(f"The {policy.level} policy cannot be saved.", fields=errors)
    new["channels"] = list(dict.fromkeys(new["channels"] or []))
    changed = _apply(policy, new, POLICY_FIELDS)
    if not changed:
        return policy
    policy.save(update_fields=list(changed))
    audit_record(actor=actor, action="severity_policy.changed", obj=policy, details=changed)
    return policy


@transaction.atomic
def policy_settings_update(*, changes: Mapping[str, Any], actor: Actor) -> PolicySettings:
    """Edit the tenant-wide timers (the one PolicySettings row): any of SETTINGS_FIELDS.
    Durations must be longer than zero (the reminder lead may be zero: no early reminder);
    the traffic profile is {} or 24 hourly numbers per weekday. Returns early when nothing
    changes."""
    row, _ = PolicySettings.objects.select_for_update().get_or_create(
        pk=PolicySettings.singleton_pk
    )
    errors = _unknown(changes, SETTINGS_FIELDS)
    new = {**snapshot(row, SETTINGS_FIELDS), **changes}
    for name in ("assessment_due", "extended_outage_after", "extended_update_interval"):
        if new[name] is None or new[name] <= timedelta(0):
            errors[name] = [POSITIVE]
    if new["update_reminder_lead"] is None or new["update_reminder_lead"] < timedelta(0):
        errors["update_reminder_lead"] = ["Give zero or a positive duration, e.g. 00:05:00."]
    if new["maintenance_buffer_pct"] is None or new["maintenance_buffer_pct"] < 0:
        errors["maintenance_buffer_pct"] = ["Give a percentage of zero or more, e.g. 50."]
    try:
        validate_traffic_profile(new["traffic_profile"])
    except ValidationError as exc:
        errors["traffic_profile"] = list(exc.messages)
    if errors:
        raise ValidationFailed("The policy settings cannot be saved.", fields=errors)
    changed = _apply(row, new, SETTINGS_FIELDS)
    if not changed:
        return row
    row.save(update_fields=list(changed))
    audit_record(actor=actor, action="policy_settings.changed", obj=row, details=changed)
    return row
