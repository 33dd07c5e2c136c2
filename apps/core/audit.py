"""`audit_record`: the one way services write to the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models

from apps.accounts.models import User
from apps.core.models import ApiKey, AuditEvent

Actor = AbstractBaseUser | AnonymousUser | ApiKey | str | None


def actor_label(actor: Actor) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    if isinstance(actor, ApiKey):
        return f"API key {actor.name}"
    if isinstance(actor, AnonymousUser):
        return "anonymous"
    return str(actor.get_username())


def audit_record(
    *,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit entry for `action` (e.g. `incident.resolved`) on `obj`."""
    user = actor if isinstance(actor, User) and actor.pk else None
    return AuditEvent.objects.create(
        actor=user,
        actor_label=actor_label(actor)[:200],
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        details=details or {},
    )
