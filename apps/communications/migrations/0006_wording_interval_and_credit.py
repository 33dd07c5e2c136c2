"""Two default wordings that promised what Clarion does not do: the extended-outage short
text said "Updates every 15 minutes" whatever the tenant's interval (it names it now), and
the all-clear said an SLA credit "will be applied within 5 business days" (credits are
proposals staff approve; it now says the outage qualifies and we will confirm it). A
tenant's template still in the old default takes the new one; an edited one stays."""

from django.db import migrations

SHORT_CHANNELS = ("sms", "social", "in_app", "slack", "teams")
LONG_CHANNELS = ("email", "status_page")
# (kind, channels, index of the default text) -> the text before this migration
OLD = {
    ("extended_outage", SHORT_CHANNELS, 2): (
        "{{ company }}: {{ incident.title }} is ongoing. Updates every 15 minutes: "
        "{{ status_page_url }}"
    ),
    ("resolution", LONG_CHANNELS, 1): (
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "{{ services|join:', ' }} {{ services|pluralize:'is,are' }} back to normal as of "
        "{{ resolved_at|local:time_zone }}.\n\n{{ update }}\n\n"
        "{% if what_happened %}What happened: {{ what_happened }}\n\n{% endif %}"
        "{% if what_we_fixed %}What we fixed: {{ what_we_fixed }}\n\n{% endif %}"
        "{% if prevention %}What we are doing to prevent it: {{ prevention }}\n\n{% endif %}"
        "{% if sla_credit %}Your SLA credit of {{ sla_credit }} will be applied within 5 "
        "business days.\n\n{% endif %}We are sorry for the disruption."
        "\n\n{{ company }}\nStatus page: {{ status_page_url }}\n"
        "Manage your notifications: {{ manage_url }}"
    ),
}


def _swap(apps, schema_editor, *, forward):
    if schema_editor.connection.schema_name == "public":
        return
    from apps.communications.defaults import DEFAULT_TEXTS

    MessageTemplate = apps.get_model("communications", "MessageTemplate")
    for (kind, channels, index), old in OLD.items():
        new = DEFAULT_TEXTS[kind][index]
        before, after = (old, new) if forward else (new, old)
        MessageTemplate.objects.filter(
            kind=kind, channel__in=channels, part="text", source=before
        ).update(source=after)


def forwards(apps, schema_editor):
    _swap(apps, schema_editor, forward=True)


def backwards(apps, schema_editor):
    _swap(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [("communications", "0005_regions_in_short_texts")]

    operations = [migrations.RunPython(forwards, backwards)]
