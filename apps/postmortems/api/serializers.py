"""The shape of `/api/v1/analytics/` (documentation of `apps.postmortems.analytics`)."""

from __future__ import annotations

from rest_framework import serializers

from apps.postmortems.analytics import MAX_MONTHS


class AnalyticsQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    months = serializers.IntegerField(
        min_value=1,
        max_value=MAX_MONTHS,
        default=12,
        help_text=f"How many calendar months back, this one included (1-{MAX_MONTHS}).",
    )


class _Month(serializers.Serializer):  # type: ignore[type-arg]
    month = serializers.CharField(help_text="YYYY-MM (UTC).")


class MeanTimeSerializer(_Month):
    severity = serializers.CharField()
    minutes = serializers.FloatField(help_text="The mean, in minutes.")
    incidents = serializers.IntegerField(help_text="How many incidents the mean is over.")


class SeverityCountSerializer(_Month):
    severity = serializers.CharField()
    incidents = serializers.IntegerField()


class CadenceSerializer(_Month):
    on_time = serializers.IntegerField()
    updates = serializers.IntegerField(help_text="Updates that followed a promised time.")
    share_pct = serializers.FloatField(allow_null=True, help_text="null: nothing to measure.")


class CreditsSerializer(_Month):
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    credits = serializers.IntegerField()
    customers = serializers.IntegerField()


class DeliveriesSerializer(_Month):
    channel = serializers.CharField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    total = serializers.IntegerField()


class TicketsSerializer(_Month):
    flagged = serializers.IntegerField()
    auto_closed = serializers.IntegerField()


class AnalyticsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    months = serializers.ListField(child=serializers.CharField(), help_text="Oldest first.")
    mtta = MeanTimeSerializer(many=True, help_text="Detection to acknowledgement.")
    mttr = MeanTimeSerializer(many=True, help_text="Start to resolution.")
    incidents = SeverityCountSerializer(many=True)
    update_cadence = CadenceSerializer(many=True)
    sla_credits = CreditsSerializer(many=True, help_text="Not waived; by credit month.")
    deliveries = DeliveriesSerializer(many=True)
    tickets = TicketsSerializer(many=True, help_text="Filled by the help-desk integration.")
