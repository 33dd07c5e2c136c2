"""Enumerations of the communications engine."""

from django.db import models


class MessageKind(models.TextChoices):
    INITIAL_ALERT = "initial_alert", "Initial alert"
    PROGRESS_UPDATE = "progress_update", "Progress update"
    RESOLUTION = "resolution", "Resolution"
    MAINTENANCE_NOTICE = "maintenance_notice", "Maintenance notice"
    MAINTENANCE_REMINDER = "maintenance_reminder", "Maintenance reminder"
    MAINTENANCE_STARTED = "maintenance_started", "Maintenance started"
    MAINTENANCE_COMPLETED = "maintenance_completed", "Maintenance completed"
    MAINTENANCE_OVERRUN = "maintenance_overrun", "Maintenance overrun"
    MAINTENANCE_RESCHEDULED = "maintenance_rescheduled", "Maintenance rescheduled"
    MAINTENANCE_CANCELLED = "maintenance_cancelled", "Maintenance cancelled"
    FALSE_ALARM = "false_alarm", "False alarm"
    EXTENDED_OUTAGE = "extended_outage", "Extended outage"
    POSTMORTEM_PUBLISHED = "postmortem_published", "Post-mortem published"
    EXECUTIVE_NOTE = "executive_note", "Executive note"


# Messages that close what earlier ones opened: they also reach everyone an earlier message
# about the incident reached, on those channels, even if the policy's channels shrank since.
CLOSING_KINDS = (MessageKind.RESOLUTION, MessageKind.FALSE_ALARM)


class ChannelKey(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    IN_APP = "in_app", "In-app banner"
    STATUS_PAGE = "status_page", "Status page"
    SOCIAL = "social", "Social"
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"


class TemplatePart(models.TextChoices):
    """The pieces of a channel's rendering a template can provide."""

    SUBJECT = "subject", "Subject"
    TEXT = "text", "Text"
    HTML = "html", "HTML"


class MessageState(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class AttemptOutcome(models.TextChoices):
    SENT = "sent", "Sent"
    TRANSIENT = "transient", "Transient error (will retry)"
    PERMANENT = "permanent", "Permanent error"


class ReminderKind(models.TextChoices):
    """What the cadence tick does once per due time (see apps.communications.cadence)."""

    UPDATE_DUE = "update_due", "Update due soon"
    UPDATE_OVERDUE = "update_overdue", "Update overdue (escalated)"
    ASSESSMENT_DUE = "assessment_due", "Initial assessment due soon"
    ASSESSMENT_OVERDUE = "assessment_overdue", "Initial assessment overdue (escalated)"
    EXTENDED_OUTAGE = "extended_outage", "Extended outage"
    MAINTENANCE_REMINDER = "maintenance_reminder", "Maintenance reminder"
    MAINTENANCE_OVERRUN = "maintenance_overrun", "Maintenance overrun"


class StaffChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SLACK = "slack", "Slack"
