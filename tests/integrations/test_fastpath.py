"""The hooks' WSGI fast path answers deliveries for known hosts exactly as the Django view
does, and leaves everything else to Django."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, connection, connections
from django_tenants.utils import tenant_context

from apps.integrations.choices import Source
from apps.integrations.fastpath import HooksFastPath
from apps.integrations.models import InboundEvent
from apps.integrations.services import integration_create
from apps.tenants.models import Tenant
from apps.tenants.selectors import tenant_for_host_cached
from tests.conftest import TEST_HOST
from tests.integrations.conftest import am_alert, am_payload


def call_wsgi(
    app: Any, *, method: str = "POST", path: str, host: str = TEST_HOST, **extra: Any
) -> tuple[int, Any]:
    body = extra.pop("body", b"")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": host,
        "SERVER_PORT": "80",
        "HTTP_HOST": host,
        "CONTENT_TYPE": extra.pop("content_type", "application/json"),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "SERVER_PROTOCOL": "HTTP/1.1",
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in extra.items()},
    }
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    result = app(environ, start_response)
    content = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    return int(seen["status"][:3]), json.loads(content) if content else None


@pytest.fixture
def wsgi(tenant_db) -> Iterator[Any]:
    """Call a WSGI app inside the test's transaction, as Django's test client does: the
    request signals must not close the connection holding it."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield call_wsgi
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


class Recorder:
    """Stands for the Django application behind the fast path."""

    def __init__(self) -> None:
        self.calls = 0
        self.body = b""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.calls += 1
        self.body = environ["wsgi.input"].read()
        start_response("418 I'm a teapot", [])
        return [b""]


@pytest.fixture
def known_host(tenant_db) -> None:
    tenant_for_host_cached(TEST_HOST)  # Django has routed this host in this process


def test_a_delivery_for_a_known_host_is_answered_without_django(
    wsgi, known_host, alertmanager
) -> None:
    integration, secret = alertmanager
    django_app = Recorder()
    connection.set_schema_to_public()
    status, body = wsgi(
        HooksFastPath(django_app),
        path=integration.hook_path,
        body=json.dumps(am_payload(am_alert("f1"))).encode(),
        authorization=f"Bearer {secret}",
    )
    assert (status, body) == (202, {"status": "accepted", "events": 1})
    assert django_app.calls == 0
    assert InboundEvent.objects.get().payload["alerts"][0]["fingerprint"] == "f1"


@pytest.mark.parametrize(
    ("body", "auth", "status", "code"),
    [
        (b"{}", "Bearer wrong", 401, "signature_invalid"),
        (b"{not json", None, 400, "malformed_json"),
        (b'{"alerts": "x"}', None, 400, "invalid_payload"),
    ],
)
def test_refusals_are_the_django_views_refusals(
    wsgi, known_host, alertmanager, body, auth, status, code
) -> None:
    integration, secret = alertmanager
    headers = {"authorization": auth or f"Bearer {secret}"}
    fast = wsgi(HooksFastPath(Recorder()), path=integration.hook_path, body=body, **headers)
    slow = wsgi(WSGIHandler(), path=integration.hook_path, body=body, **headers)
    assert fast == slow
    assert fast[0] == status and fast[1]["error"]["code"] == code
    assert not InboundEvent.objects.exists()


def test_everything_else_goes_to_django(wsgi, known_host, alertmanager) -> None:
    integration, secret = alertmanager
    django_app = Recorder()
    fast = HooksFastPath(django_app)
    body = json.dumps(am_payload(am_alert("f1"))).encode()
    auth = {"authorization": f"Bearer {secret}"}
    wsgi(fast, method="GET", path=integration.hook_path)
    wsgi(fast, path="/api/v1/incidents/", body=body, **auth)
    wsgi(fast, path=integration.hook_path, host="unknown.localhost", body=body, **auth)
    wsgi(fast, path=integration.hook_path + "extra/", body=body, **auth)
    assert django_app.calls == 4
    assert not InboundEvent.objects.exists()


def test_a_connection_the_database_dropped_is_replaced_and_nothing_is_lost(
    django_db_setup, django_db_blocker
) -> None:
    """The fast path skips Django's per-request connection health check: a connection the
    server closed meanwhile (a restart, an idle timeout) makes the request go to Django,
    body intact, and the next one opens a new connection. Outside a test transaction, as in
    a server, with a committed integration."""
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(schema_name="test")
        tenant_for_host_cached(TEST_HOST)
        with tenant_context(tenant):
            integration, secret = integration_create(
                source=Source.ALERTMANAGER, name="Dropped connection", actor="test"
            )
        try:
            connection.set_schema_to_public()
            connection.ensure_connection()
            pid = connection.connection.info.backend_pid
            other = connections.create_connection("default")
            try:
                with other.cursor() as cursor:
                    cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            finally:
                other.close()
            django_app = Recorder()
            body = json.dumps(am_payload(am_alert("dropped"))).encode()
            auth = {"authorization": f"Bearer {secret}"}
            fast = HooksFastPath(django_app)

            assert call_wsgi(fast, path=integration.hook_path, body=body, **auth)[0] == 418
            assert (django_app.calls, django_app.body) == (1, body)
            assert connection.connection is None

            status, answer = call_wsgi(fast, path=integration.hook_path, body=body, **auth)
            assert (status, answer) == (202, {"status": "accepted", "events": 1})
            with tenant_context(tenant):
                assert InboundEvent.objects.filter(integration=integration).count() == 1
        finally:
            with tenant_context(tenant):
                InboundEvent.objects.filter(integration=integration).delete()
                integration.delete()
            connection.close()
