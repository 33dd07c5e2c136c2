import pytest

from apps.incidents.models import Service
from tests.factories import RegionFactory, ServiceFactory


@pytest.fixture
def catalog(tenant_db) -> dict[str, Service]:
    RegionFactory(code="eu", name="Europe")
    RegionFactory(code="us", name="United States")
    return {slug: ServiceFactory(slug=slug, name=slug.title()) for slug in ("api", "payments")}
