"""Fake Zendesk, Freshdesk, Slack and Teams servers on loopback, the tenant's installations
pointing at them, a catalog with an affected customer, and Celery tasks run in-process
(eagerly) so that an event's whole chain runs inside the test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from apps.incidents.models import Incident
from apps.incidents.services import incident_open, incident_resolve
from apps.integrations.models_support import ChatInstallation, HelpdeskInstallation
from apps.integrations.services.helpdesk import helpdesk_installation_save
from tests.conftest import TEST_HOST
from tests.factories import CustomerFactory, RegionFactory, ServiceFactory, SubscriberFactory
from tests.fakes_chat import start_fake_chat
from tests.fakes_freshdesk import start_fake_freshdesk
from tests.fakes_slack_api import start_fake_slack_api
from tests.fakes_zendesk import start_fake_zendesk

ACTOR = "pytest"
WEBHOOK_SECRET = "zd-signing-secret-0123456789"


@pytest.fixture
def zendesk(monkeypatch) -> Iterator[Any]:
    fake, server = start_fake_zendesk()
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", fake.netloc)
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    yield fake
    server.shutdown()


@pytest.fixture
def freshdesk() -> Iterator[Any]:
    fake, server = start_fake_freshdesk()
    yield fake
    server.shutdown()


@pytest.fixture
def slack() -> Iterator[Any]:
    fake, server = start_fake_slack_api()
    yield fake
    server.shutdown()


@pytest.fixture
def teams() -> Iterator[Any]:
    fake, server = start_fake_chat(ok=(202, ""))
    yield fake
    server.shutdown()


@pytest.fixture
def world(tenant_db) -> dict[str, Any]:
    """Services Payments and Search; customer Initech subscribed to everything."""
    RegionFactory(code="eu", name="Europe")
    payments = ServiceFactory(slug="payments", name="Payments")
    search = ServiceFactory(slug="search", name="Search")
    initech = CustomerFactory(name="Initech", external_key="initech")
    SubscriberFactory(customer=initech, email="ops@initech.example")
    return {"payments": payments, "search": search, "initech": initech}


@pytest.fixture
def zendesk_installation(world, zendesk) -> HelpdeskInstallation:
    return helpdesk_installation_save(
        installation=HelpdeskInstallation(
            provider="zendesk", subdomain="acme", email="agent@acme.example", auto_reply=True
        ),
        secrets={"api_token": "zd-api-token", "webhook_secret": WEBHOOK_SECRET},
        actor=ACTOR,
    )


@pytest.fixture
def freshdesk_installation(world, freshdesk) -> HelpdeskInstallation:
    return helpdesk_installation_save(
        installation=HelpdeskInstallation(
            provider="freshdesk",
            subdomain="acme",
            email="support@acme.example",
            api_base_url=freshdesk.url,
            auto_reply=True,
        ),
        secrets={"api_token": freshdesk.api_key},
        actor=ACTOR,
    )


@pytest.fixture
def chat(world, slack, teams) -> ChatInstallation:
    return ChatInstallation.objects.create(
        pk=ChatInstallation.singleton_pk,
        slack_bot_token=slack.token,
        slack_base_url=slack.url,
        support_channel="CSUPPORT",
        war_room_responders=["UIC", "USRE"],
        executives=["UCEO", "UCTO"],
        on_call=["UONCALL"],
        vps=["UVP"],
        teams_webhook_url=f"{teams.url}/teams-hook",
    )


def open_payments_incident(severity: str = "P3", **kwargs: Any) -> Incident:
    """A confirmed incident on Payments whose first message goes out at once (P3/P4)."""
    return incident_open(
        title=kwargs.pop("title", "Payments failing at checkout"),
        internal_title=kwargs.pop("internal_title", "psp-gateway 502s after deploy"),
        severity=severity,
        services={"payments": "major_outage"},
        body=kwargs.pop("body", "Card payments fail for some customers; we are investigating."),
        actor=ACTOR,
        **kwargs,
    )


def resolve(incident: Incident) -> None:
    incident_resolve(
        incident=incident,
        body="Payments work again. We rolled back the faulty deploy.",
        what_was_affected="Card payments",
        root_cause="A faulty gateway deploy",
        what_we_fixed="Rolled it back",
        prevention="Canary deploys for the gateway",
        actor=ACTOR,
    )


def sign(
    body: bytes, *, secret: str = WEBHOOK_SECRET, at: datetime | None = None
) -> dict[str, str]:
    timestamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return {
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
    }


def post_webhook(
    installation: HelpdeskInstallation, payload: dict[str, Any], **signing: Any
) -> Any:
    body = json.dumps(payload).encode()
    return Client(HTTP_HOST=TEST_HOST).post(
        installation.hook_path,
        data=body,
        content_type="application/json",
        headers=sign(body, **signing),
    )
