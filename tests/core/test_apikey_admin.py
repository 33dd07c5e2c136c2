import pytest
from django.test import Client

from apps.core.models import ApiKey, AuditEvent
from apps.core.services import apikey_create
from tests.conftest import TEST_HOST
from tests.factories import UserFactory


@pytest.fixture
def admin_client(tenant_db) -> Client:
    client = Client(HTTP_HOST=TEST_HOST)
    client.force_login(UserFactory(is_superuser=True, email="boss@test.example"))
    return client


@pytest.fixture
def viewer_key(tenant_db) -> ApiKey:
    key, _ = apikey_create(name="Grafana", role="viewer", actor="pytest")
    return key


def test_admin_cannot_change_a_keys_role(admin_client, viewer_key) -> None:
    url = f"/admin/core/apikey/{viewer_key.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'name="role"' not in page.content.decode()  # shown, not editable
    admin_client.post(url, {"name": "Grafana", "role": "approver"})
    viewer_key.refresh_from_db()
    assert viewer_key.role == "viewer"


def test_admin_revokes_keys_through_the_audited_service(admin_client, viewer_key) -> None:
    other, _ = apikey_create(name="Zapier", actor="pytest")
    response = admin_client.post(
        "/admin/core/apikey/",
        {"action": "revoke", "_selected_action": [viewer_key.pk, other.pk]},
        follow=True,
    )
    assert "Revoked 2 API keys." in response.content.decode()
    assert ApiKey.objects.filter(revoked_at__isnull=False).count() == 2
    events = AuditEvent.objects.filter(action="apikey.revoked")
    assert {e.object_id for e in events} == {str(viewer_key.pk), str(other.pk)}
    assert {e.actor_label for e in events} == {"boss@test.example"}

    again = admin_client.post(
        "/admin/core/apikey/",
        {"action": "revoke", "_selected_action": [viewer_key.pk]},
        follow=True,
    )
    assert "already revoked" in again.content.decode()
    assert AuditEvent.objects.filter(action="apikey.revoked").count() == 2


def test_admin_does_not_delete_keys(admin_client, viewer_key) -> None:
    assert admin_client.get(f"/admin/core/apikey/{viewer_key.pk}/delete/").status_code == 403
    admin_client.post(
        "/admin/core/apikey/",
        {"action": "delete_selected", "_selected_action": [viewer_key.pk], "post": "yes"},
    )
    assert ApiKey.objects.filter(pk=viewer_key.pk).exists()
