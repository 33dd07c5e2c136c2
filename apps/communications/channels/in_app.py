"""The in-app banner: one line and a link inside the tenant's own product.

The tenant's product reads `/api/v2/banner.json?customer=<key>` (see
`apps/statuspage/banner.py`). Once a message's `banner` broadcast is delivered, the banner of
its incident or maintenance window shows the message's `in_app` text (rendered in the
customer's time zone) instead of the raw update; delivering it bumps the page's render
version so that cached banners are rebuilt at once.

Optionally the same line is pushed to Customer.io, which shows it as an in-app message to
the people it knows: an API-triggered broadcast (`POST /v1/campaigns/{id}/triggers`, App API
key as a bearer token) receives `{"data": {"headline", "url", "kind", "incident",
"maintenance"}}` for its template. Set `CUSTOMERIO_APP_API_KEY` and
`CUSTOMERIO_BROADCAST_ID` (and `CUSTOMERIO_API_URL` for the EU region,
`https://api-eu.customer.io`); each message then has a second row, target `customerio`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import requests
from django.conf import settings
from redis import RedisError

from apps.communications import delivery
from apps.communications.channels.base import Capabilities, Outgoing, SendResult
from apps.communications.channels.broadcast import BroadcastChannel, broadcast_parts
from apps.communications.choices import AttemptOutcome, ChannelKey, DeliveryStatus, MessageState
from apps.communications.models import Message
from apps.core.tenancy import current_schema
from apps.statuspage import store
from apps.subscribers.models import BroadcastDelivery

BANNER = "banner"
CUSTOMERIO = "customerio"
TIMEOUT_SECONDS = 10


def _setting(name: str, default: str = "") -> str:
    return str(getattr(settings, name, default) or default)


class InAppChannel(BroadcastChannel):
    key = "in_app"
    capabilities = Capabilities()  # the banner cuts a long line (banner._line)
    parts = ("text",)

    def __init__(
        self,
        *,
        customerio_api_key: str | None = None,
        customerio_broadcast_id: str | None = None,
        customerio_url: str | None = None,
    ) -> None:
        """Arguments override settings (a local fake in tests)."""
        self.api_key = (
            customerio_api_key
            if customerio_api_key is not None
            else _setting("CUSTOMERIO_APP_API_KEY")
        )
        self.broadcast_id = (
            customerio_broadcast_id
            if customerio_broadcast_id is not None
            else _setting("CUSTOMERIO_BROADCAST_ID")
        )
        self.base_url = (
            customerio_url or _setting("CUSTOMERIO_API_URL", "https://api.customer.io")
        ).rstrip("/")
        self.session = requests.Session()

    def targets(self) -> list[str]:
        return [BANNER, CUSTOMERIO] if self.api_key and self.broadcast_id else [BANNER]

    def send(self, batch: Sequence[Outgoing]) -> Iterator[SendResult]:
        """One result per item, yielded as soon as the provider answered it (see base)."""
        for item in batch:
            yield self._banner(item) if item.address == BANNER else self._push(item)

    def _banner(self, item: Outgoing) -> SendResult:
        try:
            store.version_bump(current_schema())
        except RedisError as exc:
            error = f"cannot refresh the banner cache: {exc}"[:500]
            return SendResult(item.delivery_id, AttemptOutcome.TRANSIENT, error=error)
        return SendResult(item.delivery_id, AttemptOutcome.SENT, provider_id=BANNER)

    def _push(self, item: Outgoing) -> SendResult:
        url = f"{self.base_url}/v1/campaigns/{self.broadcast_id}/triggers"
        data = {
            "headline": item.parts.get("text", ""),
            "url": item.parts.get("url", ""),
            "kind": item.parts.get("kind", ""),
            "incident": item.parts.get("incident", ""),
            "maintenance": item.parts.get("maintenance", ""),
        }
        started = time.monotonic()
        try:
            response = self.session.post(
                url,
                json={"data": data},
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            return SendResult(
                item.delivery_id,
                AttemptOutcome.TRANSIENT,
                error=(str(exc) or type(exc).__name__)[:500],
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        elapsed = int((time.monotonic() - started) * 1000)
        if 200 <= response.status_code < 300:
            try:
                trigger = str(response.json().get("id", ""))
            except ValueError:
                trigger = ""
            return SendResult(
                item.delivery_id, AttemptOutcome.SENT, provider_id=trigger, duration_ms=elapsed
            )
        transient = response.status_code == 429 or response.status_code >= 500
        return SendResult(
            item.delivery_id,
            AttemptOutcome.TRANSIENT if transient else AttemptOutcome.PERMANENT,
            error=f"Customer.io HTTP {response.status_code}: {response.text[:200]}",
            duration_ms=elapsed,
        )


def banner_lines(
    *, incidents: Sequence[int], maintenances: Sequence[int], time_zone: str
) -> dict[str, str]:
    """`incident-<id>` / `maintenance-<id>` -> the in-app line of the latest message whose
    banner is delivered, rendered in `time_zone` with the fan-out's renderer."""
    rows = (
        BroadcastDelivery.objects.filter(
            channel=ChannelKey.IN_APP, target=BANNER, status=DeliveryStatus.SENT
        )
        .filter(message__state__in=(MessageState.SENDING, MessageState.SENT))
        .select_related("message")
        .order_by("message__created_at", "message_id")
    )
    latest: dict[str, Message] = {}
    for row in rows.filter(message__incident_id__in=list(incidents)):
        latest[f"incident-{row.message.incident_id}"] = row.message
    for row in rows.filter(message__maintenance_id__in=list(maintenances)):
        latest[f"maintenance-{row.message.maintenance_id}"] = row.message
    return {
        key: " ".join(
            broadcast_parts(
                message,
                ChannelKey.IN_APP,
                variants=delivery._variants,
                tokens=delivery.TOKENS,
                zone=time_zone,
            )
            .get("text", "")
            .split()
        )
        for key, message in latest.items()
    }
