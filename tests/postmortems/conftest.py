import ssl
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from apps.incidents.models import Incident, IncidentUpdate, Region, Service
from apps.incidents.services import incident_open, incident_post_update, incident_resolve
from apps.postmortems.models import SlaPolicy, TierSlaPolicy
from tests.factories import ALL_CLEAR, RegionFactory, ServiceFactory
from tests.subscribers.crm_fakes import FakeSalesforce, make_certificate

ACTOR = "pytest"


class FakeSalesforceTasks(FakeSalesforce):
    """The fake org, also keeping Tasks: `POST .../sobjects/Task/` creates one (201 with its
    id), `PATCH .../sobjects/Task/<id>` updates it (204; 404 once it was deleted)."""

    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[dict[str, Any]] = []

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        base = f"/services/data/v{self.version}/sobjects/Task/"
        if method == "POST" and path == base:
            task_id = self._id("00T")
            self.tasks.append({"Id": task_id, **body})
            return 201, {"id": task_id, "success": True, "errors": []}
        if method == "PATCH" and path.startswith(base):
            task_id = path.removeprefix(base).strip("/")
            for task in self.tasks:
                if task["Id"] == task_id:
                    task.update(body)
                    return 204, None
            return 404, [
                {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
            ]
        return super().handle(method, path, query, body)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("salesforce-tls"))


@pytest.fixture
def salesforce(certificate, monkeypatch) -> Iterator[FakeSalesforceTasks]:
    """A fake Salesforce org over https, its certificate trusted by simple-salesforce."""
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    fake = FakeSalesforceTasks()
    fake.start(context)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    yield fake
    fake.stop()


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
