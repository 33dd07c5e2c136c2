from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from apps.core.choices import ApiKeyRole
from apps.core.exceptions import ValidationFailed
from apps.core.services import apikey_create
from apps.tenants.selectors import tenants_active


class Command(BaseCommand):
    help = (
        "Create an API key for a tenant. The key is printed once, alone on the last line; "
        "only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The tenant's slug.")
        parser.add_argument("--name", required=True, help="Who uses the key, e.g. 'Grafana'.")
        parser.add_argument("--role", default=ApiKeyRole.RESPONDER, choices=ApiKeyRole.values)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenants_active().filter(slug=options["slug"]).first()
        if tenant is None:
            raise CommandError(
                f"No tenant with the slug {options['slug']!r}. "
                "List tenants in the platform admin or create one with tenant_create."
            )
        with tenant_context(tenant):
            try:
                key, raw = apikey_create(
                    name=options["name"], role=options["role"], actor="manage.py apikey_create"
                )
            except ValidationFailed as exc:
                details = "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.fields.items())
                raise CommandError(f"{exc.message} {details}") from exc
        self.stdout.write(f"API key {key.name!r} ({key.role}) for tenant {tenant.slug}:")
        self.stdout.write(raw)
