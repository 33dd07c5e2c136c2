"""SLA policies and credits; post-incident reviews with their timeline and action items.

The policy lives here, not on the customer: a tier maps to a default policy and a customer
may override it (`TierSlaPolicy`, `CustomerSlaPolicy`), so the customers app needs no
knowledge of SLAs.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from apps.incidents.choices import ComponentStatus
from apps.postmortems.choices import (
    DEFAULT_PUBLIC_FIELDS,
    ActionItemStatus,
    CreditState,
    MaintenanceCounting,
    ReviewField,
    ReviewStatus,
    TimelineKind,
)
from apps.subscribers.choices import CustomerTier

# Statuses that can count as downtime; `under_maintenance` weighs maintenance time that counts.
WEIGHTED_STATUSES = (
    ComponentStatus.MAJOR_OUTAGE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.DEGRADED_PERFORMANCE,
    ComponentStatus.UNDER_MAINTENANCE,
)


def default_credit_tiers() -> list[dict[str, Any]]:
    return [
        {"below": "99.9", "credit_pct": "10"},
        {"below": "99", "credit_pct": "25"},
        {"below": "95", "credit_pct": "50"},
    ]


def default_downtime_weights() -> dict[str, int]:
    return {
        ComponentStatus.MAJOR_OUTAGE: 100,
        ComponentStatus.PARTIAL_OUTAGE: 50,
        ComponentStatus.DEGRADED_PERFORMANCE: 0,
        ComponentStatus.UNDER_MAINTENANCE: 100,
    }


def _percent(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and 0 <= number <= 100 else None


def credit_tier_problems(tiers: Any) -> list[str]:
    """What is wrong with a credit schedule: a list of `{"below": %, "credit_pct": %}`,
    thresholds strictly falling, credits strictly rising."""
    if not isinstance(tiers, list) or not tiers:
        return ['Give at least one tier, e.g. [{"below": "99.9", "credit_pct": "10"}].']
    problems = []
    previous: tuple[Decimal, Decimal] | None = None
    for position, tier in enumerate(tiers, start=1):
        below = _percent(tier.get("below")) if isinstance(tier, dict) else None
        credit = _percent(tier.get("credit_pct")) if isinstance(tier, dict) else None
        if below is None or credit is None:
            problems.append(
                f"Tier {position}: give 'below' and 'credit_pct' as percentages from 0 to 100."
            )
            continue
        if previous is not None and not (below < previous[0] and credit > previous[1]):
            problems.append(
                f"Tier {position}: list tiers from the highest threshold down, each with a "
                "lower threshold and a larger credit than the one before."
            )
        previous = (below, credit)
    return problems


def downtime_weight_problems(weights: Any) -> list[str]:
    if not isinstance(weights, dict):
        return ['Give weights as {"major_outage": 100, "partial_outage": 50, ...}.']
    problems = []
    unknown = sorted(set(weights) - set(WEIGHTED_STATUSES))
    if unknown:
        problems.append(
            f"Unknown statuses: {', '.join(unknown)}; use {', '.join(WEIGHTED_STATUSES)}."
        )
    for status, weight in weights.items():
        if status in WEIGHTED_STATUSES and _percent(weight) is None:
            problems.append(f"The weight of {status} must be a percentage from 0 to 100.")
    return problems


class SlaPolicy(models.Model):
    name = models.CharField(max_length=100, unique=True)
    uptime_target = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        default=Decimal("99.9"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Monthly uptime promised, in %, e.g. 99.9.",
    )
    credit_tiers = models.JSONField(
        default=default_credit_tiers,
        help_text='Highest threshold first: [{"below": "99.9", "credit_pct": "10"}, '
        '{"below": "99", "credit_pct": "25"}, ...]: below that uptime, that share of the '
        "monthly fee.",
    )
    downtime_weights = models.JSONField(
        default=default_downtime_weights,
        help_text="How much of the time in each component status counts as down, in %.",
    )
    maintenance = models.CharField(
        max_length=10, choices=MaintenanceCounting.choices, default=MaintenanceCounting.OVERRUN
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return f"{self.name} ({self.uptime_target}%)"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        tier_problems = credit_tier_problems(self.credit_tiers)
        if tier_problems:
            errors["credit_tiers"] = tier_problems
        elif self.uptime_target is not None and any(
            Decimal(str(t["below"])) > self.uptime_target for t in self.credit_tiers
        ):
            errors["credit_tiers"] = ["No tier may start above the uptime target."]
        weight_problems = downtime_weight_problems(self.downtime_weights)
        if weight_problems:
            errors["downtime_weights"] = weight_problems
        if errors:
            raise ValidationError(errors)

    def weight(self, status: str) -> Decimal:
        """The share (0-1) of time in `status` that counts as down."""
        value = self.downtime_weights.get(status, default_downtime_weights().get(status, 0))
        return (_percent(value) or Decimal(0)) / 100

    def credit_pct(self, uptime: Decimal) -> Decimal:
        """The share of the monthly fee owed at `uptime` (the deepest tier it falls below)."""
        owed = Decimal(0)
        for tier in self.credit_tiers:
            if uptime < Decimal(str(tier["below"])):
                owed = max(owed, Decimal(str(tier["credit_pct"])))
        return owed


class TierSlaPolicy(models.Model):
    """The policy every customer of a tier has unless overridden."""

    tier = models.CharField(max_length=20, choices=CustomerTier.choices, unique=True)
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="tiers")

    class Meta:
        ordering = ("tier",)
        verbose_name = "tier default SLA policy"
        verbose_name_plural = "tier default SLA policies"

    def __str__(self) -> str:
        return f"{self.get_tier_display()}: {self.policy.name}"


class CustomerSlaPolicy(models.Model):
    """A customer's own policy, instead of its tier's."""

    customer = models.OneToOneField(
        "subscribers.Customer", on_delete=models.CASCADE, related_name="sla_override"
    )
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="customers")

    class Meta:
        verbose_name = "customer SLA policy"
        verbose_name_plural = "customer SLA policies"

    def __str__(self) -> str:
        return f"{self.customer}: {self.policy.name}"


class SlaCredit(models.Model):
    """What one customer is owed for one incident, or one maintenance window that overran,
    in one month (the month-to-date uptime it brought the customer to, and the credit
    beyond what others that month already gave). Exactly one of `incident` and
    `maintenance` is set."""

    customer = models.ForeignKey(
        "subscribers.Customer", on_delete=models.CASCADE, related_name="sla_credits"
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sla_credits",
    )
    maintenance = models.ForeignKey(
        "incidents.MaintenanceWindow",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sla_credits",
        help_text="The maintenance window whose overrun (more than 2 h) this credit is for.",
    )
    month = models.DateField(help_text="The first day of the month (UTC).")
    policy = models.ForeignKey(SlaPolicy, null=True, on_delete=models.SET_NULL, related_name="+")
    uptime_pct = models.DecimalField(max_digits=8, decimal_places=4)
    downtime_minutes = models.DecimalField(max_digits=10, decimal_places=2)
    credit_pct = models.DecimalField(max_digits=6, decimal_places=2)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    state = models.CharField(
        max_length=10, choices=CreditState.choices, default=CreditState.PROPOSED, db_index=True
    )
    pre_approved = models.BooleanField(
        default=False, help_text="Approved automatically during an extended outage."
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by_label = models.CharField(max_length=200, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    salesforce_task_id = models.CharField(max_length=18, blank=True)
    salesforce_pushed_amount = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The amount the credit's Salesforce Task says (empty: none pushed yet, or not "
        "known). A credit whose amount differs is pushed again (its Task updated).",
    )
    salesforce_attempted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When Clarion last tried (or queued) a push to Salesforce; the periodic "
        "sweep tries a credit not yet pushed again at most once per interval.",
    )
    salesforce_error = models.TextField(
        blank=True, help_text="Why the last push to Salesforce failed (empty: it did not)."
    )
    salesforce_refused = models.BooleanField(
        default=False,
        help_text="Salesforce refused this credit's Task: it is not tried again until its "
        "amount changes or someone pushes it again.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-month", "customer__name", "id")
        verbose_name = "SLA credit"
        constraints = [
            models.UniqueConstraint(
                fields=("customer", "incident", "month"), name="sla_credit_once"
            ),
            models.UniqueConstraint(
                fields=("customer", "maintenance", "month"),
                name="sla_credit_once_per_maintenance",
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="sla_credit_positive"),
            models.CheckConstraint(
                condition=models.Q(incident__isnull=False, maintenance__isnull=True)
                | models.Q(incident__isnull=True, maintenance__isnull=False),
                name="sla_credit_one_cause",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.amount} for {self.customer} ({self.month:%Y-%m})"

    @property
    def cause(self) -> str:
        """What the credit is for, in words: `incident #12 (title)` or `the overrun of
        maintenance #3 (title)`."""
        if self.incident is not None:
            return f"incident #{self.incident.pk} ({self.incident.title})"
        if self.maintenance is not None:
            return f"the overrun of maintenance #{self.maintenance.pk} ({self.maintenance.title})"
        return "nothing recorded"


def default_public_fields() -> list[str]:
    return [str(f) for f in DEFAULT_PUBLIC_FIELDS]


class PostIncidentReview(models.Model):
    """What happened and what changes, owned by the commander, due per the severity policy.

    Markdown fields are rendered sanitised. `public_fields` says which parts the
    customer-facing version shows when the review is public and published."""

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="postmortem"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="postmortems",
    )
    visibility = models.CharField(
        max_length=10,
        choices=[("public", "Public"), ("internal", "Internal")],
        help_text="Public: a customer-facing version goes to the status page and subscribers.",
    )
    status = models.CharField(
        max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT, db_index=True
    )
    due_at = models.DateTimeField(db_index=True)
    summary = models.TextField(blank=True, help_text="Markdown.")
    customer_impact = models.TextField(
        blank=True, help_text="Markdown; the figures below are filled in on resolve."
    )
    impact = models.JSONField(
        default=dict,
        blank=True,
        help_text="duration_minutes, customers_pct, services, regions, credits (by currency).",
    )
    root_cause = models.TextField(blank=True, help_text="Markdown.")
    went_well = models.TextField(blank=True, help_text="Markdown.")
    went_badly = models.TextField(blank=True, help_text="Markdown.")
    public_fields = ArrayField(
        models.CharField(max_length=20, choices=ReviewField.choices),
        default=default_public_fields,
        blank=True,
        help_text="The parts customers see when the review is public.",
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    reminded_due_soon_at = models.DateTimeField(null=True, blank=True)
    reminded_overdue_at = models.DateTimeField(null=True, blank=True)
    reminder_error = models.TextField(
        blank=True, help_text="Why the last reminder did not reach everyone (empty: it did)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "post-incident review"

    def __str__(self) -> str:
        return f"Review of incident #{self.incident_id}"

    @property
    def is_done(self) -> bool:
        return self.status != ReviewStatus.DRAFT


class TimelineEntry(models.Model):
    review = models.ForeignKey(
        PostIncidentReview, on_delete=models.CASCADE, related_name="timeline"
    )
    at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=TimelineKind.choices, default=TimelineKind.OTHER)
    text = models.TextField(help_text="Markdown.")
    internal = models.BooleanField(
        default=False, help_text="Never shown to customers, even in a public review."
    )
    source_update = models.ForeignKey(
        "incidents.IncidentUpdate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ("at", "id")
        verbose_name_plural = "timeline entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()}"


class ActionItem(models.Model):
    review = models.ForeignKey(
        PostIncidentReview, on_delete=models.CASCADE, related_name="action_items"
    )
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN
    )
    tracker_url = models.URLField(blank=True, help_text="The ticket in your tracker, if any.")
    public = models.BooleanField(
        default=False, help_text="Listed in the customer-facing version of a public review."
    )
    reminded_at = models.DateTimeField(null=True, blank=True)
    reminder_error = models.TextField(
        blank=True, help_text="Why the reminder did not reach everyone (empty: it did)."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("due_date", "id")

    def __str__(self) -> str:
        return self.title
