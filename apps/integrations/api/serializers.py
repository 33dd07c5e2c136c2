"""Serializers of the integrations API."""

from __future__ import annotations

from rest_framework import serializers

from apps.incidents.choices import Severity
from apps.integrations.choices import Source


class IntegrationSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A monitoring integration. Its secret is never returned (only once, on create)."""

    id = serializers.IntegerField(read_only=True)
    # DRF fields may be named like Field's own `source` attribute; mypy cannot know.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=Source.choices, read_only=True
    )
    name = serializers.CharField(read_only=True)
    enabled = serializers.BooleanField(read_only=True)
    hook_path = serializers.CharField(
        read_only=True, help_text="POST alerts here, on the tenant's host."
    )
    secret_set = serializers.SerializerMethodField()
    default_severity = serializers.CharField(read_only=True)
    grouping_window_minutes = serializers.IntegerField(read_only=True)
    quiet_period_minutes = serializers.IntegerField(read_only=True)
    flapping_threshold = serializers.IntegerField(read_only=True)
    flapping_window_minutes = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    def get_secret_set(self, obj: object) -> bool:
        return bool(getattr(obj, "secret", ""))


class IntegrationCreatedSerializer(IntegrationSerializer):
    token = serializers.CharField(read_only=True)
    secret = serializers.CharField(
        read_only=True,
        help_text="Shown this once: the bearer token, shared header value or whsec_ signing "
        "key the tool sends. Empty for PagerDuty and Sentry unless given.",
    )


class IntegrationCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    source = serializers.ChoiceField(choices=Source.choices)  # type: ignore[assignment]
    name = serializers.CharField(max_length=100, required=False, default="")
    secret = serializers.CharField(
        required=False,
        max_length=500,
        help_text="The tool's own signing secret (PagerDuty, Sentry); others get a new one.",
    )
    enabled = serializers.BooleanField(required=False, default=True)
    default_severity = serializers.ChoiceField(
        choices=Severity.choices, required=False, default=Severity.P3
    )
    grouping_window_minutes = serializers.IntegerField(required=False, default=10)
    quiet_period_minutes = serializers.IntegerField(required=False, default=30)
    flapping_threshold = serializers.IntegerField(required=False, default=3)
    flapping_window_minutes = serializers.IntegerField(required=False, default=30)
