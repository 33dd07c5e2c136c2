"""The demo tenant's customers and subscribers."""

from __future__ import annotations

from collections import Counter

from apps.core.models import AuditEvent
from apps.incidents import demo as incidents_demo
from apps.incidents.services import incident_open
from apps.subscribers import demo, selectors
from apps.subscribers.models import Customer, Subscriber


def test_the_demo_has_40_customers_and_200_confirmed_subscribers_and_is_idempotent(
    tenant_db,
) -> None:
    incidents_demo.seed()
    demo.seed()

    customers = Customer.objects.select_related("region")
    assert customers.count() == 40
    tiers = Counter(customers.values_list("tier", flat=True))
    assert tiers == {"enterprise": 8, "business": 16, "standard": 16}
    assert {c.region.code if c.region else None for c in customers} == {"us", "eu", "apac", None}

    subscribers = list(Subscriber.objects.select_related("subscription"))
    assert len(subscribers) == 200
    assert all(s.confirmed and s.source == "import" for s in subscribers)
    assert all(s.email.endswith(".example.com") for s in subscribers)
    channels = Counter(c for s in subscribers for c in s.reachable_channels)
    assert set(channels) == {"email", "sms", "webhook", "slack"}
    assert 0 < sum(1 for s in subscribers if s.subscription.all_services) < 200

    before = AuditEvent.objects.count()
    demo.seed()
    assert Subscriber.objects.count() == 200 and Customer.objects.count() == 40
    assert AuditEvent.objects.count() == before  # nothing was missing, nothing was written


def test_a_demo_p1_texts_only_enterprise_people(tenant_db) -> None:
    incidents_demo.seed()
    demo.seed()
    incident = incident_open(
        title="Payments failing",
        severity="P1",
        services={"payments": "major_outage"},
        regions=["eu"],
        actor="pytest",
    )
    texted = selectors.audience_for(incident=incident, channel="sms").select_related("customer")
    assert texted.exists()
    assert {s.customer.tier for s in texted} == {"enterprise"}
    assert selectors.audience_for(incident=incident, channel="email").count() > texted.count()
