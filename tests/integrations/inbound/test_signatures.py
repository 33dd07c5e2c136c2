"""Every source refuses what its tool did not send: a valid request is stored, a forged,
tampered, stale or unsigned one gets 401 and stores nothing."""

from __future__ import annotations

import json
import time

import pytest

from apps.integrations.choices import Source
from apps.integrations.models import InboundEvent
from tests.integrations import signing
from tests.integrations.conftest import load_fixture, sign

FIRING = {
    Source.ALERTMANAGER: "firing.json",
    Source.GRAFANA: "firing.json",
    Source.PAGERDUTY: "incident_triggered.json",
    Source.SENTRY: "issue_created.json",
    Source.DATADOG: "monitor_triggered.json",
    Source.NEWRELIC: "issue_activated.json",
    Source.GENERIC: "alert_firing.json",
}
SIGNED_BODY = (Source.PAGERDUTY, Source.SENTRY, Source.GENERIC)
STALE_SECONDS = 6 * 60


def _request(source: str) -> tuple[bytes, dict[str, str]]:
    data = load_fixture(source, FIRING[Source(source)])
    headers = {
        k: v
        for k, v in data["headers"].items()
        if k.lower() in ("sentry-hook-resource", "request-id", "webhook-id", "user-agent")
    }
    return json.dumps(data["body"]).encode(), headers


def test_every_source_has_a_signature_case() -> None:
    assert set(FIRING) == set(Source)


@pytest.mark.parametrize("source", list(Source))
def test_a_correctly_signed_delivery_is_accepted(hooks, make_integration, source) -> None:
    integration, secret = make_integration(source)
    raw, headers = _request(source)
    response = hooks.post(integration, secret, raw, headers)
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "accepted"
    assert InboundEvent.objects.filter(integration=integration).exists()


@pytest.mark.parametrize("source", list(Source))
def test_a_forged_delivery_is_refused_and_nothing_is_stored(
    hooks, make_integration, source
) -> None:
    integration, secret = make_integration(source)
    raw, headers = _request(source)
    forged = sign(
        source, "not-the-secret" if source != Source.GENERIC else "whsec_AAAA", raw, headers
    )
    response = hooks.post(integration, secret, raw, forged, signed=False)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_invalid"
    assert response.json()["error"]["message"]
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize("source", SIGNED_BODY)
def test_a_body_changed_after_signing_is_refused(hooks, make_integration, source) -> None:
    integration, secret = make_integration(source)
    raw, headers = _request(source)
    signed = sign(source, secret, raw, headers)
    tampered = raw.replace(b'"firing', b'"FIRING').replace(b"created", b"creatEd")
    tampered = tampered if tampered != raw else raw + b" "
    response = hooks.post(integration, secret, tampered, signed, signed=False)
    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize("source", list(Source))
def test_an_unsigned_delivery_is_refused_and_nothing_is_stored(
    hooks, make_integration, source
) -> None:
    integration, secret = make_integration(source)
    raw, headers = _request(source)
    response = hooks.post(integration, secret, raw, headers, signed=False)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_missing"
    assert not InboundEvent.objects.exists()


def test_a_stale_sentry_delivery_is_refused(hooks, make_integration) -> None:
    integration, secret = make_integration(Source.SENTRY)
    raw, headers = _request(Source.SENTRY)
    old = signing.sentry(secret, raw, timestamp=time.time() - STALE_SECONDS)
    response = hooks.post(integration, secret, raw, {**headers, **old}, signed=False)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_stale"
    assert not InboundEvent.objects.exists()


def test_a_stale_standard_webhooks_delivery_is_refused(hooks, make_integration) -> None:
    integration, secret = make_integration(Source.GENERIC)
    raw, headers = _request(Source.GENERIC)
    old = signing.standard_webhooks(
        secret, raw, msg_id=headers["webhook-id"], timestamp=time.time() - STALE_SECONDS
    )
    response = hooks.post(integration, secret, raw, {**headers, **old}, signed=False)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_stale"
    assert not InboundEvent.objects.exists()


def test_a_standard_webhooks_delivery_from_the_future_is_refused(hooks, make_integration) -> None:
    integration, secret = make_integration(Source.GENERIC)
    raw, headers = _request(Source.GENERIC)
    ahead = signing.standard_webhooks(
        secret, raw, msg_id=headers["webhook-id"], timestamp=time.time() + STALE_SECONDS
    )
    response = hooks.post(integration, secret, raw, {**headers, **ahead}, signed=False)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_stale"


def test_a_slightly_late_delivery_is_accepted(hooks, make_integration) -> None:
    integration, secret = make_integration(Source.SENTRY)
    raw, headers = _request(Source.SENTRY)
    late = signing.sentry(secret, raw, timestamp=time.time() - 4 * 60)
    assert (
        hooks.post(integration, secret, raw, {**headers, **late}, signed=False).status_code == 202
    )
