"""The test tenant's catalog for alerts to land on, integrations, and a way to deliver a
signed webhook through the real hook URL and process what it stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from apps.incidents.models import Region, Service
from apps.integrations.choices import EventStatus, Source
from apps.integrations.models import InboundEvent, Integration, RoutingRule
from apps.integrations.routing import catalog_cache_clear
from apps.integrations.selectors import hook_cache_clear
from apps.integrations.services import inbound_event_process, integration_create
from tests.conftest import TEST_HOST
from tests.factories import RegionFactory, ServiceFactory
from tests.integrations import signing

INBOUND = Path(__file__).resolve().parents[2] / "apps" / "integrations" / "inbound"
VENDOR_SECRETS = {
    Source.PAGERDUTY: "pd-signing-secret-0f9e8d7c6b5a",
    Source.SENTRY: "sentry-client-secret-a1b2c3d4e5f6",
}


def fixture_files(source: str) -> list[Path]:
    return sorted((INBOUND / source / "fixtures").glob("*.json"))


def load_fixture(source: str, name: str) -> dict[str, Any]:
    return dict(json.loads((INBOUND / source / "fixtures" / name).read_text()))


def sign(source: str, secret: str, raw: bytes, headers: dict[str, str]) -> dict[str, str]:
    """`headers` plus what the tool adds to authenticate `raw`."""
    if source in (Source.ALERTMANAGER, Source.GRAFANA):
        return {**headers, **signing.bearer(secret)}
    if source in (Source.DATADOG, Source.NEWRELIC):
        return {**headers, **signing.shared_header(secret)}
    if source == Source.PAGERDUTY:
        return {**headers, **signing.pagerduty(secret, raw)}
    if source == Source.SENTRY:
        return {**headers, **signing.sentry(secret, raw)}
    return {**headers, **signing.standard_webhooks(secret, raw, msg_id=headers.get("webhook-id"))}


AUTH_HEADERS = {
    "authorization",
    "x-clarion-secret",
    "x-pagerduty-signature",
    "sentry-hook-signature",
    "sentry-hook-timestamp",
    "webhook-signature",
    "webhook-timestamp",
    "content-type",
    "content-length",
    "host",
}


class Hooks:
    """Posts to `/hooks/<source>/<token>/` on the test tenant's host, as the tool would."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def post(
        self,
        integration: Integration,
        secret: str,
        body: dict[str, Any] | bytes,
        headers: dict[str, str] | None = None,
        *,
        signed: bool = True,
        content_type: str = "application/json",
        path: str | None = None,
    ) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {
            k: v for k, v in (headers or {}).items() if k.lower() not in ("host", "content-type")
        }
        if signed:  # the fixture's own credentials are placeholders: sign afresh
            sent = {k: v for k, v in sent.items() if k.lower() not in AUTH_HEADERS}
            sent = sign(integration.source, secret, raw, sent)
        return self.client.post(
            path or integration.hook_path, data=raw, content_type=content_type, headers=sent
        )

    def post_fixture(self, integration: Integration, secret: str, name: str) -> Any:
        data = load_fixture(integration.source, name)
        return self.post(integration, secret, data["body"], data["headers"])


@pytest.fixture(autouse=True)
def _fresh_hook_cache() -> None:
    """Hooks remember integrations per process; each test's rows are rolled back."""
    hook_cache_clear()
    catalog_cache_clear()


@pytest.fixture
def hooks(tenant_db) -> Hooks:
    return Hooks(Client(HTTP_HOST=TEST_HOST))


@pytest.fixture
def catalog(tenant_db) -> dict[str, Any]:
    """Services api, payments, dashboard, checkout; regions eu, us."""
    services = {
        slug: ServiceFactory(slug=slug) for slug in ("api", "payments", "dashboard", "checkout")
    }
    regions = {
        code: RegionFactory(code=code, name=name)
        for code, name in (("eu", "Europe"), ("us", "United States"))
    }
    return {"services": services, "regions": regions}


MakeIntegration = Callable[..., tuple[Integration, str]]


@pytest.fixture
def make_integration(tenant_db) -> MakeIntegration:
    def make(source: str, **options: Any) -> tuple[Integration, str]:
        if source in VENDOR_SECRETS:
            options.setdefault("secret", VENDOR_SECRETS[Source(source)])
        return integration_create(source=source, actor="pytest", **options)

    return make


@pytest.fixture
def alertmanager(make_integration) -> tuple[Integration, str]:
    return make_integration(Source.ALERTMANAGER)


def add_rule(
    name: str,
    matchers: dict[str, str],
    services: Iterable[str],
    *,
    position: int = 0,
    severity: str = "",
    regions: Iterable[str] = (),
    integration: Integration | None = None,
    component_status: str = "major_outage",
) -> RoutingRule:
    rule = RoutingRule.objects.create(
        name=name,
        matchers=matchers,
        position=position,
        severity=severity,
        integration=integration,
        component_status=component_status,
    )
    rule.services.set(Service.objects.filter(slug__in=list(services)))
    rule.regions.set(Region.objects.filter(code__in=list(regions)))
    return rule


def am_alert(
    fingerprint: str,
    *,
    status: str = "firing",
    starts_at: str = "2026-11-26T18:03:01Z",
    alertname: str = "HighErrorRate",
    summary: str = "5xx above 20%",
    **labels: str,
) -> dict[str, Any]:
    labels = {"alertname": alertname, "severity": "critical", **labels}
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": summary},
        "startsAt": starts_at,
        "endsAt": "2026-11-26T18:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example:9090/graph",
        "fingerprint": fingerprint,
    }


def am_payload(*alerts: dict[str, Any], group_key: str = '{}:{alertname="HighErrorRate"}') -> Any:
    return {
        "receiver": "clarion",
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "alerts": list(alerts),
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
    }


def process_pending(now: datetime | None = None) -> list[InboundEvent]:
    """Run the processing of every stored, unprocessed event (what the worker does)."""
    pending = InboundEvent.objects.filter(status=EventStatus.RECEIVED).order_by("pk")
    done = []
    for pk in pending.values_list("pk", flat=True):
        event = inbound_event_process(event_id=pk, now=now)
        assert event is not None
        done.append(event)
    return done


Fire = Callable[..., list[InboundEvent]]


@pytest.fixture
def fire(hooks, alertmanager, django_capture_on_commit_callbacks) -> Fire:
    """Deliver Alertmanager alerts through the hook and process them (at `now`)."""
    integration, secret = alertmanager

    def deliver(*alerts: dict[str, Any], now: datetime | None = None) -> list[InboundEvent]:
        with django_capture_on_commit_callbacks(execute=False):
            response = hooks.post(integration, secret, am_payload(*alerts))
        assert response.status_code == 202, response.content
        return process_pending(now)

    return deliver
