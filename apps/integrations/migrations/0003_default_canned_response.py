"""Seed every tenant with the default canned response template (English)."""

from django.db import migrations

DEFAULT_TEMPLATE = (
    "Thank you for getting in touch. We are aware of an issue affecting "
    '{{ services|join:", " }}{% if regions %} in {{ regions|join:", " }}{% endif %} since '
    "{{ started_at|local:time_zone }}, and our team is working on it. Current status: "
    "{{ status }}.\n"
    "{% if update %}\n{{ update }}\n{% endif %}"
    "{% if next_update_at %}\nOur next update is due by {{ next_update_at|local:time_zone }}."
    "{% endif %}\n"
    "Follow the live status at {{ status_page_url }}. There is no need to open another "
    "ticket: we will update this one as soon as the issue is resolved."
)


def seed(apps, schema_editor):
    template = apps.get_model("integrations", "CannedResponseTemplate")
    template.objects.get_or_create(locale="en", defaults={"source": DEFAULT_TEMPLATE})


class Migration(migrations.Migration):
    dependencies = [("integrations", "0002_support_coordination")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
