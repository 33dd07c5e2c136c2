"""Messages through the API: counts per channel and status, failures, approve, cancel."""

import pytest
from rest_framework.test import APIClient

from apps.communications import delivery
from apps.communications.models import Delivery
from apps.communications.services import message_draft
from apps.core.services import apikey_create
from apps.incidents.services import incident_open
from tests.conftest import TEST_HOST
from tests.factories import SubscriberFactory

ACTOR = "pytest"


@pytest.fixture
def draft(catalog):
    incident = incident_open(
        title="Payments down",
        severity="P2",
        services={"payments": "major_outage"},
        body="Payments fail.",
        actor=ACTOR,
    )
    SubscriberFactory(email="ada@example.com")
    SubscriberFactory(email="bob@example.com")
    return message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=["email"], actor=ACTOR
    )


def client_for(role: str) -> APIClient:
    client = APIClient(HTTP_HOST=TEST_HOST)
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {apikey_create(name=role, role=role, actor=ACTOR)[1]}"
    )
    return client


def test_only_an_approver_key_approves_and_that_starts_sending(draft, smtp) -> None:
    refused = client_for("responder").post(f"/api/v1/messages/{draft.pk}/approve/")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "Only an approver API key may do this."
    response = client_for("approver").post(f"/api/v1/messages/{draft.pk}/approve/")
    assert response.status_code == 200 and response.json()["state"] == "sending"
    smtp.refuse["bob@example.com"] = "550 5.1.1 No such mailbox"
    delivery.fanout(draft.pk)
    delivery.send_batch(draft.pk, "email", list(Delivery.objects.values_list("id", flat=True)))
    body = client_for("viewer").get(f"/api/v1/messages/{draft.pk}/").json()
    assert body["state"] == "sent"
    assert body["deliveries"] == {"email": {"sent": 1, "failed": 1}}
    assert body["failures"][0]["error"] == "550 5.1.1 No such mailbox"
    assert body["rendered"]["email"]["subject"] == "[P2] Payments down"


def test_incident_messages_and_cancel(draft) -> None:
    responder = client_for("responder")
    listed = responder.get(f"/api/v1/incidents/{draft.incident_id}/messages/").json()
    assert [m["id"] for m in listed["results"]] == [draft.pk]
    cancelled = responder.post(f"/api/v1/messages/{draft.pk}/cancel/")
    assert cancelled.json()["state"] == "cancelled"
    again = client_for("approver").post(f"/api/v1/messages/{draft.pk}/approve/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "message_cancelled"


def test_messages_of_another_tenant_are_not_found(draft, other_tenant) -> None:
    from django_tenants.utils import tenant_context

    with tenant_context(other_tenant):
        raw = apikey_create(name="other", role="approver", actor=ACTOR)[1]
    client = APIClient(HTTP_HOST="other.localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(f"/api/v1/messages/{draft.pk}/").status_code == 404
    assert client.post(f"/api/v1/messages/{draft.pk}/approve/").status_code == 404
