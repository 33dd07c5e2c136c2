"""Regions and services of the `test` tenant used across the subscriber tests; a browser on
its status page, a real SMTP server, and fresh rate-limit counters."""

import pytest
from django.test import Client

from apps.incidents.models import Region, Service
from apps.statuspage import store
from apps.subscribers.public import ratelimit
from tests.factories import RegionFactory, ServiceFactory


@pytest.fixture
def regions(tenant_db) -> dict[str, Region]:
    return {
        code: RegionFactory(code=code, name=name, time_zone=tz)
        for code, name, tz in (
            ("us", "United States", "America/New_York"),
            ("eu", "Europe", "Europe/Paris"),
            ("apac", "Asia Pacific", "Asia/Singapore"),
        )
    }


@pytest.fixture
def services(tenant_db) -> dict[str, Service]:
    return {slug: ServiceFactory(slug=slug) for slug in ("api", "payments", "dashboard")}


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """The subscribe page's rate-limit counters live in Redis, outside the rolled-back
    transaction."""
    client = store.client()
    keys = list(client.scan_iter(ratelimit.cache_pattern()))
    if keys:
        client.delete(*keys)


@pytest.fixture
def page(tenant_db) -> Client:
    """A browser on the `test` tenant's status page."""
    return Client(HTTP_HOST="test.localhost")
