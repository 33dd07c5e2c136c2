"""Demo data for customers and subscribers: 40 customers of Acme Cloud across tiers and
regions, and 200 confirmed subscribers (five per customer) with mixed channels and service
choices. Runs after the incidents seeder (it uses its regions and services); adds only what
is missing."""

from __future__ import annotations

import random
from decimal import Decimal

from apps.incidents.models import Region, Service
from apps.subscribers.models import Subscriber
from apps.subscribers.services import ALL, customer_upsert, subscriber_create

ACTOR = "demo seed"
PREFIXES = [
    "Blue",
    "Bright",
    "Cedar",
    "Delta",
    "Ember",
    "Fjord",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
]
TRADES = ["Logistics", "Health", "Labs", "Retail"]
PEOPLE = ["ops", "support", "cto", "finance", "status"]
FEES = {
    "enterprise": Decimal("12000.00"),
    "business": Decimal("2400.00"),
    "standard": Decimal("300.00"),
}
REGION_ZONES = {"us": "America/New_York", "eu": "Europe/Paris", "apac": "Asia/Singapore"}


def _tier(index: int) -> str:
    return "enterprise" if index % 5 == 0 else "business" if index % 5 in (1, 2) else "standard"


def seed() -> None:
    rng = random.Random(2026)  # noqa: S311 - demo data, the same on every run
    regions = [code for code in ("us", "eu", "apac") if Region.objects.filter(code=code).exists()]
    slugs = list(Service.objects.order_by("slug").values_list("slug", flat=True))
    index = 0
    for prefix in PREFIXES:
        for trade in TRADES:
            _customer_with_people(index, f"{prefix} {trade}", regions, slugs, rng)
            index += 1


def _customer_with_people(
    index: int, name: str, regions: list[str], slugs: list[str], rng: random.Random
) -> None:
    key = name.lower().replace(" ", "-")
    tier = _tier(index)
    region = regions[index % len(regions)] if regions and index % 10 != 9 else None
    customer_upsert(
        external_key=key,
        name=name,
        tier=tier,
        region=region,
        time_zone=REGION_ZONES.get(region or "", "UTC"),
        monthly_fee=FEES[tier],
        actor=ACTOR,
    )
    for n, person in enumerate(PEOPLE):
        email = f"{person}@{key}.example.com"
        # Draw every choice even for existing people, so the next ones stay the same.
        all_services = rng.random() < 0.4 or not slugs
        chosen = rng.sample(slugs, min(len(slugs), rng.randint(1, 3))) if slugs else []
        kinds = ["incidents", "maintenance", "postmortems"] if rng.random() < 0.8 else ["incidents"]
        if Subscriber.objects.filter(email=email).exists():
            continue
        phone = f"+1202555{100 + index * 2 + n % 2:04d}" if n < 2 and tier != "standard" else ""
        subscriber_create(
            email=email,
            phone=phone,
            name=f"{name} {person}",
            customer=key,
            services=ALL if all_services else chosen,
            kinds=kinds,
            webhook_url=f"https://hooks.example.net/{key}" if person == "status" else "",
            slack_webhook_url=(
                f"https://chat.example.net/slack/{key}"
                if person == "ops" and index % 3 == 0
                else ""
            ),
            source="import",
            confirmed=True,
            actor=ACTOR,
        )
