"""`/api/v1/integrations/`: list and create (the credentials are shown once)."""

from __future__ import annotations

from rest_framework.test import APIClient

from apps.core.choices import ApiKeyRole
from apps.core.services import apikey_create
from apps.integrations.models import Integration
from tests.conftest import TEST_HOST


def test_creating_returns_the_token_and_secret_once(api_client) -> None:
    response = api_client.post(
        "/api/v1/integrations/", {"source": "datadog", "name": "DD"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    integration = Integration.objects.get()
    assert body["token"] == integration.token
    assert body["secret"] == integration.secret
    assert body["hook_path"] == f"/hooks/datadog/{integration.token}/"
    listed = api_client.get("/api/v1/integrations/").json()["results"]
    assert listed[0]["name"] == "DD" and listed[0]["secret_set"] is True
    assert "secret" not in listed[0] and "token" not in listed[0]
    detail = api_client.get(f"/api/v1/integrations/{integration.pk}/").json()
    assert "secret" not in detail


def test_a_second_integration_for_a_tool_is_a_conflict(api_client) -> None:
    api_client.post("/api/v1/integrations/", {"source": "grafana"}, format="json")
    response = api_client.post("/api/v1/integrations/", {"source": "grafana"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "integration_exists"


def test_bad_input_is_a_400_naming_the_field(api_client) -> None:
    response = api_client.post(
        "/api/v1/integrations/",
        {"source": "alertmanager", "quiet_period_minutes": 0},
        format="json",
    )
    assert response.status_code == 400
    assert "quiet_period_minutes" in response.json()["error"]["fields"]
    assert api_client.get("/api/v1/integrations/999/").status_code == 404


def test_a_viewer_key_reads_but_cannot_create(tenant_db) -> None:
    _, raw = apikey_create(name="Viewer", role=ApiKeyRole.VIEWER, actor="pytest")
    client = APIClient(HTTP_HOST=TEST_HOST)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/integrations/").status_code == 200
    response = client.post("/api/v1/integrations/", {"source": "grafana"}, format="json")
    assert response.status_code == 403
