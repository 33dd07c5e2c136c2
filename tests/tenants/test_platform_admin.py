import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from apps.tenants.models import Tenant
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(db) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(UserFactory(is_superuser=True))  # a platform user, public schema
    return client


def test_operator_creates_a_tenant_with_its_admin(operator_client) -> None:
    response = operator_client.post(
        "/admin/tenants/tenant/add/",
        {
            "slug": "umbrella",
            "name": "Umbrella",
            "plan": "enterprise",
            "domain": "",
            "admin_email": "it@umbrella.example",
            "admin_password": "a long pass phrase",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant = Tenant.objects.get(slug="umbrella")
    assert tenant.plan == "enterprise"
    with tenant_context(tenant):
        from django.contrib.auth import get_user_model

        assert get_user_model().objects.filter(email="it@umbrella.example").exists()


def test_operator_sees_what_is_wrong_and_nothing_is_created(operator_client, tenant) -> None:
    response = operator_client.post(
        "/admin/tenants/tenant/add/",
        {
            "slug": "test",
            "name": "Dup",
            "plan": "team",
            "domain": "bad host",
            "admin_email": "",
            "admin_password": "",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "already exists" in page and "not a valid host name" in page
    assert Tenant.objects.filter(slug="test").count() == 1


@pytest.mark.parametrize("slug", ["pg-consulting", "information-schema"])
def test_operator_is_told_a_slug_postgresql_reserves_is_not_usable(operator_client, slug) -> None:
    response = operator_client.post(
        "/admin/tenants/tenant/add/",
        {"slug": slug, "name": "Consulting", "plan": "team", "domain": ""},
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert f"The slug {slug!r} would use the PostgreSQL schema" in form.errors["slug"][0]
    assert not Tenant.objects.filter(slug=slug).exists()
