"""Enumerations of SLA credits and post-incident reviews."""

from django.db import models


class MaintenanceCounting(models.TextChoices):
    """How much of a maintenance window counts as downtime under an SLA policy."""

    NONE = "none", "Never"
    OVERRUN = "overrun", "Only its overrun past the announced window"
    ALL = "all", "The whole window"


class CreditState(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    APPLIED = "applied", "Applied"
    WAIVED = "waived", "Waived"


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    COMPLETED = "completed", "Completed (internal)"
    PUBLISHED = "published", "Published"


class ReviewField(models.TextChoices):
    """The parts of a review that can be marked public (shown to customers when it is)."""

    SUMMARY = "summary", "Summary"
    CUSTOMER_IMPACT = "customer_impact", "Customer impact"
    TIMELINE = "timeline", "Timeline (its public entries)"
    ROOT_CAUSE = "root_cause", "Root cause"
    WENT_WELL = "went_well", "What went well"
    WENT_BADLY = "went_badly", "What went badly"
    ACTION_ITEMS = "action_items", "Action items (those marked public)"


DEFAULT_PUBLIC_FIELDS = [
    ReviewField.SUMMARY,
    ReviewField.CUSTOMER_IMPACT,
    ReviewField.TIMELINE,
    ReviewField.ROOT_CAUSE,
]


class TimelineKind(models.TextChoices):
    DETECTION = "detection", "Detection"
    ACKNOWLEDGEMENT = "acknowledgement", "Acknowledgement"
    UPDATE = "update", "Update"
    NOTE = "note", "Internal note"
    SEVERITY_CHANGE = "severity_change", "Severity change"
    RESOLUTION = "resolution", "Resolution"
    OTHER = "other", "Other"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"


OPEN_ACTION_STATUSES = (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)
