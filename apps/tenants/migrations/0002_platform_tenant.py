"""The platform's own row: the public schema, served on CLARION_BASE_DOMAIN."""

from django.db import migrations


def create_platform(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    Tenant.objects.get_or_create(
        schema_name="public",
        defaults={"slug": "public", "name": "Clarion platform", "kind": "platform"},
    )


def remove_platform(apps, schema_editor):
    apps.get_model("tenants", "Tenant").objects.filter(schema_name="public").delete()


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [migrations.RunPython(create_platform, remove_platform)]
