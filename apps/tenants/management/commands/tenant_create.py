from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.exceptions import ValidationFailed
from apps.tenants.choices import Plan
from apps.tenants.selectors import tenant_url
from apps.tenants.services import tenant_create


def error_text(exc: ValidationFailed) -> str:
    lines = [exc.message]
    lines += [f"  {field}: {msg}" for field, msgs in exc.fields.items() for msg in msgs]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Create a tenant: its schema, an optional custom domain and an optional first admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Lowercase letters, digits and hyphens, e.g. acme.")
        parser.add_argument("--name", required=True)
        parser.add_argument("--plan", default=Plan.TEAM, choices=Plan.values)
        parser.add_argument("--domain", help="A custom host name that also serves the tenant.")
        parser.add_argument("--admin-email")
        parser.add_argument("--admin-password")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_create(
                slug=options["slug"],
                name=options["name"],
                plan=options["plan"],
                domain=options["domain"],
                admin_email=options["admin_email"],
                admin_password=options["admin_password"],
                actor="manage.py tenant_create",
            )
        except ValidationFailed as exc:
            raise CommandError(error_text(exc)) from exc
        self.stdout.write(f"Created tenant {tenant.slug} (schema {tenant.schema_name}).")
        self.stdout.write(tenant_url(tenant))
