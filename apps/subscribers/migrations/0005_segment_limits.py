"""`Segment.limits_regions` / `limits_services`: the criterion was chosen, so a segment whose
regions (or services) were all deleted selects nobody instead of everyone.

Set for every segment that has regions (or services) now, and for one whose last saved
regions (or services) in the audit log were not empty while none is left: they were deleted
since, and the segment has been reaching everyone."""

from django.db import migrations, models


def _last_saved(AuditEvent, segment, criterion):
    """The criterion's value when the segment was last saved with it, from the audit log."""
    value = None
    events = AuditEvent.objects.filter(
        object_type="subscribers.segment",
        object_id=str(segment.pk),
        action__in=("segment.created", "segment.updated"),
    ).order_by("created_at", "id")
    for event in events:
        details = event.details or {}
        if event.action == "segment.created" and criterion in details:
            value = details[criterion]
        elif isinstance(details.get(criterion), dict) and "to" in details[criterion]:
            value = details[criterion]["to"]
    return value


def forwards(apps, schema_editor):
    if schema_editor.connection.schema_name == "public":
        return
    Segment = apps.get_model("subscribers", "Segment")
    AuditEvent = apps.get_model("core", "AuditEvent")
    for segment in Segment.objects.order_by("pk"):
        limits = {}
        for criterion in ("regions", "services"):
            limits[f"limits_{criterion}"] = getattr(segment, criterion).exists() or bool(
                _last_saved(AuditEvent, segment, criterion)
            )
        if any(limits.values()):
            Segment.objects.filter(pk=segment.pk).update(**limits)


class Migration(migrations.Migration):
    dependencies = [
        ("subscribers", "0004_salesforce_ids_18"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="segment",
            name="limits_regions",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text="Regions were chosen (set by the services).",
            ),
        ),
        migrations.AddField(
            model_name="segment",
            name="limits_services",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text="Services were chosen (set by the services).",
            ),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
