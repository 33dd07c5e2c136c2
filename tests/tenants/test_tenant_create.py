import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.core.roles import APPROVER, RESPONDER, VIEWER
from apps.tenants.models import Domain, Tenant
from apps.tenants.services import tenant_create

pytestmark = pytest.mark.django_db


def test_tenant_create_provisions_schema_domain_admin_roles_and_audit() -> None:
    tenant = tenant_create(
        slug="globex",
        name="Globex",
        domain="status.globex.example",
        admin_email="Boss@Globex.example",
        admin_password="a long pass phrase",
    )
    assert tenant.schema_name == "globex"
    assert Domain.objects.get(tenant=tenant).domain == "status.globex.example"
    with tenant_context(tenant):
        admin = get_user_model().objects.get()
        assert admin.email == "boss@globex.example"
        assert admin.is_superuser and admin.check_password("a long pass phrase")
        assert set(Group.objects.values_list("name", flat=True)) == {RESPONDER, APPROVER, VIEWER}
        assert AuditEvent.objects.get().action == "tenant.created"
    connection.set_schema_to_public()
    assert b"Globex status" in Client(HTTP_HOST="globex.localhost").get("/").content


def test_new_tenant_schema_holds_no_other_tenants_data(tenant) -> None:
    with tenant_context(tenant):
        get_user_model().objects.create_user("someone@test.example", "x" * 12)
    fresh = tenant_create(slug="initech", name="Initech")
    with tenant_context(fresh):
        assert not get_user_model().objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"slug": "Bad_Slug"}, "slug", "not a valid tenant slug"),
        ({"slug": "test"}, "slug", "already exists"),
        ({"slug": "admin"}, "slug", "reserved"),
        ({"slug": "pg-consulting"}, "slug", "e.g. 'pgconsulting'"),
        ({"slug": "information-schema"}, "slug", "PostgreSQL uses for itself"),
        ({"slug": "ok-slug", "name": " "}, "name", "Give the tenant a name"),
        ({"slug": "ok-slug", "domain": "http://x.example/"}, "domain", "not a valid host"),
        ({"slug": "ok-slug", "domain": "sub.localhost"}, "domain", "under the base domain"),
        ({"slug": "ok-slug", "admin_email": "a@b.example"}, "admin_password", "both"),
        (
            {"slug": "ok-slug", "admin_email": "nope", "admin_password": "long enough pw"},
            "admin_email",
            "not a valid e-mail",
        ),
        (
            {"slug": "ok-slug", "admin_email": "a@b.example", "admin_password": "short"},
            "admin_password",
            "too short",
        ),
        ({"slug": "ok-slug", "plan": "platinum"}, "plan", "Unknown plan"),
    ],
)
def test_tenant_create_rejects_bad_input_and_creates_nothing(kwargs, field, fragment, tenant):
    before = Tenant.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        tenant_create(**{"name": "Some Co", **kwargs})
    assert fragment in " ".join(caught.value.fields[field])
    assert Tenant.objects.count() == before


def test_duplicate_custom_domain_is_rejected(tenant) -> None:
    Domain.objects.create(domain="status.shared.example", tenant=tenant)
    with pytest.raises(ValidationFailed) as caught:
        tenant_create(slug="newco", name="NewCo", domain="status.shared.example")
    assert "already serves another tenant" in caught.value.fields["domain"][0]


def test_slug_whose_schema_is_already_in_the_database_is_rejected() -> None:
    with connection.cursor() as cursor:  # e.g. left behind by a tenant removed by hand
        cursor.execute("CREATE SCHEMA leftover_co")
    with pytest.raises(ValidationFailed) as caught:
        tenant_create(slug="leftover-co", name="Leftover Co")
    assert "schema 'leftover_co' already exists" in caught.value.fields["slug"][0]
    assert not Tenant.objects.filter(slug="leftover-co").exists()


def test_tenant_create_command(capsys) -> None:
    call_command("tenant_create", "hooli", "--name", "Hooli", "--domain", "status.hooli.example")
    out = capsys.readouterr().out
    assert "Created tenant hooli" in out
    assert Tenant.objects.filter(slug="hooli").exists()


def test_tenant_create_command_explains_errors(tenant) -> None:
    with pytest.raises(CommandError) as caught:
        call_command("tenant_create", "test", "--name", "Again")
    assert "slug: A tenant with the slug 'test' already exists" in str(caught.value)
    with pytest.raises(CommandError) as caught:
        call_command("tenant_create", "no.dots", "--name", "X", "--domain", "bad host")
    assert "slug:" in str(caught.value) and "domain:" in str(caught.value)
    for slug in ("pg-consulting", "information-schema"):
        with pytest.raises(CommandError) as caught:
            call_command("tenant_create", slug, "--name", "X")
        assert f"slug: The slug {slug!r} would use the PostgreSQL schema" in str(caught.value)


def test_demo_seed_is_idempotent(capsys) -> None:
    call_command("demo")
    call_command("demo")
    out = capsys.readouterr().out
    assert "Created demo tenant acme" in out and "Found demo tenant acme" in out
    acme = Tenant.objects.get(slug="acme")
    with tenant_context(acme):
        assert get_user_model().objects.filter(email="admin@acme.example").count() == 1


def test_demo_seeds_services_regions_last_weeks_incident_and_next_weeks_maintenance() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from apps.incidents.models import Incident, MaintenanceWindow, Region, Service, ServiceGroup
    from apps.incidents.selectors import service_statuses

    call_command("demo")
    with tenant_context(Tenant.objects.get(slug="acme")):
        assert Service.objects.count() == 8 and ServiceGroup.objects.count() == 3
        assert set(Region.objects.values_list("code", flat=True)) == {"us", "eu", "apac"}
        incident = Incident.objects.get(severity="P2")  # the P1 is the post-mortems demo's
        assert incident.status == "resolved"
        week_ago = timezone.now() - timedelta(days=7)
        assert abs(incident.resolved_at - week_ago) < timedelta(days=1)
        timeline = list(incident.updates.order_by("display_at"))
        assert [u.status for u in timeline] == [
            "investigating",
            "identified",
            "monitoring",
            "resolved",
        ]
        assert all(u.body for u in timeline) and timeline[1].internal_note
        window = MaintenanceWindow.objects.get()
        assert window.status == "scheduled"
        assert timedelta(days=6) < window.scheduled_start - timezone.now() < timedelta(days=8)
        assert set(service_statuses().values()) == {"operational"}
    call_command("demo")  # idempotent: nothing doubles
    with tenant_context(Tenant.objects.get(slug="acme")):
        assert Incident.objects.count() == 2 and Service.objects.count() == 8
