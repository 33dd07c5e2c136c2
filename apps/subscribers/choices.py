"""Enumerations of customers and subscribers."""

from django.db import models


class CustomerTier(models.TextChoices):
    ENTERPRISE = "enterprise", "Enterprise"
    BUSINESS = "business", "Business"
    STANDARD = "standard", "Standard"


class SubscriberChannel(models.TextChoices):
    """The channels that deliver to one subscriber (the communications channel keys of the
    same name). `in_app`, `status_page` and `social` reach everyone at once, not a subscriber,
    so they have no per-subscriber audience."""

    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"


# Which contact field of a Subscriber (and of a Suppression's address) each channel uses.
CHANNEL_ADDRESS_FIELD: dict[str, str] = {
    SubscriberChannel.EMAIL: "email",
    SubscriberChannel.SMS: "phone",
    SubscriberChannel.WEBHOOK: "webhook_url",
    SubscriberChannel.SLACK: "slack_webhook_url",
    SubscriberChannel.TEAMS: "teams_webhook_url",
}

# Channels that broadcast to everyone (no per-subscriber audience).
BROADCAST_CHANNELS = ("in_app", "status_page", "social")


class SubscriptionKind(models.TextChoices):
    INCIDENTS = "incidents", "Incidents"
    MAINTENANCE = "maintenance", "Maintenance"
    POSTMORTEMS = "postmortems", "Post-mortems"


class SubscriberSource(models.TextChoices):
    SELF = "self", "Subscribed on the status page"
    IMPORT = "import", "CSV import"
    CRM = "crm", "CRM sync"
    API = "api", "API"


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained (marked as spam)"
