"""API key use-cases."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.core.audit import Actor, audit_record
from apps.core.choices import ApiKeyRole
from apps.core.exceptions import ValidationFailed
from apps.core.models import ApiKey

KEY_PREFIX = "clarion_"


def apikey_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def apikey_create(
    *, name: str, role: str = ApiKeyRole.RESPONDER, actor: Actor
) -> tuple[ApiKey, str]:
    """Create an API key in the current tenant; return it with the raw key (shown once)."""
    name = name.strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give the key a name that says who uses it, e.g. 'Grafana'."]
    elif len(name) > 100:
        errors["name"] = ["Use at most 100 characters."]
    if role not in ApiKeyRole.values:
        errors["role"] = [f"Unknown role {role!r}: use one of {', '.join(ApiKeyRole.values)}."]
    if errors:
        raise ValidationFailed("The API key cannot be created.", fields=errors)
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name,
        role=role,
        prefix=raw[: len(KEY_PREFIX) + 6],
        key_hash=apikey_hash(raw),
        created_by=actor if isinstance(actor, User) else None,
    )
    audit_record(actor=actor, action="apikey.created", obj=key, details={"role": role})
    return key, raw


@transaction.atomic
def apikey_revoke(*, key: ApiKey, actor: Actor) -> ApiKey:
    if key.revoked_at is not None:
        return key
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(actor=actor, action="apikey.revoked", obj=key)
    return key
