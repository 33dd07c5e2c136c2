"""Grafana's webhook contact point signs nothing by default: its "Authorization Header"
setting (scheme Bearer, credentials = the integration's secret) authenticates it; HTTP basic
auth with the secret as password works too."""

from __future__ import annotations

from apps.integrations.inbound.auth import check_bearer
from apps.integrations.inbound.base import Headers


def verify(*, headers: Headers, body: bytes, secret: str, now: float) -> None:
    check_bearer(headers, secret, tool="Grafana")
