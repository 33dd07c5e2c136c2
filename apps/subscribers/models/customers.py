"""A tenant's customers: the accounts its subscribers belong to."""

from __future__ import annotations

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from apps.incidents.models import Region
from apps.incidents.models.catalog import validate_time_zone
from apps.subscribers.choices import CustomerTier
from apps.subscribers.validators import EXTERNAL_KEY_MAX

# Salesforce's checksum alphabet: each 5-character block of a 15-character id gives one
# character whose bits say which of the block's characters are upper case.
_SALESFORCE_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id_18(value: str) -> str:
    """The 18-character form of a 15-character Salesforce id (what the Salesforce API
    returns, and the only form Clarion stores, so that a sync matches it). Any other value is
    returned as given: validating it is the caller's job."""
    if len(value) != 15 or not value.isascii() or not value.isalnum():
        return value
    suffix = ""
    for start in range(0, 15, 5):
        block = value[start : start + 5]
        suffix += _SALESFORCE_SUFFIX[sum(1 << i for i, c in enumerate(block) if c.isupper())]
    return value + suffix


class Customer(models.Model):
    """An account of the tenant. Its tier decides the channels its people may get (SMS is
    for enterprise customers), its region which regional incidents reach them."""

    name = models.CharField(max_length=200)
    external_key = models.CharField(
        max_length=EXTERNAL_KEY_MAX,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")],
        help_text="The customer's id in the tenant's own product (in-app banner, imports).",
    )
    tier = models.CharField(
        max_length=20, choices=CustomerTier.choices, default=CustomerTier.STANDARD, db_index=True
    )
    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    locale = models.CharField(max_length=20, default="en", help_text="e.g. en, fr, en-US")
    monthly_fee = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="What the customer pays per month (SLA credits are a share of it).",
    )
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217, e.g. EUR.")
    salesforce_account_id = models.CharField(
        max_length=18,
        blank=True,
        help_text="15 or 18 characters; kept in the 18-character form Salesforce's API uses.",
    )
    hubspot_company_id = models.CharField(max_length=32, blank=True)
    active = models.BooleanField(
        default=True, help_text="Inactive customers' people get no notifications."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("salesforce_account_id",),
                condition=~models.Q(salesforce_account_id=""),
                name="customer_unique_salesforce_account",
            ),
            models.UniqueConstraint(
                fields=("hubspot_company_id",),
                condition=~models.Q(hubspot_company_id=""),
                name="customer_unique_hubspot_company",
            ),
            models.CheckConstraint(
                condition=models.Q(monthly_fee__gte=0), name="customer_fee_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_key})"
