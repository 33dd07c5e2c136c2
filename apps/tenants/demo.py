"""The demo tenant `acme`. Later parts of Clarion add their demo data to `demo_seed`."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django_tenants.utils import tenant_context

from apps.core.demo import demo_seeders
from apps.tenants.choices import Plan
from apps.tenants.models import Tenant
from apps.tenants.services import tenant_create

DEMO_SLUG = "acme"
DEMO_ADMIN_EMAIL = "admin@acme.example"
DEMO_ADMIN_PASSWORD = "clarion-demo"  # noqa: S105 - printed by `make run`, demo only


def demo_seed() -> tuple[Tenant, bool]:
    """Create the demo tenant and its admin if missing; return (tenant, created)."""
    tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
    created = tenant is None
    if tenant is None:
        tenant = tenant_create(
            slug=DEMO_SLUG, name="Acme Cloud", plan=Plan.BUSINESS, actor="demo seed"
        )
    with tenant_context(tenant), transaction.atomic():
        users = get_user_model().objects
        if not users.filter(email=DEMO_ADMIN_EMAIL).exists():
            users.create_superuser(
                DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, first_name="Ada", last_name="Admin"
            )
        for _, seeder in demo_seeders.items():
            seeder()
    return tenant, created
