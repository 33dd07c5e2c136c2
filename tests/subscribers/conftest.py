"""Regions and services of the `test` tenant used across the subscriber tests."""

import pytest

from apps.incidents.models import Region, Service
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
