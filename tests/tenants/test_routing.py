import pytest
from django.test import Client

from apps.tenants.models import Domain

pytestmark = pytest.mark.django_db


def test_tenant_host_serves_that_tenants_status_page(tenant) -> None:
    response = Client(HTTP_HOST="test.localhost").get("/")
    assert response.status_code == 200
    assert b"Test Tenant status" in response.content


def test_each_tenant_host_gets_its_own_tenant(tenant, other_tenant) -> None:
    assert b"Other Tenant status" in Client(HTTP_HOST="other.localhost:8000").get("/").content


@pytest.mark.parametrize(
    "host",
    [
        "nobody.localhost",
        "example.com",
        "a.test.localhost",
        "clarion-template.localhost",
        "public.localhost",
    ],
)
def test_unknown_hosts_get_404(host: str, tenant) -> None:
    assert Client(HTTP_HOST=host).get("/").status_code == 404


def test_public_host_serves_the_platform_admin(db) -> None:
    client = Client(HTTP_HOST="localhost:8000")
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"Clarion platform" in response.content
    assert client.get("/").headers["Location"] == "/admin/"


def test_tenant_admin_login_page_is_the_tenants(tenant) -> None:
    response = Client(HTTP_HOST="test.localhost").get("/admin/login/")
    assert response.status_code == 200
    assert b"Clarion platform" not in response.content


def test_custom_domain_routes_to_its_tenant(tenant) -> None:
    Domain.objects.create(domain="status.test-company.example", tenant=tenant, is_primary=True)
    response = Client(HTTP_HOST="status.test-company.example").get("/")
    assert b"Test Tenant status" in response.content


def test_tenant_admin_does_not_offer_platform_tables(tenant, tenant_db) -> None:
    from tests.factories import UserFactory

    user = UserFactory(is_superuser=True)
    client = Client(HTTP_HOST="test.localhost")
    client.force_login(user)
    index = client.get("/admin/").content.decode()
    assert "Periodic tasks" not in index
    assert "/admin/tenants/" not in index
    assert client.get("/admin/tenants/tenant/").status_code == 404
