"""Input parsing and output shapes of the incidents API.

Input serializers only check types and shapes; what a value means (does this service slug
exist, may this incident move to that status) is the services' call, so their messages reach
the client unchanged. Field errors are always flat lists of strings, as the API's error body
promises (`{"error": {"fields": {name: [message, ...]}}}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from django.db import models
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import User
from apps.incidents.choices import (
    ComponentStatus,
    ExpectedImpact,
    IncidentSource,
    IncidentStatus,
    MaintenanceStatus,
    Severity,
)
from apps.incidents.models import (
    Incident,
    IncidentService,
    IncidentUpdate,
    MaintenanceUpdate,
    MaintenanceWindow,
    Service,
)
from apps.incidents.selectors import (
    IncidentClocks,
    SuggestedWindow,
    incident_clocks,
    policies_by_level,
    policy_settings,
)
from apps.incidents.services import UNCHANGED

# --- fields -------------------------------------------------------------------------------


def _messages(detail: Any) -> list[str]:
    if isinstance(detail, Mapping):
        return [m for value in detail.values() for m in _messages(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _messages(value)]
    return [str(detail)]


class EnumField(serializers.ChoiceField):
    """A choice among a TextChoices' values, documented as the named enum component of that
    class (`IncidentStatus`, `MaintenanceStatus`, ...) so that fields sharing a name never
    share an ambiguous enum."""

    def __init__(self, enum: type[models.TextChoices], **kwargs: Any) -> None:
        self.enum = enum
        kwargs.setdefault(
            "error_messages",
            {"invalid_choice": f'"{{input}}" is not valid: use one of {", ".join(enum.values)}.'},
        )
        super().__init__(choices=enum.choices, **kwargs)


class EnumFieldSchema(OpenApiSerializerFieldExtension):
    target_class = EnumField
    match_subclasses = True

    def get_name(self) -> str:
        return str(self.target.enum.__name__)

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        enum = self.target.enum
        return {
            "type": "string",
            "enum": list(enum.values),
            "description": "\n".join(f"* `{v}` - {label}" for v, label in enum.choices),
        }


class CodeListField(serializers.ListField):
    """A list of slugs or codes; an invalid item is reported as "Item 2: ..."."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.CharField(max_length=50))
        super().__init__(**kwargs)

    def run_child_validation(self, data: list[Any]) -> list[Any]:
        result, errors = [], []
        for index, item in enumerate(data, start=1):
            try:
                result.append(self.child.run_validation(item))
            except serializers.ValidationError as exc:
                errors += [f"Item {index}: {m}" for m in _messages(exc.detail)]
        if errors:
            raise serializers.ValidationError(errors)
        return result


def _shown(key: str) -> str:
    """A key as an error message may quote it: an empty one, or one with control characters
    (a NUL), quoted and escaped."""
    return key if key and key.isprintable() else repr(key)


class StatusMapField(serializers.DictField):
    """Service slug -> component status; an invalid entry (its slug or its status) is
    reported as "api: ..."."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", EnumField(ComponentStatus))
        super().__init__(**kwargs)
        # Keys are checked like the slugs they name before they reach a query: a NUL byte
        # would otherwise fail in PostgreSQL as a 500.
        self.key_field = serializers.SlugField(
            max_length=50,
            error_messages={
                "invalid": "Not a service slug: use letters, numbers, hyphens and underscores."
            },
        )

    def run_child_validation(self, data: Mapping[Any, Any]) -> dict[str, Any]:
        result, errors = {}, []
        for key, value in data.items():
            shown = _shown(str(key))
            try:
                slug = self.key_field.run_validation(str(key))
            except serializers.ValidationError as exc:
                errors.append(f"{shown}: {_messages(exc.detail)[0]}")  # one reason per slug
                continue
            try:
                result[slug] = self.child.run_validation(value)
            except serializers.ValidationError as exc:
                errors += [f"{shown}: {m}" for m in _messages(exc.detail)]
        if errors:
            raise serializers.ValidationError(errors)
        return result


class UserEmailField(serializers.SlugRelatedField):
    """An active staff user of this tenant, by e-mail address (any case)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("slug_field", "email")
        kwargs.setdefault("queryset", User.objects.filter(is_active=True))
        super().__init__(**kwargs)
        self.error_messages["does_not_exist"] = (
            "There is no active user with the e-mail {value} in this tenant."
        )

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value(data.strip().lower() if isinstance(data, str) else data)


@extend_schema_field(OpenApiTypes.STR)
class CodeRelatedField(serializers.SlugRelatedField):  # type: ignore[type-arg]
    """Related rows shown by their slug or code (`many=True`, read only)."""


# Input serializers refuse fields they do not know instead of ignoring them: a misspelt field
# that is silently dropped is worse than an error. `hints` says where a field that is known
# elsewhere goes. (A comment, not a docstring: the OpenAPI schema would show it on every body.)
class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    hints: ClassVar[dict[str, str]] = {}

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            accepted = ", ".join(self.fields)
            for key in data:
                if key not in self.fields:
                    unknown[str(key)] = [
                        self.hints.get(key, f"Unknown field; this endpoint accepts {accepted}.")
                    ]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


# --- catalog ------------------------------------------------------------------------------


class RegionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    time_zone = serializers.CharField(read_only=True, help_text="IANA time zone.")


# Needs `statuses` (service id -> derived status) in its context.
class ServiceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A service (a status-page component) with its current status."""

    slug = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    group = serializers.CharField(source="group.name", read_only=True, allow_null=True)
    position = serializers.IntegerField(read_only=True)
    status = serializers.SerializerMethodField(
        help_text="Current status, derived from open incidents (confirmed or not) and active "
        "maintenance."
    )
    regions = CodeRelatedField(
        slug_field="code",
        many=True,
        read_only=True,
        help_text="Region codes where it runs; empty = everywhere.",
    )
    only_show_if_degraded = serializers.BooleanField(read_only=True)
    showcase = serializers.BooleanField(read_only=True)
    start_date = serializers.DateField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(EnumField(ComponentStatus))
    def get_status(self, obj: Service) -> str:
        return str(self.context["statuses"][obj.pk])


# --- incidents ----------------------------------------------------------------------------


def incident_context() -> dict[str, Any]:
    """What IncidentSerializer needs to compute every incident's clocks without a query per
    incident."""
    return {
        "now": timezone.now(),
        "policy_settings": policy_settings(),
        "policies": policies_by_level(),
    }


class AffectedServiceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    service = serializers.CharField(source="service.slug", read_only=True, help_text="Slug.")
    name = serializers.CharField(source="service.name", read_only=True)
    component_status = EnumField(ComponentStatus, read_only=True)


class IncidentClocksSerializer(serializers.Serializer):  # type: ignore[type-arg]
    assessment_due = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the initial assessment is due; null once assessed or resolved.",
    )
    assessment_overdue = serializers.BooleanField(read_only=True)
    next_update_due = serializers.DateTimeField(read_only=True, allow_null=True)
    update_overdue = serializers.BooleanField(read_only=True)
    extended_outage = serializers.BooleanField(
        read_only=True, help_text="No ETA for longer than the extended-outage threshold."
    )
    extended_since = serializers.DateTimeField(read_only=True, allow_null=True)
    target_resolution_due = serializers.DateTimeField(read_only=True, allow_null=True)
    target_resolution_overdue = serializers.BooleanField(read_only=True)


# Give it `incident_context()` as context and a queryset from `selectors.incidents_list()`
# with `children` prefetched: then a page of incidents costs no query per incident.
class IncidentSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The staff view of an incident, internal fields included."""

    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True, help_text="Customer-facing.")
    internal_title = serializers.CharField(read_only=True)
    severity = EnumField(Severity, read_only=True)
    status = EnumField(IncidentStatus, read_only=True)
    false_alarm = serializers.BooleanField(read_only=True)
    customer_impact_confirmed = serializers.BooleanField(read_only=True)
    services = serializers.SerializerMethodField()
    regions = CodeRelatedField(
        slug_field="code", many=True, read_only=True, help_text="Region codes; empty = all."
    )
    impact_scope_pct = serializers.IntegerField(read_only=True, allow_null=True)
    root_cause_hypothesis = serializers.CharField(read_only=True)
    eta = serializers.DateTimeField(read_only=True, allow_null=True)
    next_update_due = serializers.DateTimeField(read_only=True, allow_null=True)
    commander = serializers.EmailField(source="commander.email", read_only=True, allow_null=True)
    # `parent` and `source` shadow attributes of Field in the stubs; DRF's serializer
    # metaclass takes declared fields off the class, so there is no clash at run time.
    parent = serializers.IntegerField(  # type: ignore[assignment]
        source="parent_id", read_only=True, allow_null=True
    )
    children = serializers.SerializerMethodField()
    started_at = serializers.DateTimeField(read_only=True)
    detected_at = serializers.DateTimeField(read_only=True)
    acknowledged_at = serializers.DateTimeField(read_only=True, allow_null=True)
    assessed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    impact_confirmed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    monitoring_at = serializers.DateTimeField(read_only=True, allow_null=True)
    resolved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    source = EnumField(IncidentSource, read_only=True)  # type: ignore[assignment]
    external_id = serializers.CharField(read_only=True)
    clocks = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(AffectedServiceSerializer(many=True))
    def get_services(self, obj: Incident) -> Any:
        rows: list[IncidentService] = sorted(obj.affected.all(), key=lambda r: r.service.slug)
        return AffectedServiceSerializer(rows, many=True).data

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_children(self, obj: Incident) -> list[int]:
        return sorted(child.pk for child in obj.children.all())

    @extend_schema_field(IncidentClocksSerializer)
    def get_clocks(self, obj: Incident) -> Any:
        clocks: IncidentClocks = incident_clocks(
            obj,
            now=self.context.get("now"),
            settings=self.context.get("policy_settings"),
            policy=self.context.get("policies", {}).get(obj.severity),
        )
        return IncidentClocksSerializer(clocks).data


class IncidentFilterSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.ChoiceField(
        choices=[("open", "Any open status"), *IncidentStatus.choices],
        required=False,
        help_text="`open` = triage, investigating, identified or monitoring.",
    )
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    service = serializers.CharField(required=False, help_text="Affects this service (slug).")
    region = serializers.CharField(
        required=False, help_text="Affects this region (code); incidents of all regions count."
    )


class IncidentCreateSerializer(InputSerializer):
    title = serializers.CharField(
        max_length=200, allow_blank=True, help_text="Customer-facing, in customer terms."
    )
    severity = EnumField(Severity)
    services = StatusMapField(
        required=False,
        help_text="Affected services: service slug -> the component status this incident puts "
        'it in, e.g. `{"api": "major_outage", "dashboard": "degraded_performance"}`.',
    )
    regions = CodeListField(required=False, help_text="Region codes; empty or absent = all.")
    internal_title = serializers.CharField(max_length=200, allow_blank=True, required=False)
    impact_scope_pct = serializers.IntegerField(
        min_value=0, max_value=100, allow_null=True, required=False, help_text="% of customers."
    )
    body = serializers.CharField(
        allow_blank=True,
        required=False,
        help_text="First public message (markdown); needs confirmed customer impact.",
    )
    customer_impact_confirmed = serializers.BooleanField(
        allow_null=True,
        required=False,
        help_text="Default: true for sources `api` and `manual` (a person opens it), false "
        "for monitoring sources, whose incidents start in triage (internal only).",
    )
    commander = UserEmailField(
        allow_null=True, required=False, help_text="E-mail of a staff user of this tenant."
    )
    started_at = serializers.DateTimeField(required=False, help_text="Default: now.")
    source = EnumField(IncidentSource, default=IncidentSource.API)  # type: ignore[assignment]
    external_id = serializers.CharField(
        max_length=200,
        allow_blank=True,
        required=False,
        help_text="The source's own id: opening again with the same source and external_id "
        "returns the existing incident (200).",
    )


class IncidentPatchSerializer(InputSerializer):
    hints: ClassVar[dict[str, str]] = {
        "status": "The status is not edited directly: post an update with a status (POST "
        "/api/v1/incidents/{id}/updates/), or use resolve/, reopen/ or false-alarm/.",
        "services": "Affected services change through an update's component_changes (POST "
        "/api/v1/incidents/{id}/updates/).",
        "customer_impact_confirmed": "Use POST /api/v1/incidents/{id}/confirm-impact/.",
        "parent": "Use POST /api/v1/incidents/{id}/attach/ (or detach/).",
        "false_alarm": "Use POST /api/v1/incidents/{id}/false-alarm/.",
    }

    title = serializers.CharField(max_length=200, allow_blank=True, required=False)
    internal_title = serializers.CharField(max_length=200, allow_blank=True, required=False)
    impact_scope_pct = serializers.IntegerField(
        min_value=0, max_value=100, allow_null=True, required=False
    )
    regions = CodeListField(required=False, help_text="Replaces the regions; [] = all.")
    commander = UserEmailField(allow_null=True, required=False)
    severity = EnumField(Severity, required=False, help_text="Re-grade the incident.")
    reason = serializers.CharField(
        allow_blank=True, required=False, help_text="Why the severity changes (with severity)."
    )
    root_cause_hypothesis = serializers.CharField(allow_blank=True, required=False)
    eta = serializers.DateTimeField(
        allow_null=True,
        required=False,
        help_text="null = unknown (starts the extended-outage clock).",
    )

    EDIT_FIELDS: ClassVar[tuple[str, ...]] = (
        "title",
        "internal_title",
        "impact_scope_pct",
        "regions",
        "commander",
    )
    ASSESS_FIELDS: ClassVar[dict[str, str]] = {"root_cause_hypothesis": "hypothesis", "eta": "eta"}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "reason" in attrs and "severity" not in attrs:
            raise serializers.ValidationError(
                {"reason": ["A reason goes with a new severity; send both."]}
            )
        return attrs

    def edit_arguments(self) -> dict[str, Any]:
        """Keyword arguments for `incident_edit`."""
        return {k: self.validated_data[k] for k in self.EDIT_FIELDS if k in self.validated_data}

    def assess_arguments(self) -> dict[str, Any]:
        """Keyword arguments for `incident_assess`."""
        data = self.validated_data
        return {arg: data[field] for field, arg in self.ASSESS_FIELDS.items() if field in data}


class ComponentChangeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    service = serializers.CharField(read_only=True, help_text="Slug.")
    name = serializers.CharField(read_only=True)
    old_status = EnumField(ComponentStatus, read_only=True)
    new_status = EnumField(ComponentStatus, read_only=True)


class IncidentUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(read_only=True)
    incident = serializers.IntegerField(source="incident_id", read_only=True)
    status = EnumField(IncidentStatus, read_only=True)
    body = serializers.CharField(read_only=True, help_text="Public message; empty = internal.")
    internal_note = serializers.CharField(read_only=True, help_text="Never shown to customers.")
    public = serializers.BooleanField(source="is_public", read_only=True)
    eta = serializers.DateTimeField(read_only=True, allow_null=True)
    next_update_at = serializers.DateTimeField(read_only=True, allow_null=True)
    component_changes = ComponentChangeSerializer(many=True, read_only=True)
    deliver_notifications = serializers.BooleanField(read_only=True)
    author = serializers.EmailField(source="author.email", read_only=True, allow_null=True)
    author_label = serializers.CharField(
        read_only=True, help_text="The person or API key that posted it."
    )
    created_at = serializers.DateTimeField(read_only=True)
    display_at = serializers.DateTimeField(read_only=True)
    messages = serializers.SerializerMethodField(
        help_text="Ids of the messages to subscribers this update produced (see "
        "/api/v1/messages/{id}/); empty when it notifies nobody."
    )

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_messages(self, update: IncidentUpdate) -> list[int]:
        # The communications app adds the relation; the incidents app does not import it.
        related = getattr(update, "messages", None)
        return sorted(m.pk for m in related.all()) if related is not None else []


class IncidentUpdateCreateSerializer(InputSerializer):
    body = serializers.CharField(
        allow_blank=True,
        required=False,
        help_text="Public message (markdown); needs confirmed customer impact.",
    )
    status = EnumField(
        IncidentStatus,
        required=False,
        help_text="Move the incident to investigating, identified or monitoring (resolving "
        "has its own endpoint). Absent = unchanged.",
    )
    internal_note = serializers.CharField(allow_blank=True, required=False)
    eta = serializers.DateTimeField(
        allow_null=True, required=False, help_text="Absent = unchanged; null = unknown."
    )
    next_update_at = serializers.DateTimeField(
        allow_null=True,
        required=False,
        help_text="The promised next update; absent or null = the severity's cadence.",
    )
    component_changes = StatusMapField(
        required=False,
        help_text="Service slug -> new component status; a service not affected yet is added.",
    )
    deliver_notifications = serializers.BooleanField(
        default=True, help_text="false = publish without notifying subscribers."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("eta", UNCHANGED)
        return attrs


class ResolveSerializer(InputSerializer):
    body = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        help_text="The resolution message customers see; required once impact is confirmed.",
    )
    what_was_affected = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        help_text="All-clear: what was affected; required once impact is confirmed.",
    )
    root_cause = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        help_text="All-clear: the brief root cause; required once impact is confirmed.",
    )
    what_we_fixed = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        help_text="All-clear: what was fixed; required once impact is confirmed.",
    )
    prevention = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        help_text="All-clear: the prevention steps; required once impact is confirmed.",
    )


class FalseAlarmSerializer(InputSerializer):
    note = serializers.CharField(
        allow_blank=True, required=False, default="", help_text="Internal note."
    )


class ReopenSerializer(InputSerializer):
    reason = serializers.CharField(allow_blank=True, help_text="Why the problem is back.")


class AttachSerializer(InputSerializer):
    parent = serializers.PrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=Incident.objects.all(),
        help_text="Id of the incident whose thread this one joins.",
        error_messages={
            "does_not_exist": "There is no incident #{pk_value} in this tenant.",
            "incorrect_type": "Give the parent incident's id, a number.",
        },
    )


class DetachSerializer(InputSerializer):
    reason = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        help_text="Why it leaves the parent's thread (internal note).",
    )


# --- maintenance --------------------------------------------------------------------------


class MaintenanceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    status = EnumField(MaintenanceStatus, read_only=True)
    services = CodeRelatedField(slug_field="slug", many=True, read_only=True)
    regions = CodeRelatedField(
        slug_field="code", many=True, read_only=True, help_text="Region codes; empty = all."
    )
    scheduled_start = serializers.DateTimeField(read_only=True)
    scheduled_end = serializers.DateTimeField(read_only=True)
    actual_start = serializers.DateTimeField(read_only=True, allow_null=True)
    actual_end = serializers.DateTimeField(read_only=True, allow_null=True)
    expected_impact = EnumField(ExpectedImpact, read_only=True)
    customer_action = serializers.CharField(read_only=True)
    contact_by = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class MaintenanceUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(read_only=True)
    status = EnumField(MaintenanceStatus, read_only=True)
    body = serializers.CharField(read_only=True)
    author_label = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class MaintenanceDetailSerializer(MaintenanceSerializer):
    updates = serializers.SerializerMethodField(help_text="Newest first.")

    @extend_schema_field(MaintenanceUpdateSerializer(many=True))
    def get_updates(self, obj: MaintenanceWindow) -> Any:
        updates: list[MaintenanceUpdate] = list(obj.updates.all())
        return MaintenanceUpdateSerializer(updates, many=True).data


class MaintenanceFilterSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.ChoiceField(choices=MaintenanceStatus.choices, required=False)


class MaintenanceCreateSerializer(InputSerializer):
    title = serializers.CharField(max_length=200, allow_blank=True)
    description = serializers.CharField(allow_blank=True, required=False)
    services = CodeListField(help_text="Slugs of the services under maintenance.")
    regions = CodeListField(required=False, help_text="Region codes; empty or absent = all.")
    scheduled_start = serializers.DateTimeField()
    scheduled_end = serializers.DateTimeField()
    expected_impact = EnumField(ExpectedImpact, default=ExpectedImpact.DEGRADED)
    customer_action = serializers.CharField(
        allow_blank=True, required=False, help_text="What customers should do."
    )
    contact_by = serializers.DateTimeField(
        allow_null=True,
        required=False,
        help_text="Customers with concerns should write before this (before the start).",
    )


class MaintenanceNoteSerializer(InputSerializer):
    body = serializers.CharField(
        allow_blank=True, required=False, default="", help_text="Default: a standard message."
    )


class MaintenanceCancelSerializer(InputSerializer):
    reason = serializers.CharField(
        allow_blank=True, required=False, default="", help_text="Shown to customers."
    )


class MaintenanceExtendSerializer(InputSerializer):
    new_end = serializers.DateTimeField(help_text="Later than the current end, in the future.")
    reason = serializers.CharField(allow_blank=True, required=False, default="")


class MaintenanceRescheduleSerializer(InputSerializer):
    scheduled_start = serializers.DateTimeField(help_text="The new start, in the future.")
    scheduled_end = serializers.DateTimeField(help_text="The new end, after the new start.")
    reason = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        help_text="Shown to customers; empty = 'Rescheduled to ...'.",
    )


class MaintenanceUpdateCreateSerializer(InputSerializer):
    body = serializers.CharField(allow_blank=True)
    status = EnumField(
        MaintenanceStatus,
        required=False,
        help_text="in_progress or verifying, on a started window. Absent = unchanged.",
    )


MAX_MAINTENANCE_MINUTES = 7 * 24 * 60


class SuggestQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    duration_minutes = serializers.IntegerField(
        min_value=1,
        max_value=MAX_MAINTENANCE_MINUTES,
        help_text="Estimated duration of the work, in minutes (before the buffer).",
    )


class SuggestedWindowSerializer(serializers.Serializer):  # type: ignore[type-arg]
    start = serializers.DateTimeField(read_only=True)
    end = serializers.DateTimeField(read_only=True)
    duration_minutes = serializers.SerializerMethodField(help_text="The estimate given.")
    buffered_duration_minutes = serializers.SerializerMethodField(
        help_text="The estimate plus the tenant's buffer (50% by default)."
    )
    reason = serializers.CharField(read_only=True, help_text="Why this start was chosen.")

    def get_duration_minutes(self, obj: SuggestedWindow) -> int:
        return int(self.context["duration"] / timedelta(minutes=1))

    def get_buffered_duration_minutes(self, obj: SuggestedWindow) -> int:
        return round(obj.buffered_duration / timedelta(minutes=1))
