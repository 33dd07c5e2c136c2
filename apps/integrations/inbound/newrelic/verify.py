"""New Relic's webhook destinations sign nothing: the destination's custom header carries
the integration's secret, `X-Clarion-Secret: <secret>` (or its Bearer token authorization)."""

from __future__ import annotations

from apps.integrations.inbound.auth import check_shared_secret
from apps.integrations.inbound.base import Headers


def verify(*, headers: Headers, body: bytes, secret: str, now: float) -> None:
    check_shared_secret(headers, secret, tool="New Relic")
