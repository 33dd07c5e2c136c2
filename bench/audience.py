"""Audience resolution: who hears about a P1 incident, at 100,000 subscribers.

    python bench/audience.py [--subscribers 100000] [--customers 2000] [--explain]

Runs against a scratch database on the embedded PostgreSQL (or DATABASE_URL's server): one
tenant, `--customers` customers across tiers and regions, `--subscribers` subscribers with
mixed channels, service choices, confirmations and suppressions, and a P1 incident on two
services in one region. Times `audience_for(...).count()` and streaming every id with
`audience_ids_iter` (median of 3 runs each), and, as the baseline, a naive implementation
that loads every subscriber with its customer and subscription into Python and filters there
(checked to find the same people). Prints one JSON line:
{"subscribers", "audience", "count_s", "stream_s", "baseline_s", "speedup", "target_met", ...}
Targets: count under 1 s, stream under 3 s.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _scratch import scratch_database

COUNT_TARGET_S = 1.0
STREAM_TARGET_S = 3.0
SERVICES = ["api", "login", "webhooks", "dashboard", "search", "reporting", "payments", "push"]
REGIONS = [("us", "America/New_York"), ("eu", "Europe/Paris"), ("apac", "Asia/Singapore")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE to stderr")
    args = parser.parse_args()

    with scratch_database("audience"):
        result = _run(args.subscribers, args.customers, explain=args.explain)
    print(json.dumps(result))


def _seed(n_subscribers: int, n_customers: int) -> None:
    """Bulk-insert the tenant's catalogue, customers and subscribers (deterministic)."""
    from django.db import connection

    from apps.incidents.models import Region, Service
    from apps.subscribers.models import Customer, Subscriber, Subscription, Suppression

    rng = random.Random(7)  # the same data on every run
    regions = [Region.objects.create(code=c, name=c.upper(), time_zone=tz) for c, tz in REGIONS]
    services = [Service.objects.create(slug=s, name=s.title()) for s in SERVICES]
    customers = Customer.objects.bulk_create(
        Customer(
            name=f"Customer {i}",
            external_key=f"c{i}",
            tier=rng.choices(["enterprise", "business", "standard"], [1, 3, 6])[0],
            region=None if rng.random() < 0.05 else regions[i % len(regions)],
            active=rng.random() > 0.03,
        )
        for i in range(n_customers)
    )
    rows = []
    for i in range(n_subscribers):
        roll = rng.random()
        rows.append(
            Subscriber(
                customer=None if roll < 0.05 else rng.choice(customers),
                region=rng.choice(regions) if rng.random() < 0.1 else None,
                email=f"person{i}@example.com",
                phone=f"+1415{2_000_000 + i:07d}" if rng.random() < 0.3 else "",
                webhook_url=f"https://hooks.example.net/{i}" if rng.random() < 0.03 else "",
                webhook_secret="whsec_bench" if rng.random() < 0.03 else "",
                confirmed_at=None if rng.random() < 0.08 else _now(),
                unsubscribed_at=_now() if rng.random() < 0.02 else None,
                source="import",
            )
        )
    subscribers = Subscriber.objects.bulk_create(rows, batch_size=5_000)
    subscriptions, chosen = [], []
    through = Subscription.services.through
    for subscriber in subscribers:
        all_services = rng.random() < 0.4
        subscriptions.append(
            Subscription(
                subscriber=subscriber,
                all_services=all_services,
                kinds=["incidents", "maintenance", "postmortems"]
                if rng.random() < 0.9
                else ["maintenance"],
                channels=["email", "sms", "webhook", "slack", "teams"]
                if rng.random() < 0.9
                else [rng.choice(["email", "sms"])],
            )
        )
        if not all_services:
            for service in rng.sample(services, rng.randint(1, 3)):
                chosen.append(through(subscription_id=subscriber.pk, service_id=service.pk))
    Subscription.objects.bulk_create(subscriptions, batch_size=5_000)
    through.objects.bulk_create(chosen, batch_size=10_000)
    Suppression.objects.bulk_create(
        Suppression(channel="email", address=s.email, reason="bounced")
        for s in subscribers
        if rng.random() < 0.01
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


def _naive(incident: Any, channel: str) -> set[int]:
    """What a straightforward implementation does: every subscriber into Python, then
    filter there."""
    from apps.incidents.selectors import policy_for
    from apps.subscribers.models import Subscriber, Suppression

    policy = policy_for(incident.severity)
    affected = {row.service_id for row in incident.affected.all()}
    regions = {r.pk for r in incident.regions.all()}
    suppressed = set(Suppression.objects.filter(channel=channel).values_list("address", flat=True))
    found = set()
    for s in Subscriber.objects.select_related("customer", "subscription").prefetch_related(
        "subscription__services"
    ):
        sub = s.subscription
        customer = s.customer
        if s.confirmed_at is None or s.unsubscribed_at is not None:
            continue
        if customer is not None and not customer.active:
            continue
        if channel not in sub.channels or "incidents" not in sub.kinds or not s.email:
            continue
        if channel not in policy.channels:
            continue
        if not sub.all_services and not affected & {x.pk for x in sub.services.all()}:
            continue
        region = s.region_id or (customer.region_id if customer else None)
        if regions and region is not None and region not in regions:
            continue
        if s.email in suppressed:
            continue
        found.add(s.pk)
    return found


def _median(fn: Any, runs: int = 3) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def _run(n_subscribers: int, n_customers: int, *, explain: bool) -> dict[str, object]:
    import django
    from django.core.management import call_command

    django.setup()
    from django.db import connection
    from django_tenants.utils import tenant_context

    from apps.incidents.services import incident_open
    from apps.subscribers.selectors import audience_for, audience_ids_iter
    from apps.tenants.services import tenant_create

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    tenant = tenant_create(slug="bench", name="Bench")
    with tenant_context(tenant):
        t0 = time.perf_counter()
        _seed(n_subscribers, n_customers)
        seed_s = time.perf_counter() - t0
        incident = incident_open(
            title="Payments failing in Europe",
            severity="P1",
            services={"api": "partial_outage", "payments": "major_outage"},
            regions=["eu"],
            actor="bench",
        )

        def count() -> int:
            return audience_for(incident=incident, channel="email").count()

        def stream() -> list[int]:
            qs = audience_for(incident=incident, channel="email")
            return list(audience_ids_iter(qs, chunk_size=2000))

        count_s, audience = _median(count)
        stream_s, ids = _median(stream)
        if explain:
            qs = audience_for(incident=incident, channel="email").values_list("id", flat=True)
            with connection.cursor() as cursor:
                query, params = qs.query.sql_with_params()
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params)
                print("\n".join(row[0] for row in cursor.fetchall()), file=sys.stderr)
        t0 = time.perf_counter()
        naive = _naive(incident, "email")
        baseline_s = time.perf_counter() - t0
        sms_count = audience_for(incident=incident, channel="sms").count()

    return {
        "subscribers": n_subscribers,
        "customers": n_customers,
        "audience": audience,
        "count_s": round(count_s, 4),
        "stream_s": round(stream_s, 4),
        "baseline_s": round(baseline_s, 3),
        "speedup": round(baseline_s / stream_s, 1),
        "target_met": count_s < COUNT_TARGET_S and stream_s < STREAM_TARGET_S,
        "same_as_baseline": set(ids) == naive and len(ids) == audience,
        "sms_audience": sms_count,
        "seed_s": round(seed_s, 1),
    }


if __name__ == "__main__":
    main()
