import os
from typing import Any

from django.core.management.base import BaseCommand

from apps.tenants.demo import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, demo_seed
from apps.tenants.selectors import tenant_url


class Command(BaseCommand):
    help = (
        "Seed the demo tenant 'acme' (acme.localhost). Safe to run again: it adds what is missing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant, created = demo_seed()
        url = tenant_url(tenant, port=int(os.environ.get("CLARION_PORT", "8000")))
        self.stdout.write(f"{'Created' if created else 'Found'} demo tenant {tenant.slug}.")
        self.stdout.write(f"  Status page: {url}")
        self.stdout.write(f"  Admin:       {url}admin/")
        self.stdout.write(f"  Sign in as   {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}")
