import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from apps.core.models import ApiKey, AuditEvent
from apps.core.services import apikey_revoke
from tests.conftest import OTHER_HOST, TEST_HOST


def test_api_root_answers_with_the_keys_tenant(api_client) -> None:
    response = api_client.get("/api/v1/")
    assert response.status_code == 200
    assert response.json()["tenant"] == "test"
    assert response.json()["role"] == "responder"


def test_missing_key_is_401_with_the_error_body(tenant_db) -> None:
    response = APIClient(HTTP_HOST=TEST_HOST).get("/api/v1/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert error["fields"] == {}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer clarion_not-a-real-key", "Unknown or revoked API key"),
        ("Token abc", "Authorization: Bearer <key>"),
        ("Bearer ", "Authorization: Bearer <key>"),
    ],
)
def test_bad_credentials_are_401_and_say_why(tenant_db, header: str, message: str) -> None:
    response = APIClient(HTTP_HOST=TEST_HOST).get("/api/v1/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert message in response.json()["error"]["message"]


def test_key_of_one_tenant_is_unknown_on_another_tenants_host(api_key, other_tenant) -> None:
    client = APIClient(HTTP_HOST=OTHER_HOST)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    response = client.get("/api/v1/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_key_is_refused_on_the_platform_host(api_key) -> None:
    client = APIClient(HTTP_HOST="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    assert client.get("/api/v1/").status_code == 404  # no API on the platform host


def test_revoked_key_stops_working(api_client, api_key) -> None:
    apikey_revoke(key=api_key[0], actor="pytest")
    assert api_client.get("/api/v1/").status_code == 401
    assert AuditEvent.objects.filter(action="apikey.revoked").exists()


def test_key_use_is_recorded(api_client, api_key) -> None:
    api_client.get("/api/v1/")
    api_key[0].refresh_from_db()
    assert api_key[0].last_used_at is not None


def test_unknown_api_path_is_a_json_404(api_client) -> None:
    response = api_client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_openapi_schema_is_served_without_a_key(tenant_db) -> None:
    response = APIClient(HTTP_HOST=TEST_HOST).get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    root = schema["paths"]["/api/v1/"]["get"]
    assert {"200", "401"} <= set(root["responses"])
    assert "Error" in schema["components"]["schemas"]


def test_apikey_create_command_prints_a_working_key_on_its_last_line(tenant, capsys) -> None:
    call_command("apikey_create", "test", "--name", "Grafana", "--role", "viewer")
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    assert raw.startswith("clarion_") and " " not in raw
    connection.set_tenant(tenant)
    key = ApiKey.objects.get(name="Grafana")
    assert key.key_hash != raw and raw not in key.key_hash  # only a hash is stored
    client = APIClient(HTTP_HOST=TEST_HOST)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/").json()["role"] == "viewer"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "--name", "X"], "No tenant with the slug 'nobody'"),
        (["test", "--name", "  "], "name: Give the key a name"),
    ],
)
def test_apikey_create_command_rejects_bad_input(tenant, args, message: str) -> None:
    with pytest.raises(CommandError) as caught:
        call_command("apikey_create", *args)
    assert message in str(caught.value)
