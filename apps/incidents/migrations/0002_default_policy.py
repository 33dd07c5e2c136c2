"""Seed the default severity policy (DESIGN.md's table) and the tenant-wide timers.

Runs in the template schema, so every tenant starts with it; tenants edit it in the admin.
"""

from datetime import timedelta

from django.db import migrations

DEFAULT_POLICY = [
    {
        "level": "P1", "name": "Critical",
        "criteria": "Outage, data-loss risk, security breach, or more than 25% of customers "
                    "affected.",
        "channels": ["email", "in_app", "status_page", "sms", "social"],
        "update_interval": timedelta(minutes=30),
        "internal_response": "War room within 15 minutes; CEO/CTO notified; hourly executive "
                             "updates.",
        "target_resolution": timedelta(hours=2), "target_resolution_label": "2 hours",
        "postmortem_visibility": "public", "postmortem_deadline": timedelta(hours=48),
    },
    {
        "level": "P2", "name": "High",
        "criteria": "Major feature down or degraded; 10-25% of customers affected.",
        "channels": ["email", "in_app", "status_page", "social"],
        "update_interval": timedelta(hours=1),
        "internal_response": "On-call engaged within 30 minutes; VP notified.",
        "target_resolution": timedelta(hours=4), "target_resolution_label": "4 hours",
        "postmortem_visibility": "public", "postmortem_deadline": timedelta(hours=72),
    },
    {
        "level": "P3", "name": "Medium",
        "criteria": "Minor feature affected; fewer than 10% of customers.",
        "channels": ["in_app", "status_page"],
        "update_interval": timedelta(hours=2),
        "internal_response": "Triage within 2 hours.",
        "target_resolution": timedelta(hours=8), "target_resolution_label": "8 hours",
        "postmortem_visibility": "internal", "postmortem_deadline": timedelta(weeks=1),
    },
    {
        "level": "P4", "name": "Low",
        "criteria": "Cosmetic issue, or a workaround exists.",
        "channels": ["status_page"],
        "update_interval": None,
        "internal_response": "Normal triage.",
        "target_resolution": None, "target_resolution_label": "Next release",
        "postmortem_visibility": "none", "postmortem_deadline": None,
    },
]


def seed(apps, schema_editor):
    if schema_editor.connection.schema_name == "public":
        return
    SeverityPolicy = apps.get_model("incidents", "SeverityPolicy")
    PolicySettings = apps.get_model("incidents", "PolicySettings")
    for row in DEFAULT_POLICY:
        SeverityPolicy.objects.update_or_create(level=row["level"], defaults=row)
    PolicySettings.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
