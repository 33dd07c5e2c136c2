from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from apps.core.exceptions import ApplicationError
from apps.integrations.choices import Source
from apps.integrations.services import integration_create
from apps.integrations.setup_hints import SECRET_HINTS
from apps.tenants.selectors import tenants_active


class Command(BaseCommand):
    help = (
        "Create a tenant's monitoring integration. Prints its token and secret (shown once) "
        "and, alone on the last line, its hook path /hooks/<source>/<token>/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The tenant's slug.")
        parser.add_argument("source", help=f"One of: {', '.join(Source.values)}.")
        parser.add_argument("--name", default="", help="Defaults to the tool's name.")
        parser.add_argument(
            "--secret",
            default=None,
            help="The tool's own signing secret (PagerDuty, Sentry); others get a new one.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["source"].strip().lower()
        if source not in Source.values:
            raise CommandError(
                f"Unknown source {options['source']!r}: use one of {', '.join(Source.values)}."
            )
        tenant = tenants_active().filter(slug=options["slug"]).first()
        if tenant is None:
            raise CommandError(
                f"No tenant with the slug {options['slug']!r}. "
                "List tenants in the platform admin or create one with tenant_create."
            )
        with tenant_context(tenant):
            try:
                integration, secret = integration_create(
                    source=source,
                    name=options["name"],
                    secret=options["secret"],
                    actor="manage.py integration_create",
                )
            except ApplicationError as exc:
                details = "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.fields.items())
                raise CommandError(f"{exc.message} {details}".strip()) from exc
        self.stdout.write(
            f"Integration {integration.name!r} ({integration.get_source_display()}) "
            f"for tenant {tenant.slug}:"
        )
        self.stdout.write(f"token:  {integration.token}")
        self.stdout.write(f"secret: {secret or '(none yet: paste the tool-generated secret)'}")
        self.stdout.write(SECRET_HINTS[Source(source)])
        self.stdout.write(integration.hook_path)
