from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.statuspage.export import export_tenant
from apps.tenants.selectors import tenants_active


class Command(BaseCommand):
    help = (
        "Write every tenant's public status page (HTML, JSON, feeds, calendar) as static "
        "files under DIR/<host>/, for nginx or a CDN to serve when the app is down."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory")
        parser.add_argument("--tenant", help="Only this tenant's slug.")

    def handle(self, *args: Any, **options: Any) -> None:
        root = Path(options["directory"]).resolve()
        tenants = tenants_active()
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"No tenant with the slug {options['tenant']!r}.")
        for tenant in tenants:
            files = export_tenant(tenant, root)
            self.stdout.write(f"{tenant.slug}: {len(files)} files under {files[0].parent}")
