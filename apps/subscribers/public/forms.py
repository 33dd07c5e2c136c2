"""Forms of the public pages: subscribe (one form per way of being reached) and manage.

Contact details are checked here with the same validators as the services (so the error
sits next to the field as the person typed it); the services check them again when called.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from django import forms

from apps.incidents.selectors import services_list
from apps.subscribers.choices import SubscriberChannel, SubscriptionKind
from apps.subscribers.models import Subscriber, Subscription
from apps.subscribers.services import ALL
from apps.subscribers.validators import (
    EMAIL_MAX,
    URL_MAX,
    normalize_email,
    normalize_phone,
    validate_webhook_url,
)

EMAIL = SubscriberChannel.EMAIL.value
SMS = SubscriberChannel.SMS.value
WEBHOOK = SubscriberChannel.WEBHOOK.value
SLACK = SubscriberChannel.SLACK.value
TEAMS = SubscriberChannel.TEAMS.value

# The ways to subscribe, in the order of the page's tabs.
VIAS: dict[str, str] = {
    EMAIL: "E-mail",
    SMS: "Text message (SMS)",
    WEBHOOK: "Webhook",
    SLACK: "Slack",
    TEAMS: "Microsoft Teams",
}
# Confirmed by the link e-mailed to the address given (double opt-in).
CONFIRMED_BY_EMAIL = frozenset({EMAIL, SMS})
# Confirmed at once: the person holds the endpoint and is shown its secret once.
CONFIRMED_AT_ONCE = frozenset({WEBHOOK, SLACK, TEAMS})
# The field that holds the address of each way.
VIA_FIELD = {
    EMAIL: "email",
    SMS: "phone",
    WEBHOOK: "webhook_url",
    SLACK: "slack_webhook_url",
    TEAMS: "teams_webhook_url",
}
HONEYPOT = "website"
SCOPE_ALL, SCOPE_CHOSEN = "all", "chosen"
# Legacy aliases (US/Eastern, Brazil/East, ...) and build artefacts; zones a subscriber
# already has stay selectable.
TIME_ZONE_PREFIXES_LEFT_OUT = (
    "Etc/",
    "SystemV/",
    "US/",
    "posix/",
    "right/",
    "Canada/",
    "Brazil/",
    "Chile/",
    "Mexico/",
)


def _service_choices() -> list[tuple[str, str]]:
    return [(s.slug, s.name) for s in services_list()]


@lru_cache(maxsize=1)
def time_zone_choices() -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """IANA zones grouped by area (Africa, America, ...), legacy aliases left out."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for zone in sorted(available_timezones()):
        if "/" not in zone or zone.startswith(TIME_ZONE_PREFIXES_LEFT_OUT):
            continue
        area, place = zone.split("/", 1)
        groups.setdefault(area, []).append((zone, place.replace("_", " ")))
    groups.setdefault("Other", []).append(("UTC", "UTC"))
    return tuple((area, tuple(zones)) for area, zones in groups.items())


class ServicesForm(forms.Form):
    """All services, or a chosen set: a radio and one checkbox per service. Ticks count only
    with "only the services I tick", so the page works without scripts."""

    services_scope = forms.ChoiceField(
        label="Services",
        choices=[
            (SCOPE_ALL, "All services, including ones added later"),
            (SCOPE_CHOSEN, "Only the services I tick below"),
        ],
        initial=SCOPE_ALL,
        widget=forms.RadioSelect,
    )
    services = forms.MultipleChoiceField(
        label="Services to hear about",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text='Used when you choose "Only the services I tick below".',
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        services_field = self.fields["services"]
        assert isinstance(services_field, forms.MultipleChoiceField)
        services_field.choices = _service_choices()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        if data.get("services_scope") == SCOPE_CHOSEN and not data.get("services"):
            self.add_error("services", 'Tick at least one service, or choose "All services" above.')
        return data

    def services_argument(self) -> str | list[str]:
        if self.cleaned_data["services_scope"] == SCOPE_ALL:
            return ALL
        return list(self.cleaned_data["services"])


def _url_input(placeholder: str) -> forms.TextInput:
    return forms.TextInput(
        attrs={"type": "url", "inputmode": "url", "autocomplete": "off", "placeholder": placeholder}
    )


class SubscribeForm(ServicesForm):
    """`/subscribe/?via=<way>`: only the fields of that way are kept."""

    email = forms.CharField(
        label="E-mail address",
        max_length=EMAIL_MAX,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label="Mobile number",
        max_length=40,
        help_text="In international format: + and the country code first, e.g. +14155550123.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    name = forms.CharField(
        label="Your name (optional)",
        max_length=200,
        required=False,
        help_text="Used to greet you in the messages.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    webhook_url = forms.CharField(
        label="Webhook URL",
        max_length=URL_MAX,
        help_text="Receives a signed JSON POST per update (Standard Webhooks, Statuspage's "
        "body). It must be an http(s) URL on the public internet.",
        widget=_url_input("https://example.com/hooks/status"),
    )
    slack_webhook_url = forms.CharField(
        label="Slack incoming webhook URL",
        max_length=URL_MAX,
        help_text="Create one in Slack (Apps, Incoming Webhooks) for the channel to post to.",
        widget=_url_input("https://hooks.slack.com/services/..."),
    )
    teams_webhook_url = forms.CharField(
        label="Microsoft Teams webhook URL",
        max_length=URL_MAX,
        help_text="Create one in Teams (Workflows, or the channel's Incoming Webhook connector).",
        widget=_url_input("https://example.webhook.office.com/..."),
    )
    website = forms.CharField(
        label="Leave this field empty",
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    field_order = (
        "email",
        "phone",
        "webhook_url",
        "slack_webhook_url",
        "teams_webhook_url",
        "name",
        "services_scope",
        "services",
        "website",
    )

    def __init__(self, *args: Any, via: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.via = via
        keep = {"services_scope", "services", HONEYPOT, VIA_FIELD[via]}
        if via in CONFIRMED_BY_EMAIL:
            keep |= {"email", "name"}
        if via == SMS:
            self.order_fields(["phone", "email"])
            self.fields["phone"].help_text = (
                f"{self.fields['phone'].help_text} Text messages go to the contacts of our "
                "enterprise customers, for the most severe incidents; every update also goes "
                "to your e-mail address below."
            )
            self.fields["email"].help_text = (
                "We send the link that confirms your subscription here, and every update: "
                "nothing is sent until you have opened it. You can manage your subscription "
                "from it too."
            )
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]

    def honeypot_filled(self) -> bool:
        """A person never sees the honeypot field; software that fills in every field does."""
        return bool(self.data.get(HONEYPOT, "").strip())

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])

    def clean_phone(self) -> str:
        return normalize_phone(self.cleaned_data["phone"])

    def clean_webhook_url(self) -> str:
        return validate_webhook_url(self.cleaned_data["webhook_url"])

    def clean_slack_webhook_url(self) -> str:
        return validate_webhook_url(self.cleaned_data["slack_webhook_url"], https_only=True)

    def clean_teams_webhook_url(self) -> str:
        return validate_webhook_url(self.cleaned_data["teams_webhook_url"], https_only=True)

    def addresses(self) -> list[str]:
        """Every address given (normalised), for the per-address rate limit."""
        fields = ("email", "phone", "webhook_url", "slack_webhook_url", "teams_webhook_url")
        return [self.cleaned_data[f] for f in fields if self.cleaned_data.get(f)]

    def channels(self) -> list[str]:
        # Texts reach only enterprise customers' contacts (the severity policy's SMS rule),
        # which a person signing up here may not be: e-mail makes sure they hear something.
        if self.via == SMS:
            return [SMS, EMAIL]
        return [self.via]

    def service_arguments(self) -> dict[str, Any]:
        """The keyword arguments of `subscriber_create` (source, confirmation, actor aside)."""
        data = self.cleaned_data
        contact = {f: data[f] for f in VIA_FIELD.values() if f in data}
        if "email" in data:
            contact["email"] = data["email"]
        return {
            **contact,
            "name": data.get("name", ""),
            "services": self.services_argument(),
            "channels": self.channels(),
        }


def describe(subscriber: Subscriber, channel: str) -> str:
    """The channel and its address as a page shows them: a URL only by its host (a Slack or
    Teams webhook URL is itself a credential, and these pages open by a link that may have
    been forwarded)."""
    address = subscriber.address_for(channel)
    if channel in (WEBHOOK, SLACK, TEAMS):
        address = urlsplit(address).hostname or "?"
        return f"{SubscriberChannel(channel).label} at {address}"
    return f"{SubscriberChannel(channel).label}: {address}"


def contact(subscriber: Subscriber) -> str:
    """Who a page is about, for a sentence: the e-mail address, else the phone number, else
    "the webhook at <host>"."""
    for channel in subscriber.reachable_channels:
        if channel in (EMAIL, SMS):
            return subscriber.address_for(channel)
        host = urlsplit(subscriber.address_for(channel)).hostname or "?"
        noun = "webhook" if channel == WEBHOOK else f"{SubscriberChannel(channel).label} webhook"
        return f"the {noun} at {host}"
    return str(subscriber)


class ManageForm(ServicesForm):
    """`/subscriptions/<token>/`: services, channels, kinds of news, time zone."""

    channels = forms.MultipleChoiceField(
        label="Send updates by",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Tick at least one, or leave with the button below."},
    )
    kinds = forms.MultipleChoiceField(
        label="Tell me about",
        choices=SubscriptionKind.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Tick at least one, or leave with the button below."},
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        help_text="Times in the messages are shown in this zone.",
    )

    def __init__(self, *args: Any, subscriber: Subscriber, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subscriber = subscriber
        channels = self.fields["channels"]
        assert isinstance(channels, forms.MultipleChoiceField)
        channels.choices = [(c, describe(subscriber, c)) for c in subscriber.reachable_channels]
        customer = subscriber.customer
        inherited = (customer.time_zone if customer else "") or "UTC"
        zones: list[Any] = [("", f"Not set: {inherited}"), *time_zone_choices()]
        if subscriber.time_zone and subscriber.time_zone not in _zone_names():
            zones.append(("Current", ((subscriber.time_zone, subscriber.time_zone),)))
        time_zone = self.fields["time_zone"]
        assert isinstance(time_zone, forms.ChoiceField)
        time_zone.choices = zones
        subscription = Subscription.objects.filter(subscriber=subscriber).first()
        if subscription is not None:
            self.initial.update(
                services_scope=SCOPE_ALL if subscription.all_services else SCOPE_CHOSEN,
                services=[s.slug for s in subscription.services.all()],
                channels=[c for c in subscription.channels if c in subscriber.reachable_channels],
                kinds=list(subscription.kinds),
            )
        self.initial["time_zone"] = subscriber.time_zone

    def service_arguments(self) -> dict[str, Any]:
        """The keyword arguments of `subscriber_update` (subscriber and actor aside)."""
        data = self.cleaned_data
        return {
            "services": self.services_argument(),
            "channels": list(data["channels"]),
            "kinds": list(data["kinds"]),
            "time_zone": data["time_zone"],
        }


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zone for _, zones in time_zone_choices() for zone, _ in zones)
