"""Admin forms of customers, subscribers, segments and suppressions, and the CSV upload.

The model forms keep the admin's usual pages (list, change form, history, delete) but save
through the use-cases (`apps.core.forms.ServiceModelForm`).
"""

from __future__ import annotations

from typing import Any

from django import forms

from apps.core.forms import ServiceModelForm
from apps.incidents.models import Region, Service
from apps.subscribers import services
from apps.subscribers.choices import (
    CustomerTier,
    SubscriberChannel,
    SubscriptionKind,
)
from apps.subscribers.models import Customer, Segment, Subscriber, Subscription, Suppression
from apps.subscribers.validators import URL_MAX

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def _checkboxes(choices: Any, **kwargs: Any) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple, **kwargs)


# --- customers ----------------------------------------------------------------------------


class CustomerForm(ServiceModelForm):
    class Meta:
        model = Customer
        fields = (
            "name",
            "external_key",
            "tier",
            "region",
            "time_zone",
            "locale",
            "monthly_fee",
            "currency",
            "salesforce_account_id",
            "hubspot_company_id",
            "active",
        )

    def run_service(self) -> Customer:
        # Only what the form shows: fields a CRM keeps up to date are read-only on a linked
        # customer's page (see CustomerAdmin) and keep their value.
        data = {name: value for name, value in self.cleaned_data.items() if name in self.fields}
        if "region" in data:
            region: Region | None = data["region"]
            data["region"] = region.code if region else None
        data["external_key"] = data.get("external_key") or self.instance.external_key
        customer, _ = services.customer_upsert(**data, actor=self.actor)
        return customer


# --- subscribers --------------------------------------------------------------------------


class SubscriberForm(ServiceModelForm):
    all_services = forms.BooleanField(
        required=False, initial=True, help_text="Every service, including ones added later."
    )
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="When not all services.",
    )
    channels = _checkboxes(
        SubscriberChannel.choices,
        initial=SubscriberChannel.values,
        help_text="The channels it accepts; each needs its contact detail above.",
    )
    kinds = _checkboxes(SubscriptionKind.choices, initial=SubscriptionKind.values)
    webhook_url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=URL_MAX,
        help_text="Receives signed JSON (Standard Webhooks); a new URL gets a new secret.",
    )
    slack_webhook_url = forms.URLField(required=False, assume_scheme="https", max_length=URL_MAX)
    teams_webhook_url = forms.URLField(required=False, assume_scheme="https", max_length=URL_MAX)
    confirmed = forms.BooleanField(
        required=False,
        label="Already agreed",
        help_text="The person agreed to hear from you: confirm them now instead of waiting "
        "for their confirmation.",
    )

    class Meta:
        model = Subscriber
        fields = (
            "name",
            "email",
            "phone",
            "customer",
            "region",
            "time_zone",
            "locale",
            "webhook_url",
            "slack_webhook_url",
            "teams_webhook_url",
        )
        help_texts = {"phone": "International format, e.g. +14155550123."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            del self.fields["confirmed"]  # its own actions confirm or unsubscribe it
            subscription = Subscription.objects.filter(subscriber=self.instance).first()
            if subscription is not None:
                self.initial.update(
                    all_services=subscription.all_services,
                    services=list(subscription.services.all()),
                    channels=list(subscription.channels),
                    kinds=list(subscription.kinds),
                )

    def run_service(self) -> Subscriber:
        data = self.cleaned_data
        customer: Customer | None = data.get("customer")
        region: Region | None = data.get("region")
        chosen: list[str] = [s.slug for s in data["services"]]
        arguments: dict[str, Any] = {
            "name": data["name"],
            "email": data["email"],
            "phone": data["phone"],
            "customer": customer.external_key if customer else None,
            "region": region.code if region else None,
            "time_zone": data["time_zone"],
            "locale": data["locale"],
            "webhook_url": data["webhook_url"],
            "slack_webhook_url": data["slack_webhook_url"],
            "teams_webhook_url": data["teams_webhook_url"],
            "services": services.ALL if data["all_services"] else chosen,
            "channels": data["channels"],
            "kinds": data["kinds"],
            "actor": self.actor,
        }
        if self.instance.pk is None:
            return services.subscriber_create(**arguments, confirmed=data["confirmed"])
        return services.subscriber_update(subscriber=self.instance, **arguments)


# --- segments and suppressions ------------------------------------------------------------


class SegmentForm(ServiceModelForm):
    tiers = _checkboxes(CustomerTier.choices, required=False, help_text="None ticked = any tier.")

    class Meta:
        model = Segment
        fields = ("name", "description", "tiers", "regions", "services", "customers")
        widgets = {
            "regions": forms.CheckboxSelectMultiple,
            "services": forms.CheckboxSelectMultiple,
        }
        help_texts = {
            "regions": "None ticked = any region (a subscriber's own, else its customer's).",
            "services": "Subscribed to one of these; none ticked = any.",
            "customers": "None = any customer.",
        }

    def run_service(self) -> Segment:
        data = self.cleaned_data
        arguments: dict[str, Any] = {
            "name": data["name"],
            "description": data["description"],
            "tiers": data["tiers"],
            "regions": [r.code for r in data["regions"]],
            "services": [s.slug for s in data["services"]],
            "customers": [c.external_key for c in data["customers"]],
            "actor": self.actor,
        }
        if self.instance.pk is None:
            return services.segment_create(**arguments)
        return services.segment_update(segment=self.instance, **arguments)


class SuppressionForm(ServiceModelForm):
    class Meta:
        model = Suppression
        fields = ("channel", "address", "reason", "note")
        help_texts = {
            "address": "The e-mail address, phone number (international format) or URL.",
        }

    def run_service(self) -> Suppression:
        data = self.cleaned_data
        return services.suppression_add(
            channel=data["channel"],
            address=data["address"],
            reason=data["reason"],
            note=data["note"],
            actor=self.actor,
        )


# --- CSV import ---------------------------------------------------------------------------


class CsvImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file", help_text="UTF-8, comma- or semicolon-separated, a header row first."
    )
    dry_run = forms.BooleanField(
        required=False,
        initial=True,
        label="Dry run",
        help_text="Check the file and show what would happen, without changing anything.",
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size // 1024} KB; split it into files of at most "
                f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
            )
        return upload


class SubscriberCsvImportForm(CsvImportForm):
    skip_confirmation = forms.BooleanField(
        required=False,
        label="These people agreed",
        help_text="Confirm new and pending subscribers at once (e.g. your own customer list). "
        "Someone who unsubscribed is never subscribed again by an import.",
    )
