"""Datadog's webhooks sign nothing: the webhook's custom headers carry the integration's
secret, `{"X-Clarion-Secret": "<secret>"}` (or `Authorization: Bearer <secret>`)."""

from __future__ import annotations

from apps.integrations.inbound.auth import check_shared_secret
from apps.integrations.inbound.base import Headers


def verify(*, headers: Headers, body: bytes, secret: str, now: float) -> None:
    check_shared_secret(headers, secret, tool="Datadog")
