"""CRM sync: the tenant's Salesforce or HubSpot installation (`CrmConnection`), what each run
did (`CrmSyncLog`) and which upstream record became which customer or subscriber (`CrmLink`).

`apps.subscribers.services.crm` runs the sync; the vendor code lives in
`apps/integrations/outbound/salesforce/` and `.../hubspot/`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core.crypto import EncryptedTextField
from apps.subscribers.models.customers import Customer
from apps.subscribers.models.subscribers import Subscriber


class CrmProvider(models.TextChoices):
    SALESFORCE = "salesforce", "Salesforce"
    HUBSPOT = "hubspot", "HubSpot"


class CrmSyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    PARTIAL = "partial", "Partial (see the errors)"
    FAILED = "failed", "Failed"


class CrmObject(models.TextChoices):
    ACCOUNT = "account", "Account / company"
    CONTACT = "contact", "Contact"


class CrmConnection(models.Model):
    """One CRM of the tenant (at most one per provider): where it is, the credentials that
    read it (encrypted, never shown back), which fields mean what (`mapping`, see
    `apps.integrations.outbound.crm.DEFAULT_MAPPINGS`) and how far the sync has read."""

    provider = models.CharField(max_length=20, choices=CrmProvider.choices, unique=True)
    enabled = models.BooleanField(
        default=True, help_text="A disabled connection is not synced on schedule."
    )
    base_url = models.CharField(
        max_length=200,
        blank=True,
        help_text="Salesforce: your instance URL, e.g. https://acme.my.salesforce.com. "
        "HubSpot: leave empty (https://api.hubapi.com).",
    )
    credentials = EncryptedTextField(
        blank=True, editable=False, help_text="JSON, stored encrypted; never displayed."
    )
    mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text="Which CRM fields hold tier, region, monthly fee and currency, and which "
        "contacts become subscribers. Keys left out take the provider's defaults.",
    )
    sync_interval_minutes = models.PositiveSmallIntegerField(
        default=60,
        validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
        help_text="The scheduled sync runs at most this often.",
    )
    last_synced_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Cursor: the CRM's own modification time (SystemModstamp, "
        "lastmodifieddate) up to which every change has been applied. Empty = the next sync "
        "reads everything.",
    )
    last_full_sync_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a sync last read everything (and deactivated what is gone upstream).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("provider",)
        verbose_name = "CRM connection"

    def __str__(self) -> str:
        return self.get_provider_display()

    @property
    def actor(self) -> str:
        """How the audit log names the sync."""
        return f"CRM sync ({self.provider})"

    @property
    def sync_interval(self) -> timedelta:
        return timedelta(minutes=self.sync_interval_minutes)


class CrmSyncLog(models.Model):
    """One run of the sync: when, what it changed (`counts`) and what went wrong (`errors`:
    the reason a failed run stopped, then one line per rejected record or warning). A run
    that finished with errors is `partial`."""

    connection = models.ForeignKey(CrmConnection, on_delete=models.CASCADE, related_name="logs")
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    full = models.BooleanField(
        default=False, help_text="Read everything (else only what changed since the cursor)."
    )
    started_by = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=CrmSyncStatus.choices, default=CrmSyncStatus.RUNNING
    )
    counts = models.JSONField(default=dict, blank=True)
    errors = models.TextField(blank=True)

    class Meta:
        ordering = ("-started_at", "-id")
        verbose_name = "CRM sync log"

    def __str__(self) -> str:
        return f"{self.connection} sync at {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def duration(self) -> timedelta | None:
        return self.finished_at - self.started_at if self.finished_at else None

    @property
    def summary(self) -> str:
        """The non-zero counts in words, e.g. "2 customers created, 1 rejected"."""
        counts: dict[str, Any] = self.counts or {}
        parts = [
            f"{counts[key]} {one if counts[key] == 1 else many}"
            for key, (one, many) in COUNT_LABELS.items()
            if isinstance(counts.get(key), int) and counts[key]
        ]
        return ", ".join(parts) or "nothing changed"


COUNT_LABELS = {
    "customers_created": ("customer created", "customers created"),
    "customers_updated": ("customer updated", "customers updated"),
    "customers_deactivated": ("customer deactivated", "customers deactivated"),
    "subscribers_created": ("subscriber created", "subscribers created"),
    "subscribers_updated": ("subscriber updated", "subscribers updated"),
    "subscribers_deactivated": ("subscriber deactivated", "subscribers deactivated"),
    "subscribers_skipped_unsubscribed": (
        "unsubscribed person skipped",
        "unsubscribed people skipped",
    ),
    "rejected": ("record rejected", "records rejected"),
    "retries": ("call retried", "calls retried"),
}


class CrmLink(models.Model):
    """An upstream record the sync has applied and the customer or subscriber it became, so
    that a contact whose e-mail address changes stays the same subscriber, and a record gone
    upstream can be deactivated (and brought back if it returns)."""

    connection = models.ForeignKey(CrmConnection, on_delete=models.CASCADE, related_name="links")
    kind = models.CharField(max_length=10, choices=CrmObject.choices)
    external_id = models.CharField(max_length=64)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subscriber = models.ForeignKey(
        Subscriber, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    removed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the sync found the record deleted upstream (or no longer selected) "
        "and deactivated its customer or subscriber.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("connection", "kind", "external_id")
        constraints = [
            models.UniqueConstraint(
                fields=("connection", "kind", "external_id"), name="crm_link_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.kind} {self.external_id}"
