"""The analytics numbers on a seeded history: the page, its CSV exports and the API agree."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client

from apps.communications.models import Delivery, Message
from apps.core.services import apikey_create
from apps.incidents.models import Incident, IncidentUpdate
from apps.integrations.models_support import HelpdeskTicketLink, TicketState
from apps.postmortems.analytics import analytics
from apps.postmortems.services import credits_compute
from tests.conftest import TEST_HOST
from tests.factories import CustomerFactory, SubscriberFactory, UserFactory
from tests.openapi import CheckedClient
from tests.postmortems.conftest import past_incident

ACTOR = "pytest"
SEP = datetime(2026, 9, 8, 9, 0, tzinfo=UTC)
OCT = datetime(2026, 10, 14, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def minutes(base: datetime, n: int) -> datetime:
    return base + timedelta(minutes=n)


def promise(incident: Incident, *pairs: tuple[datetime, datetime | None]) -> None:
    """Give the incident's public updates, oldest first, these (shown, promised next)."""
    updates = incident.updates.exclude(body="").order_by("display_at", "id")
    for update, (shown, promised) in zip(updates, pairs, strict=True):
        IncidentUpdate.objects.filter(pk=update.pk).update(
            display_at=shown, next_update_at=promised
        )


@pytest.fixture
def history(catalog, policy):
    """September: two P1s (acknowledged after 10 and 20 min, resolved after 120 and 60);
    October: one P2 (5 and 30 min) and a false alarm; one EUR customer with a 10% credit;
    four deliveries in October; three help-desk tickets about the P2."""
    CustomerFactory(
        tier="enterprise", region=catalog["eu"], monthly_fee=Decimal("1000"), currency="EUR"
    )
    a = past_incident(
        start=SEP,
        end=minutes(SEP, 120),
        services={"payments": "partial_outage"},
        changes=((minutes(SEP, 25), {"payments": "major_outage"}), (minutes(SEP, 70), {})),
    )
    promise(
        a,
        (SEP, minutes(SEP, 30)),
        (minutes(SEP, 25), minutes(SEP, 55)),  # on time
        (minutes(SEP, 70), minutes(SEP, 100)),  # late
        (minutes(SEP, 120), None),  # late
    )
    b_start = minutes(SEP, 3000)
    b = past_incident(start=b_start, end=minutes(b_start, 60), services={"api": "major_outage"})
    promise(b, (b_start, None), (minutes(b_start, 60), None))
    c = past_incident(
        start=OCT, end=minutes(OCT, 30), services={"api": "major_outage"}, severity="P2"
    )
    promise(c, (OCT, minutes(OCT, 60)), (minutes(OCT, 30), None))  # on time
    alarm = past_incident(start=OCT, end=minutes(OCT, 5), services={"api": "major_outage"})
    Incident.objects.filter(pk=alarm.pk).update(false_alarm=True)
    for incident, ack in ((a, 10), (b, 20), (c, 5)):
        Incident.objects.filter(pk=incident.pk).update(
            acknowledged_at=incident.started_at + timedelta(minutes=ack)
        )
    for incident in (a, b, c):
        credits_compute(incident=incident, actor=ACTOR)
    message = Message.objects.create(kind="progress_update", incident=c, channels=["email"])
    for n, (channel, status) in enumerate(
        [("email", "sent"), ("email", "sent"), ("email", "failed"), ("sms", "sent")]
    ):
        Delivery.objects.create(
            message=message,
            subscriber=SubscriberFactory(),
            channel=channel,
            status=status,
            created_at=minutes(OCT, n),
        )
    # Help-desk tickets about c: three flagged in October, two solved by Clarion (one of
    # them in November), one left open for a person.
    for ticket, state, closed in (
        ("101", TicketState.SOLVED, minutes(OCT, 30)),
        ("102", TicketState.SOLVED, datetime(2026, 11, 1, 0, 5, tzinfo=UTC)),
        ("103", TicketState.LEFT_OPEN, None),
    ):
        HelpdeskTicketLink.objects.create(
            incident=c, ticket_id=ticket, state=state, flagged_at=minutes(OCT, 2), closed_at=closed
        )


def test_the_numbers_of_a_seeded_history(history) -> None:
    data = analytics(months=3, now=NOW)
    assert data["months"] == ["2026-09", "2026-10", "2026-11"]
    assert data["mtta"] == [
        {"month": "2026-09", "severity": "P1", "minutes": 15.0, "incidents": 2},
        {"month": "2026-10", "severity": "P2", "minutes": 5.0, "incidents": 1},
    ]
    assert data["mttr"] == [
        {"month": "2026-09", "severity": "P1", "minutes": 90.0, "incidents": 2},
        {"month": "2026-10", "severity": "P2", "minutes": 30.0, "incidents": 1},
    ]
    assert data["incidents"] == [
        {"month": "2026-09", "severity": "P1", "incidents": 2},
        {"month": "2026-10", "severity": "P2", "incidents": 1},
    ]
    assert data["update_cadence"] == [
        {"month": "2026-09", "on_time": 1, "updates": 3, "share_pct": 33.3},
        {"month": "2026-10", "on_time": 1, "updates": 1, "share_pct": 100.0},
        {"month": "2026-11", "on_time": 0, "updates": 0, "share_pct": None},
    ]
    assert data["sla_credits"] == [
        {"month": "2026-09", "currency": "EUR", "amount": "100.00", "credits": 1, "customers": 1}
    ]
    assert data["deliveries"] == [
        {"month": "2026-10", "channel": "email", "sent": 2, "failed": 1, "total": 3},
        {"month": "2026-10", "channel": "sms", "sent": 1, "failed": 0, "total": 1},
    ]
    assert data["tickets"] == [
        {"month": "2026-09", "flagged": 0, "auto_closed": 0},
        {"month": "2026-10", "flagged": 3, "auto_closed": 1},
        {"month": "2026-11", "flagged": 0, "auto_closed": 1},
    ]


def test_the_api_returns_the_same_numbers_as_json(history) -> None:
    _, key = apikey_create(name="Reporting", role="viewer", actor=ACTOR)
    client = CheckedClient(key=key)
    response = client.get("/api/v1/analytics/?months=36")
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(analytics(months=36)))
    assert {"month": "2026-09", "severity": "P1", "minutes": 90.0, "incidents": 2} in (
        response.json()["mttr"]
    )
    bad = client.get("/api/v1/analytics/?months=99")
    assert bad.status_code == 400
    assert "months" in bad.json()["error"]["fields"]
    assert CheckedClient().get("/api/v1/analytics/").status_code == 401


def test_the_admin_page_draws_every_chart_with_its_csv(history) -> None:
    client = Client(HTTP_HOST=TEST_HOST)
    client.force_login(UserFactory(is_superuser=True))
    page = client.get("/admin/postmortems/postincidentreview/analytics/?months=36")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" role="img"') == 7
    assert "2026-09 P1: 90 minutes" in html  # the bar's tooltip
    export = client.get("/admin/postmortems/postincidentreview/analytics/mttr.csv?months=36")
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert {"month": "2026-09", "severity": "P1", "minutes": "90.0", "incidents": "2"} in rows
    assert client.get("/admin/postmortems/postincidentreview/analytics/nope.csv").status_code == 404
