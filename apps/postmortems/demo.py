"""Demo data for SLA credits and reviews: three days ago, a P1 payment outage in Europe
(2 h 10 min), resolved, with its SLA credits (some approved) and a published public review
with action items. Runs after the customers seeder (its customers earn the credits); adds
nothing when the incident is already there."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.accounts.models import User
from apps.incidents.models import Incident, IncidentUpdate
from apps.incidents.services import (
    incident_assess,
    incident_open,
    incident_post_update,
    incident_resolve,
)
from apps.postmortems.choices import ActionItemStatus, ReviewField
from apps.postmortems.models import ActionItem, PostIncidentReview
from apps.postmortems.services import (
    credits_approve,
    credits_compute,
    review_create_for,
    review_publish,
)

ACTOR = "demo seed"
TITLE = "Card payments failing in Europe"


def seed() -> None:
    if Incident.objects.filter(title=TITLE).exists():
        return
    commander = User.objects.filter(is_superuser=True).order_by("pk").first()
    incident = incident_open(
        title=TITLE,
        internal_title="payments-db primary lost (eu-west), failover stalled",
        severity="P1",
        services={"payments": "major_outage", "api": "partial_outage"},
        regions=["eu"],
        impact_scope_pct=35,
        commander=commander,
        body="Card payments are failing for customers in Europe. We are investigating.",
        actor=ACTOR,
    )
    incident_assess(incident=incident, hypothesis="Payments database failover", actor=ACTOR)
    incident_post_update(
        incident=incident,
        status="identified",
        body="The payments database lost its primary and the automatic failover stalled. "
        "We are promoting a replica by hand.",
        internal_note="Failover script timed out on the replication-lag check.",
        actor=ACTOR,
    )
    incident_post_update(
        incident=incident,
        status="monitoring",
        body="Payments are flowing again; we are watching error rates.",
        component_changes={"payments": "degraded_performance", "api": "operational"},
        actor=ACTOR,
    )
    incident_resolve(
        incident=incident,
        body="Card payments in Europe have worked normally since 16:15 UTC. Payments that "
        "failed during the outage were not charged; please retry them.",
        what_was_affected="Card payments (and some API calls) for customers in Europe.",
        root_cause="The payments database lost its primary and the automatic failover stalled.",
        what_we_fixed="We promoted a healthy replica and raised the failover timeout.",
        prevention="Weekly failover drills and an alert when failover takes over 2 minutes.",
        actor=ACTOR,
    )
    # The use-cases stamp "now"; move the story to three days ago, 14:05 UTC.
    start = (timezone.now() - timedelta(days=3)).replace(hour=14, minute=5, second=0, microsecond=0)
    offsets = [0, 40, 110, 130]  # investigating, identified, monitoring, resolved
    updates = incident.updates.exclude(body="").order_by("created_at", "id")
    for update, minutes in zip(updates, offsets, strict=True):
        at = start + timedelta(minutes=minutes)
        IncidentUpdate.objects.filter(pk=update.pk).update(created_at=at, display_at=at)
    incident.updates.filter(body="").update(
        created_at=start + timedelta(minutes=12), display_at=start + timedelta(minutes=12)
    )
    Incident.objects.filter(pk=incident.pk).update(
        started_at=start - timedelta(minutes=3),
        detected_at=start,
        acknowledged_at=start + timedelta(minutes=4),
        assessed_at=start + timedelta(minutes=12),
        impact_confirmed_at=start,
        monitoring_at=start + timedelta(minutes=110),
        resolved_at=start + timedelta(minutes=130),
    )
    incident.refresh_from_db()
    credits = credits_compute(incident=incident, actor=ACTOR)
    credits_approve(credits=credits[: len(credits) // 2], actor=ACTOR)
    review = review_create_for(incident=incident, actor=ACTOR)
    if review is None:  # the tenant's policy asks for no P1 review
        return
    PostIncidentReview.objects.filter(pk=review.pk).update(
        due_at=incident.resolved_at + timedelta(hours=48),  # type: ignore[operator]
        summary="For 2 hours 10 minutes, card payments failed for customers in Europe. The "
        "payments database lost its primary server and the automatic failover stalled, so "
        "no server accepted writes until we promoted a replica by hand.\n\n"
        "No payment was charged twice and no data was lost.",
        went_well="- Customers heard from us 4 minutes after detection.\n"
        "- Support answered tickets with the canned response.",
        went_badly="- The failover script waited on a replication-lag check with no timeout.\n"
        "- Paging the database on-call took 20 minutes.",
        public_fields=[
            ReviewField.SUMMARY,
            ReviewField.CUSTOMER_IMPACT,
            ReviewField.TIMELINE,
            ReviewField.ROOT_CAUSE,
            ReviewField.ACTION_ITEMS,
        ],
    )
    ActionItem.objects.create(
        review=review,
        title="Time out the replication-lag check after 30 seconds",
        owner=commander,
        due_date=(start + timedelta(days=7)).date(),
        status=ActionItemStatus.DONE,
        tracker_url="https://tracker.acme.example/OPS-412",
        public=True,
    )
    review.refresh_from_db()
    review_publish(review=review, actor=ACTOR)
