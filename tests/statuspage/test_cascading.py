"""Cascading failures on the public page: a child incident (an internal subsystem) is heard of
only through its parent; its services count under the parent's title, never its own."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from apps.incidents.models import Incident
from apps.incidents.services import incident_attach_child, incident_open, incident_resolve
from apps.statuspage import selectors
from tests.factories import ALL_CLEAR, ServiceFactory

ACTOR = "pytest"
PUBLIC_PATHS = [
    "/",
    "/history/",
    "/history.atom",
    "/history.rss",
    "/api/v2/banner.json",
    "/api/v2/summary.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
]


def component_block(html: str, name: str) -> str:
    blocks = html.split('<div class="component">')[1:]
    return next(b for b in blocks if f'<span class="name">{name}</span>' in b)


@pytest.fixture
def child(world, django_capture_on_commit_callbacks) -> Incident:
    """A confirmed subsystem incident on Search, with a public line of its own, attached to
    the open P1 "Payments failing"."""
    with django_capture_on_commit_callbacks(execute=True):
        child = incident_open(
            title="SECRET-child replica lag",
            severity="P2",
            services={"search": "major_outage"},
            body="SECRET-child: replicas are behind.",
            actor=ACTOR,
        )
        incident_attach_child(child=child, parent=world["p1"], actor=ACTOR)
    return child


@pytest.mark.parametrize("resolved", [False, True], ids=["open", "resolved"])
def test_a_childs_title_appears_on_no_public_surface(
    page, world, child, resolved, django_capture_on_commit_callbacks
) -> None:
    if resolved:  # the parent's all-clear closes the child with it (history, feeds)
        with django_capture_on_commit_callbacks(execute=True):
            incident_resolve(incident=world["p1"], body="Payments work.", **ALL_CLEAR, actor=ACTOR)
    leaks = []
    for path in PUBLIC_PATHS:
        response = page.get(path)
        assert response.status_code == 200, path
        if b"SECRET" in response.content:
            leaks.append(path)
    assert leaks == []
    assert page.get(f"/incidents/{child.pk}/").status_code == 404


def test_a_childs_services_count_under_the_parents_title(page, world, child) -> None:
    html = page.get("/").content.decode()
    search = component_block(html, "Search")
    assert "Payments failing" in search  # today's bar and the days-with-incidents list
    p1 = page.get("/api/v2/incidents/unresolved.json").json()["incidents"][0]
    assert p1["name"] == "Payments failing"
    assert {c["id"] for c in p1["components"]} == {"payments", "search"}


def test_a_parent_and_its_child_down_together_count_once(tenant_db) -> None:
    ServiceFactory(slug="payments", name="Payments")
    day = timezone.now().date() - timedelta(days=2)
    at = datetime.combine(day, time(6), tzinfo=UTC)
    parent = incident_open(
        title="Checkout down",
        severity="P1",
        services={"payments": "major_outage"},
        body="Checkout fails.",
        started_at=at,
        actor=ACTOR,
    )
    child = incident_open(
        title="SECRET card vault",
        severity="P1",
        services={"payments": "major_outage"},
        started_at=at + timedelta(hours=2),
        actor=ACTOR,
    )
    incident_attach_child(child=child, parent=parent, actor=ACTOR)
    days = selectors.uptime_by_service(now=at + timedelta(hours=6))[
        parent.affected.get().service_id
    ]
    that_day = next(d for d in days if d["date"] == day)
    assert that_day["incidents"] == ["Checkout down"]
    assert that_day["status"] == "major_outage"
    assert that_day["down"] == pytest.approx(0.25)  # 06:00-12:00, not 6 h + 4 h
