from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.incidents.services import (
    incident_open,
    incident_post_update,
    incident_resolve,
    maintenance_schedule,
    maintenance_start,
)
from tests.factories import ALL_CLEAR, RegionFactory, ServiceFactory, ServiceGroupFactory

ACTOR = "pytest"


@pytest.fixture
def page(tenant_db) -> Client:
    return Client(HTTP_HOST="test.localhost")


@pytest.fixture
def world(tenant_db, django_capture_on_commit_callbacks):
    """Two groups of services, one open P1 with a public timeline and an internal note, one
    triage incident, one resolved incident, one active and one upcoming maintenance."""
    RegionFactory(code="eu", name="Europe")
    core = ServiceGroupFactory(name="Core", position=0)
    extras = ServiceGroupFactory(name="Extras", position=1)
    api = ServiceFactory(slug="api", name="API", group=core, position=0)
    ServiceFactory(slug="payments", name="Payments", group=core, position=1)
    ServiceFactory(slug="search", name="Search", group=extras)
    ServiceFactory(slug="labs", name="Labs", group=extras, only_show_if_degraded=True)
    with django_capture_on_commit_callbacks(execute=True):
        p1 = incident_open(
            title="Payments failing",
            internal_title="SECRET-db-failover",
            severity="P1",
            services={"payments": "major_outage"},
            regions=["eu"],
            body="We are investigating failed card payments.",
            actor=ACTOR,
        )
        incident_post_update(
            incident=p1,
            body="We found the cause.",
            status="identified",
            internal_note="SECRET-note: primary db crashed",
            actor=ACTOR,
        )
        triage = incident_open(
            title="SECRET-triage alert",
            severity="P2",
            source="alertmanager",
            services={"api": "major_outage"},
            actor=ACTOR,
        )
        old = incident_open(
            title="Slow search",
            severity="P3",
            services={"search": "degraded_performance"},
            body="Search is slow.",
            actor=ACTOR,
        )
        incident_resolve(incident=old, body="Search is fast again.", **ALL_CLEAR, actor=ACTOR)
        now = timezone.now()
        active = maintenance_schedule(
            title="API maintenance",
            services=["api"],
            scheduled_start=now + timedelta(minutes=1),
            scheduled_end=now + timedelta(hours=1),
            actor=ACTOR,
        )
        maintenance_start(window=active, actor=ACTOR)
        upcoming = maintenance_schedule(
            title="Search upgrade",
            services=["search"],
            scheduled_start=now + timedelta(days=3),
            scheduled_end=now + timedelta(days=3, hours=2),
            customer_action="Nothing to do; reports run later.",
            actor=ACTOR,
        )
    return {
        "p1": p1,
        "triage": triage,
        "old": old,
        "active": active,
        "upcoming": upcoming,
        "api": api,
    }
