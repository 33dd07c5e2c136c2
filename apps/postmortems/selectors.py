"""Reads: the customer-facing version of a review, and credits for export.

`public_review` is the only way a review reaches a public surface (status page HTML, the
Statuspage-compatible JSON, messages): it keeps the fields marked public, the timeline
entries not marked internal and the action items marked public, and nothing else. The
credits, the owner and the internal notes never appear in it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet

from apps.incidents.choices import IncidentStatus, PostmortemVisibility
from apps.incidents.models import Incident
from apps.postmortems.choices import ReviewField, ReviewStatus
from apps.postmortems.models import PostIncidentReview, SlaCredit

SECTION_TITLES = {
    ReviewField.SUMMARY: "Summary",
    ReviewField.CUSTOMER_IMPACT: "Customer impact",
    ReviewField.ROOT_CAUSE: "Root cause",
    ReviewField.WENT_WELL: "What went well",
    ReviewField.WENT_BADLY: "What we will do better",
}


@dataclass(frozen=True)
class PublicReview:
    published_at: datetime
    sections: list[tuple[str, str]] = field(default_factory=list)  # (title, markdown)
    timeline: list[tuple[datetime, str]] = field(default_factory=list)
    action_items: list[str] = field(default_factory=list)

    @property
    def markdown(self) -> str:
        """The whole public version as one markdown document (Statuspage's
        `postmortem_body`)."""
        parts = [f"## {title}\n\n{text}" for title, text in self.sections]
        if self.timeline:
            lines = "\n".join(f"- {at:%Y-%m-%d %H:%M} UTC: {text}" for at, text in self.timeline)
            parts.append(f"## Timeline\n\n{lines}")
        if self.action_items:
            parts.append(
                "## What we are changing\n\n" + "\n".join(f"- {t}" for t in self.action_items)
            )
        return "\n\n".join(parts)


def public_review(incident: Incident) -> PublicReview | None:
    """The published public review of a resolved incident, public parts only; else None."""
    try:
        review = incident.postmortem  # type: ignore[attr-defined]
    except PostIncidentReview.DoesNotExist:
        return None
    if (
        review.status != ReviewStatus.PUBLISHED
        or review.visibility != PostmortemVisibility.PUBLIC
        or review.published_at is None
        or incident.status != IncidentStatus.RESOLVED
    ):
        return None
    chosen = set(review.public_fields)
    sections = [
        (title, getattr(review, name).strip())
        for name, title in SECTION_TITLES.items()
        if name in chosen and getattr(review, name).strip()
    ]
    timeline = (
        [(e.at, e.text) for e in review.timeline.filter(internal=False).order_by("at", "id")]
        if ReviewField.TIMELINE in chosen
        else []
    )
    items = (
        list(
            review.action_items.filter(public=True)
            .order_by("due_date", "id")
            .values_list("title", flat=True)
        )
        if ReviewField.ACTION_ITEMS in chosen
        else []
    )
    return PublicReview(
        published_at=review.published_at, sections=sections, timeline=timeline, action_items=items
    )


def reviews_list() -> QuerySet[PostIncidentReview]:
    return PostIncidentReview.objects.select_related("incident", "owner")


CREDIT_CSV_COLUMNS = (
    "id",
    "customer",
    "customer_key",
    "incident",
    "month",
    "uptime_pct",
    "downtime_minutes",
    "credit_pct",
    "amount",
    "currency",
    "state",
    "salesforce_account_id",
    "maintenance",  # last: the columns before it keep their places
)


def csv_cell(value: object) -> object:
    """A cell a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def credits_csv(credits: Iterable[SlaCredit]) -> str:
    """The credits as CSV (for finance), one row each."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CREDIT_CSV_COLUMNS)
    for c in credits:
        writer.writerow(
            csv_cell(v)
            for v in [
                c.pk,
                c.customer.name,
                c.customer.external_key,
                c.incident_id,
                c.month.strftime("%Y-%m"),
                c.uptime_pct,
                c.downtime_minutes,
                c.credit_pct,
                c.amount,
                c.currency,
                c.state,
                c.customer.salesforce_account_id,
                c.maintenance_id,
            ]
        )
    return out.getvalue()
