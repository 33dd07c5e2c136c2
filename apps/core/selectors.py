"""Reads of core tables."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.core.models import ApiKey
from apps.core.services import apikey_hash

# Recording every use would be one write per API call; once a minute is enough to tell
# which keys are still in use.
_LAST_USED_PRECISION = timedelta(minutes=1)


def apikey_authenticate(raw_key: str) -> ApiKey | None:
    """The active key of the current tenant matching `raw_key`, or None."""
    key = ApiKey.objects.filter(key_hash=apikey_hash(raw_key), revoked_at__isnull=True).first()
    if key is not None:
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > _LAST_USED_PRECISION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
