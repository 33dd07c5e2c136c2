"""Seed one SLA policy (99.9% monthly, credits 10/25/50% below 99.9/99/95%) as the default
of the enterprise and business tiers. Runs in the template schema, so every tenant starts
with it; tenants edit it, add others and override it per customer in the admin."""

from django.db import migrations

TIERS = ("enterprise", "business")


def seed(apps, schema_editor):
    SlaPolicy = apps.get_model("postmortems", "SlaPolicy")
    TierSlaPolicy = apps.get_model("postmortems", "TierSlaPolicy")
    policy, _ = SlaPolicy.objects.get_or_create(name="Standard SLA")
    for tier in TIERS:
        TierSlaPolicy.objects.get_or_create(tier=tier, defaults={"policy": policy})


def unseed(apps, schema_editor):
    apps.get_model("postmortems", "SlaPolicy").objects.filter(name="Standard SLA").delete()


class Migration(migrations.Migration):
    dependencies = [("postmortems", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
