from datetime import datetime
from decimal import Decimal

import pytest

from apps.incidents.models import Incident, IncidentUpdate, Region, Service
from apps.incidents.services import incident_open, incident_post_update, incident_resolve
from apps.postmortems.models import SlaPolicy, TierSlaPolicy
from tests.factories import ALL_CLEAR, RegionFactory, ServiceFactory

ACTOR = "pytest"


@pytest.fixture
def catalog(tenant_db) -> dict[str, Service | Region]:
    return {
        "eu": RegionFactory(code="eu", name="Europe"),
        "us": RegionFactory(code="us", name="United States"),
        "api": ServiceFactory(slug="api", name="API"),
        "payments": ServiceFactory(slug="payments", name="Payments"),
    }


@pytest.fixture
def policy(tenant_db) -> SlaPolicy:
    """The seeded 99.9% policy (10% below 99.9, 25% below 99, 50% below 95), default of
    the enterprise and business tiers."""
    policy = SlaPolicy.objects.get(name="Standard SLA")
    assert set(TierSlaPolicy.objects.values_list("tier", flat=True)) == {"enterprise", "business"}
    return policy


def past_incident(
    *,
    start: datetime,
    end: datetime | None,
    services: dict[str, str],
    regions: tuple[str, ...] = (),
    severity: str = "P1",
    changes: tuple[tuple[datetime, dict[str, str]], ...] = (),
    commander=None,
) -> Incident:
    """An incident that happened between `start` and `end` (None: still open), with
    component changes at the given moments. The use-cases stamp "now"; the story is then
    moved to its real times, as the demo seeder does."""
    incident = incident_open(
        title="Card payments failing",
        severity=severity,
        services=services,
        regions=list(regions),
        body="We are investigating.",
        started_at=start,
        commander=commander,
        actor=ACTOR,
    )
    Incident.objects.filter(pk=incident.pk).update(detected_at=start, acknowledged_at=start)
    incident.updates.update(display_at=start, created_at=start)
    for at, change in changes:
        update = incident_post_update(
            incident=incident, body="Update.", component_changes=change, actor=ACTOR
        )
        IncidentUpdate.objects.filter(pk=update.pk).update(display_at=at, created_at=at)
    if end is not None:
        update = incident_resolve(
            incident=incident, body="Back to normal.", **ALL_CLEAR, actor=ACTOR
        )
        IncidentUpdate.objects.filter(pk=update.pk).update(display_at=end, created_at=end)
        Incident.objects.filter(pk=incident.pk).update(resolved_at=end)
    incident.refresh_from_db()
    return incident


def fee(amount: str) -> Decimal:
    return Decimal(amount)
