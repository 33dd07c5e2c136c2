from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.communications import selectors
from apps.communications.channels.broadcast import broadcast_counts, broadcast_failures
from apps.communications.channels.checks import channel_problems
from apps.communications.models import Message


class FailureSerializer(serializers.Serializer):  # type: ignore[type-arg]
    subscriber = serializers.IntegerField()
    channel = serializers.CharField()
    attempts = serializers.IntegerField()
    error = serializers.CharField()


class BroadcastFailureSerializer(serializers.Serializer):  # type: ignore[type-arg]
    channel = serializers.CharField()
    target = serializers.CharField()
    attempts = serializers.IntegerField()
    error = serializers.CharField()


class MessageSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    state = serializers.CharField(
        read_only=True, help_text="draft, approved, sending, sent, cancelled"
    )
    incident = serializers.IntegerField(source="incident_id", read_only=True, allow_null=True)
    # A field that shadows Serializer.update(), which a read-only serializer never calls.
    update = serializers.IntegerField(  # type: ignore[assignment]
        source="update_id", read_only=True, allow_null=True
    )
    maintenance = serializers.IntegerField(source="maintenance_id", read_only=True, allow_null=True)
    channels = serializers.ListField(child=serializers.CharField(), read_only=True)
    requires_approval = serializers.BooleanField(read_only=True)
    approved_by = serializers.CharField(source="approved_by_label", read_only=True)
    approved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    sent_at = serializers.DateTimeField(read_only=True, allow_null=True)
    audience = serializers.DictField(read_only=True, help_text="Channel -> recipients at fan-out.")
    rendered = serializers.DictField(read_only=True, help_text="Channel -> part -> preview text.")
    deliveries = serializers.SerializerMethodField(
        help_text="Channel -> status (pending, sending, sent, failed) -> count."
    )
    failures = serializers.SerializerMethodField(help_text="Failed deliveries and why (50 first).")
    broadcast_failures = serializers.SerializerMethodField(
        help_text="Failed broadcasts (in-app, status page, social) and why."
    )
    warnings = serializers.SerializerMethodField(
        help_text="Channel -> what to check before approving (e.g. an SMS of 2 segments)."
    )

    @extend_schema_field(
        serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
    )
    def get_deliveries(self, message: Message) -> dict[str, dict[str, int]]:
        # Broadcast channels count their one row per target (see channels/broadcast.py).
        return {**selectors.delivery_counts(message), **broadcast_counts(message)}

    @extend_schema_field(BroadcastFailureSerializer(many=True))
    def get_broadcast_failures(self, message: Message) -> list[dict[str, Any]]:
        return broadcast_failures(message)

    @extend_schema_field(
        serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    )
    def get_warnings(self, message: Message) -> dict[str, list[str]]:
        return channel_problems(message).warnings

    @extend_schema_field(FailureSerializer(many=True))
    def get_failures(self, message: Message) -> list[dict[str, Any]]:
        return selectors.delivery_failures(message)
