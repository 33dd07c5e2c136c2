"""Short texts (SMS, social, in-app, chat) name the affected regions. A tenant's template
still in the old default wording takes the new one; an edited template stays as it is."""

from django.db import migrations

SHORT_CHANNELS = ("sms", "social", "in_app", "slack", "teams")
# kind -> the short text before this migration
OLD = {
    "initial_alert": (
        "{{ company }}: {{ incident.title }} ({{ status }}). "
        "{% if next_update_at %}Next update by {{ next_update_at|local:time_zone }}. {% endif %}"
        "{{ status_page_url }}"
    ),
    "progress_update": (
        "{{ company }} update: {{ incident.title }} ({{ status }}). {{ update|truncatechars:80 }} "
        "{{ status_page_url }}"
    ),
    "resolution": "{{ company }}: resolved: {{ incident.title }}. {{ status_page_url }}",
    "maintenance_notice": (
        "{{ company }}: maintenance {{ window_start|local:time_zone }} to "
        "{{ window_end|local:time_zone }} ({{ expected_impact }}). {{ details_url }}"
    ),
}


def _swap(apps, schema_editor, *, forward):
    if schema_editor.connection.schema_name == "public":
        return
    from apps.communications.defaults import DEFAULT_TEXTS

    MessageTemplate = apps.get_model("communications", "MessageTemplate")
    for kind, old in OLD.items():
        new = DEFAULT_TEXTS[kind][2]
        before, after = (old, new) if forward else (new, old)
        MessageTemplate.objects.filter(
            kind=kind, channel__in=SHORT_CHANNELS, part="text", source=before
        ).update(source=after)


def forwards(apps, schema_editor):
    _swap(apps, schema_editor, forward=True)


def backwards(apps, schema_editor):
    _swap(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [("communications", "0004_maintenance_cancelled")]

    operations = [migrations.RunPython(forwards, backwards)]
