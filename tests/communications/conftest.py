import pytest
from django.test import override_settings

from apps.incidents.models import Service
from tests.factories import RegionFactory, ServiceFactory
from tests.smtp_sink import start_sink


@pytest.fixture
def smtp():
    """A real SMTP server; Django's SMTP backend is pointed at it."""
    sink, controller = start_sink()
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST=controller.hostname,
        EMAIL_PORT=controller.port,
        EMAIL_USE_TLS=False,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_TIMEOUT=5,
    ):
        yield sink
    controller.stop()


@pytest.fixture
def catalog(tenant_db) -> dict[str, Service]:
    RegionFactory(code="eu", name="Europe")
    RegionFactory(code="us", name="United States")
    return {slug: ServiceFactory(slug=slug, name=slug.title()) for slug in ("api", "payments")}
