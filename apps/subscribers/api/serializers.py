"""Input parsing and output shapes of the customers, subscribers and segments API.

As in the incidents API, input serializers check types and shapes only; what a value means
(does this region or customer exist, can this subscriber be reached on sms) is the services'
call, so their messages reach the client unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.incidents.api.serializers import (
    CodeListField,
    CodeRelatedField,
    EnumField,
    InputSerializer,
)
from apps.subscribers.choices import (
    CustomerTier,
    SubscriberChannel,
    SubscriberSource,
    SubscriptionKind,
)
from apps.subscribers.models import Subscriber
from apps.subscribers.services import ALL

# --- fields -------------------------------------------------------------------------------


class EnumListField(CodeListField):
    """A list of values of one TextChoices (documented as that enum)."""

    def __init__(self, enum: Any, **kwargs: Any) -> None:
        kwargs["child"] = EnumField(enum)
        super().__init__(**kwargs)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": [ALL]},
            {"type": "array", "items": {"type": "string"}},
        ],
        "description": '"all" (every service, including ones added later) or a list of '
        "service slugs.",
    }
)
class ServicesField(serializers.Field):  # type: ignore[type-arg]
    """ "all", or a list of service slugs."""

    default_error_messages = {"invalid": 'Give "all" or a list of service slugs.'}

    def to_internal_value(self, data: Any) -> Any:
        if data == ALL:
            return ALL
        if isinstance(data, list) and all(isinstance(s, str) and s for s in data):
            return data
        self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value


# --- customers ----------------------------------------------------------------------------


class CustomerSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(read_only=True)
    external_key = serializers.CharField(
        read_only=True, help_text="The customer's id in your product; the URL uses it."
    )
    name = serializers.CharField(read_only=True)
    tier = EnumField(CustomerTier, read_only=True)
    region = serializers.CharField(
        source="region.code", read_only=True, allow_null=True, help_text="Region code."
    )
    time_zone = serializers.CharField(read_only=True)
    locale = serializers.CharField(read_only=True)
    monthly_fee = serializers.DecimalField(
        max_digits=12, decimal_places=2, read_only=True, allow_null=True
    )
    currency = serializers.CharField(read_only=True)
    salesforce_account_id = serializers.CharField(read_only=True)
    hubspot_company_id = serializers.CharField(read_only=True)
    active = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class CustomerFilterSerializer(serializers.Serializer):  # type: ignore[type-arg]
    tier = serializers.ChoiceField(choices=CustomerTier.choices, required=False)
    region = serializers.CharField(required=False, help_text="Region code.")
    active = serializers.BooleanField(required=False, allow_null=True, default=None)
    search = serializers.CharField(
        required=False, help_text="In the name, external key or CRM ids."
    )


class CustomerPatchSerializer(InputSerializer):
    hints: ClassVar[dict[str, str]] = {
        "external_key": "The key identifies the customer and cannot be changed.",
    }

    name = serializers.CharField(max_length=200, allow_blank=True, required=False)
    tier = EnumField(CustomerTier, required=False)
    region = serializers.CharField(
        allow_null=True, allow_blank=True, required=False, help_text="Region code; null = none."
    )
    time_zone = serializers.CharField(
        allow_blank=True, required=False, help_text="IANA time zone, e.g. Europe/Paris."
    )
    locale = serializers.CharField(allow_blank=True, required=False, help_text="e.g. en, fr-FR")
    monthly_fee = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, required=False
    )
    currency = serializers.CharField(allow_blank=True, required=False, help_text="e.g. EUR")
    salesforce_account_id = serializers.CharField(allow_blank=True, required=False)
    hubspot_company_id = serializers.CharField(allow_blank=True, required=False)
    active = serializers.BooleanField(required=False)


class CustomerUpsertSerializer(CustomerPatchSerializer):
    hints: ClassVar[dict[str, str]] = {}

    external_key = serializers.CharField(
        max_length=100, help_text="Creates the customer, or updates the one with this key."
    )


# --- subscribers --------------------------------------------------------------------------


# Give it `{"reveal_secret": True}` as context to include the webhook secret (only right
# after it was made: on creation, or when the webhook URL changes).
class SubscriberSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True)
    phone = serializers.CharField(read_only=True, help_text="E.164.")
    customer = serializers.CharField(
        source="customer.external_key",
        read_only=True,
        allow_null=True,
        help_text="The customer's external key.",
    )
    region = serializers.CharField(
        source="region.code",
        read_only=True,
        allow_null=True,
        help_text="Its own region code; null = its customer's.",
    )
    time_zone = serializers.CharField(read_only=True, help_text="Empty = its customer's.")
    locale = serializers.CharField(read_only=True, help_text="Empty = its customer's.")
    webhook_url = serializers.CharField(read_only=True)
    webhook_secret = serializers.SerializerMethodField(
        help_text="Signs webhook payloads (Standard Webhooks). Shown once: in the response "
        "that creates the subscriber or changes its webhook URL; null otherwise."
    )
    webhook_disabled_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="Set when the endpoint was turned off for failing; "
        "`POST .../webhook-enable/` turns it back on.",
    )
    webhook_disabled_reason = serializers.CharField(read_only=True)
    webhook_failures = serializers.IntegerField(
        read_only=True, help_text="Failed deliveries in a row to the webhook endpoint."
    )
    slack_webhook_url = serializers.CharField(read_only=True)
    teams_webhook_url = serializers.CharField(read_only=True)
    all_services = serializers.BooleanField(source="subscription.all_services", read_only=True)
    services = serializers.SerializerMethodField(help_text="Slugs, when not all services.")
    kinds = serializers.SerializerMethodField()
    channels = serializers.SerializerMethodField(help_text="The channels it accepts.")
    reachable_channels = serializers.SerializerMethodField(
        help_text="The channels it is sent on: accepted, and its contact details allow."
    )
    confirmed = serializers.BooleanField(read_only=True)
    confirmed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    unsubscribed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    source = EnumField(SubscriberSource, read_only=True)  # type: ignore[assignment]
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_webhook_secret(self, obj: Subscriber) -> str | None:
        if self.context.get("reveal_secret") and obj.webhook_secret:
            return obj.webhook_secret
        return None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_services(self, obj: Subscriber) -> list[str]:
        return sorted(s.slug for s in obj.subscription.services.all())

    @extend_schema_field(EnumListField(SubscriptionKind))
    def get_kinds(self, obj: Subscriber) -> list[str]:
        return list(obj.subscription.kinds)

    @extend_schema_field(EnumListField(SubscriberChannel))
    def get_channels(self, obj: Subscriber) -> list[str]:
        return list(obj.subscription.channels)

    @extend_schema_field(EnumListField(SubscriberChannel))
    def get_reachable_channels(self, obj: Subscriber) -> list[str]:
        accepted = set(obj.subscription.channels)
        return [c for c in obj.reachable_channels if c in accepted]


class SubscriberFilterSerializer(serializers.Serializer):  # type: ignore[type-arg]
    customer = serializers.CharField(required=False, help_text="Customer external key.")
    confirmed = serializers.BooleanField(required=False, allow_null=True, default=None)
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=SubscriberSource.choices, required=False
    )
    search = serializers.CharField(required=False, help_text="In the name, e-mail and phone.")


class SubscriberPatchSerializer(InputSerializer):
    hints: ClassVar[dict[str, str]] = {
        "skip_confirmation": "Applies when creating; POST /api/v1/subscribers/{id}/confirm/ "
        "confirms a pending subscriber.",
        "confirmed": "Use POST /api/v1/subscribers/{id}/confirm/ or .../unsubscribe/.",
        "webhook_secret": "The secret is made by Clarion when the webhook URL is set.",
    }

    email = serializers.CharField(allow_blank=True, required=False, help_text='"" removes it.')
    phone = serializers.CharField(
        allow_blank=True, required=False, help_text="International format, e.g. +14155550123."
    )
    name = serializers.CharField(allow_blank=True, required=False)
    customer = serializers.CharField(
        allow_null=True, required=False, help_text="The customer's external key; null = none."
    )
    region = serializers.CharField(
        allow_null=True, required=False, help_text="Region code; null = the customer's."
    )
    time_zone = serializers.CharField(
        allow_blank=True, required=False, help_text='IANA time zone; "" = the customer\'s.'
    )
    locale = serializers.CharField(allow_blank=True, required=False, help_text="e.g. en, fr-FR")
    services = ServicesField(required=False)
    channels = EnumListField(
        SubscriberChannel,
        required=False,
        help_text="The channels it accepts; each needs its contact detail.",
    )
    kinds = EnumListField(SubscriptionKind, required=False)
    webhook_url = serializers.CharField(
        allow_blank=True, required=False, help_text="A new URL gets a new signing secret."
    )
    slack_webhook_url = serializers.CharField(allow_blank=True, required=False)
    teams_webhook_url = serializers.CharField(allow_blank=True, required=False)


class SubscriberCreateSerializer(SubscriberPatchSerializer):
    hints: ClassVar[dict[str, str]] = {
        "confirmed": "Send skip_confirmation: true to create it confirmed.",
        "source": "Subscribers created through the API have the source api.",
        "webhook_secret": SubscriberPatchSerializer.hints["webhook_secret"],
    }

    channels = EnumListField(
        SubscriberChannel,
        required=False,
        help_text="The channels it accepts; absent = every channel its contact details allow.",
    )
    kinds = EnumListField(SubscriptionKind, required=False, help_text="Absent = all kinds.")
    skip_confirmation = serializers.BooleanField(
        default=False,
        help_text="true: you vouch that the person agreed (e.g. your own customer list); "
        "the subscriber is confirmed at once. false: it receives nothing until it confirms.",
    )


class UnsubscribeSerializer(InputSerializer):
    note = serializers.CharField(
        allow_blank=True, required=False, default="", help_text="Why (internal)."
    )


# --- segments -----------------------------------------------------------------------------


class SegmentSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    tiers = EnumListField(CustomerTier, read_only=True)
    regions = CodeRelatedField(slug_field="code", many=True, read_only=True)
    services = CodeRelatedField(slug_field="slug", many=True, read_only=True)
    customers = CodeRelatedField(
        slug_field="external_key", many=True, read_only=True, help_text="External keys."
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class SegmentPatchSerializer(InputSerializer):
    name = serializers.CharField(max_length=100, allow_blank=True, required=False)
    description = serializers.CharField(allow_blank=True, required=False)
    tiers = EnumListField(CustomerTier, required=False, help_text="Empty = any tier.")
    regions = CodeListField(required=False, help_text="Region codes; empty = any region.")
    services = CodeListField(
        required=False, help_text="Service slugs (subscribed to one of them); empty = any."
    )
    customers = CodeListField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text="Customer external keys; empty = any customer.",
    )


class SegmentCreateSerializer(SegmentPatchSerializer):
    name = serializers.CharField(max_length=100, allow_blank=True)


class SubscriberSummarySerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True)
    phone = serializers.CharField(read_only=True)
    customer = serializers.CharField(
        source="customer.external_key", read_only=True, allow_null=True
    )


class SegmentPreviewQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    sample = serializers.IntegerField(
        min_value=0, max_value=100, default=10, help_text="How many members to show."
    )


class SegmentPreviewSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField(
        read_only=True, help_text="Subscribers the segment selects now (confirmed ones)."
    )
    sample = SubscriberSummarySerializer(many=True, read_only=True, help_text="By id.")
