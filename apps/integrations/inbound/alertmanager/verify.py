"""Alertmanager sends no signature: its receiver's `http_config.authorization` sends the
integration's secret as a bearer token (or `basic_auth` with the secret as password)."""

from __future__ import annotations

from apps.integrations.inbound.auth import check_bearer
from apps.integrations.inbound.base import Headers


def verify(*, headers: Headers, body: bytes, secret: str, now: float) -> None:
    check_bearer(headers, secret, tool="Alertmanager")
