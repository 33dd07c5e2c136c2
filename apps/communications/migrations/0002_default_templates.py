"""Seed every tenant's message templates (in the template schema; tenants edit theirs)."""

from django.db import migrations


def seed(apps, schema_editor):
    if schema_editor.connection.schema_name == "public":
        return
    from apps.communications.defaults import default_templates

    MessageTemplate = apps.get_model("communications", "MessageTemplate")
    for kind, channel, part, source in default_templates():
        MessageTemplate.objects.get_or_create(
            kind=kind, channel=channel, part=part, locale="en", defaults={"source": source}
        )


class Migration(migrations.Migration):
    dependencies = [("communications", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
