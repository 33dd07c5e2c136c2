"""Reads of customers, subscribers and segments, and the one that matters most: who hears
about an incident or a maintenance window on a channel (`audience_for`).

Rules of the audience, in support-team terms:

- **Region.** A subscriber's region is its own, else its customer's. A regional incident
  (or maintenance) reaches subscribers in one of its regions *and subscribers whose region
  is unknown*: a support team would rather over-inform someone than leave an affected
  customer in the dark. An incident without regions is global and reaches every region.
  Segments are deliberate targeting, so there an unknown region does not match.
- **SMS** goes only to people of enterprise customers, and only when the incident's severity
  policy lists SMS (P1 by default). Maintenance is never sent by SMS.
- A channel the severity policy governs (email, sms) and does not list for the incident's
  severity has no audience (P3 and P4 send no e-mail by default). Webhook, Slack and Teams are
  not in the policy: subscribers who set them up get every incident they subscribed to.
- Nothing reaches anyone before customer impact is confirmed, nor from a child incident
  (its parent's thread speaks for it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce

from apps.incidents.choices import Channel
from apps.incidents.models import Incident, IncidentService, MaintenanceWindow
from apps.incidents.selectors import policy_for
from apps.subscribers.choices import (
    BROADCAST_CHANNELS,
    CHANNEL_ADDRESS_FIELD,
    CustomerTier,
    SubscriberChannel,
    SubscriptionKind,
)
from apps.subscribers.models import Customer, Segment, Subscriber, Subscription, Suppression
from apps.subscribers.models.customers import salesforce_id_18

EFFECTIVE_REGION = "effective_region_id"
SubscriptionServices = Subscription.services.through

# --- lists --------------------------------------------------------------------------------


def customers_list(
    *,
    tier: str | None = None,
    region: str | None = None,
    active: bool | None = None,
    search: str | None = None,
) -> QuerySet[Customer]:
    """Customers by name, filtered by tier, region code, active flag, and a search in the
    name, external key and CRM ids."""
    qs = Customer.objects.select_related("region")
    if tier:
        qs = qs.filter(tier=tier)
    if region:
        qs = qs.filter(region__code=region)
    if active is not None:
        qs = qs.filter(active=active)
    if search:
        qs = qs.filter(
            Q(name__icontains=search)
            | Q(external_key__icontains=search)
            | Q(salesforce_account_id=salesforce_id_18(search.strip()))
            | Q(hubspot_company_id=search)
        )
    return qs


def subscribers_list(
    *,
    customer: str | None = None,
    confirmed: bool | None = None,
    source: str | None = None,
    search: str | None = None,
) -> QuerySet[Subscriber]:
    """Subscribers, newest first, with what a page of them shows loaded (no query per row):
    filtered by customer external key, confirmation, source and a search in name, e-mail
    and phone."""
    qs = Subscriber.objects.select_related(
        "customer", "region", "customer__region", "subscription"
    ).prefetch_related("subscription__services")
    if customer:
        qs = qs.filter(customer__external_key=customer)
    if confirmed is not None:
        qs = qs.filter(confirmed_at__isnull=not confirmed)
    if source:
        qs = qs.filter(source=source)
    if search:
        qs = qs.filter(
            Q(name__icontains=search) | Q(email__icontains=search) | Q(phone__contains=search)
        )
    return qs


def segments_list() -> QuerySet[Segment]:
    return Segment.objects.prefetch_related("regions", "services", "customers")


def suppressions_list(*, channel: str | None = None) -> QuerySet[Suppression]:
    qs = Suppression.objects.all()
    return qs.filter(channel=channel) if channel else qs


# --- who may receive anything -------------------------------------------------------------


def subscribers_receiving() -> QuerySet[Subscriber]:
    """Subscribers who may receive news at all: confirmed, not unsubscribed, and not people
    of an inactive customer. Carries the `effective_region_id` alias (own region, else the
    customer's)."""
    return (
        Subscriber.objects.alias(**{EFFECTIVE_REGION: Coalesce("region_id", "customer__region_id")})
        .filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)
        .filter(Q(customer__isnull=True) | Q(customer__active=True))
    )


def _subscribed_to_any(service_ids: QuerySet[Any, Any] | list[int]) -> Q:
    """Subscribed to all services, or to one of `service_ids` (a list or a subquery)."""
    chosen = SubscriptionServices.objects.filter(
        subscription_id=OuterRef("pk"), service_id__in=service_ids
    )
    return Q(subscription__all_services=True) | Q(Exists(chosen))


def _segment_q(segment: Segment) -> Q:
    """The segment's rule over `subscribers_receiving()` rows (three small reads unless its
    regions, services and customers are prefetched). A region or service criterion whose
    every target was deleted matches nobody: the segment was aimed at them, not at all."""
    rule = Q()
    if segment.tiers:
        rule &= Q(customer__tier__in=segment.tiers)
    region_ids = [r.pk for r in segment.regions.all()]
    if region_ids or segment.limits_regions:
        rule &= Q(**{f"{EFFECTIVE_REGION}__in": region_ids})
    service_ids = [s.pk for s in segment.services.all()]
    if service_ids:
        rule &= _subscribed_to_any(service_ids)
    elif segment.limits_services:
        rule &= Q(pk__in=[])
    customer_ids = [c.pk for c in segment.customers.all()]
    if customer_ids:
        rule &= Q(customer_id__in=customer_ids)
    return rule


def segment_members(segment: Segment) -> QuerySet[Subscriber]:
    """The subscribers the segment selects among those who may receive news, by id."""
    return subscribers_receiving().filter(_segment_q(segment)).order_by("id")


@dataclass(frozen=True)
class SegmentPreview:
    count: int
    sample: list[Subscriber]


def segment_preview(segment: Segment, *, sample: int = 10) -> SegmentPreview:
    """How many subscribers the segment selects now, and the first `sample` of them."""
    members = segment_members(segment)
    rows = list(members.select_related("customer", "region")[:sample])
    count = len(rows) if len(rows) < sample else members.count()
    return SegmentPreview(count=count, sample=rows)


# --- audience -----------------------------------------------------------------------------


def audience_for(
    *,
    incident: Incident | None = None,
    maintenance: MaintenanceWindow | None = None,
    channel: str,
    kind: str | None = None,
    segment: Segment | None = None,
    also: QuerySet[Any, Any] | None = None,
) -> QuerySet[Subscriber]:
    """The subscribers to tell about `incident` (or `maintenance`) on `channel`, by id.

    They subscribed to at least one affected service (or to all), are in an affected region
    (or their region is unknown, or the incident is global); an incident's services and
    regions include those of its child incidents, which speak through it, are confirmed and not
    unsubscribed, have the channel's contact and accept the channel and `kind` (default:
    incidents, or maintenance), their address is not suppressed on that channel, and the
    channel's rule holds (SMS: enterprise customers, when the severity policy lists SMS). A
    `segment` narrows the audience to its members. `also` (a subquery of subscriber ids)
    adds people whatever their services and region, e.g. everyone told about an incident
    hears its resolution even if its regions were narrowed since; on a channel the severity
    policy no longer lists (the incident was downgraded) they are the whole audience. Every
    other rule still applies to them. See the module docstring for the rules.

    One SQL query when evaluated (plus one read of the severity policy here, and up to three
    of the segment's lists unless prefetched); stream it with `audience_ids_iter`.
    `in_app`, `status_page` and `social` reach everyone at once: their audience is empty.
    """
    if (incident is None) == (maintenance is None):
        raise ValueError("Give exactly one of incident and maintenance.")
    if channel in BROADCAST_CHANNELS:
        return Subscriber.objects.none()
    if channel not in SubscriberChannel.values:
        raise ValueError(f"Unknown channel {channel!r}: use one of {SubscriberChannel.values}.")

    rule = Q()
    affected: QuerySet[Any, Any]
    regions: QuerySet[Any, Any]
    only_also = False  # the policy does not list the channel: only the people in `also`
    if incident is not None:
        kind = kind or SubscriptionKind.INCIDENTS
        if not incident.customer_impact_confirmed or incident.parent_id is not None:
            return Subscriber.objects.none()
        if channel in Channel.values and channel not in policy_for(incident.severity).channels:
            if also is None:
                return Subscriber.objects.none()
            only_also = True
        # A parent speaks for its children (cascading): their services and regions count.
        thread = Q(incident_id=incident.pk) | Q(incident__parent_id=incident.pk)
        affected = IncidentService.objects.filter(thread).values("service_id")
        regions = Incident.regions.through.objects.filter(thread)
    else:
        assert maintenance is not None
        kind = kind or SubscriptionKind.MAINTENANCE
        if channel == SubscriberChannel.SMS:
            return Subscriber.objects.none()
        affected = MaintenanceWindow.services.through.objects.filter(
            maintenancewindow_id=maintenance.pk
        ).values("service_id")
        regions = MaintenanceWindow.regions.through.objects.filter(
            maintenancewindow_id=maintenance.pk
        )
    if kind not in SubscriptionKind.values:
        raise ValueError(f"Unknown kind {kind!r}: use one of {SubscriptionKind.values}.")

    address = CHANNEL_ADDRESS_FIELD[channel]
    rule &= ~Q(**{address: ""})
    rule &= Q(subscription__channels__contains=[channel], subscription__kinds__contains=[kind])
    concerned = _subscribed_to_any(affected) & (
        Q(~Exists(regions))
        | Q(**{f"{EFFECTIVE_REGION}__isnull": True})
        | Q(**{f"{EFFECTIVE_REGION}__in": regions.values("region_id")})
    )
    if only_also:
        concerned = Q(pk__in=also)
    elif also is not None:
        concerned |= Q(pk__in=also)
    rule &= concerned
    rule &= Q(~Exists(Suppression.objects.filter(channel=channel, address=OuterRef(address))))
    if channel == SubscriberChannel.SMS:
        rule &= Q(customer__tier=CustomerTier.ENTERPRISE)
    if segment is not None:
        rule &= _segment_q(segment)
    return subscribers_receiving().filter(rule).order_by("id")


def audience_ids_iter(qs: QuerySet[Subscriber], chunk_size: int = 2000) -> Iterator[int]:
    """The ids of `qs`, streamed from a server-side cursor `chunk_size` rows at a time, so
    that a fan-out over 100,000 subscribers never holds them all in memory."""
    return qs.values_list("id", flat=True).iterator(chunk_size=chunk_size)
