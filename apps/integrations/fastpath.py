"""Answer monitoring webhooks before Django's middleware runs.

During an alert storm the monitoring tools send thousands of webhooks a minute. A hook needs
none of the middleware (sessions, CSRF, auth, messages, tenant routing by database lookup),
which costs more CPU than the hook's own work. This WSGI wrapper answers a POST to
`/hooks/<source>/<token>/` itself when the host is one this process has already routed
(the host cache of apps.tenants.selectors), running the very same `hooks.hook_receive` as
the Django view. Its one database connection is recycled as Django's request cycle would,
minus the per-request health check: should the database have dropped it, the request goes
to Django, on a new connection. Anything else (other paths, unknown hosts, plain HTTP when
HTTPS is required, bodies without a length or over the upload limit) goes to Django
unchanged, which answers identically.

config/wsgi.py puts it in front of Clarion's application.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http.request import HttpHeaders
from django.utils.http import parse_header_parameters
from django_tenants.postgresql_backend.base import FakeTenant

from apps.core.tenancy import current_schema, tenant_connection
from apps.integrations.hooks import hook_receive
from apps.tenants.selectors import schema_for_host_if_known

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
REASONS = {202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


def _recycle_connection() -> None:
    """The end of Django's request cycle for the one connection hooks use, without the
    health check it would schedule for the next request (one round trip each): close a
    connection that saw an error, outlived CONN_MAX_AGE or was left inside a transaction.
    (Inside an atomic block, that is in a test, the connection is not ours to close.)"""
    if connection.connection is None or connection.in_atomic_block:
        return
    if (
        connection.errors_occurred
        or not connection.get_autocommit()
        or (connection.close_at is not None and time.monotonic() >= connection.close_at)
    ):
        connection.close()


def _is_secure(environ: dict[str, Any]) -> bool:
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, value = proxy
        if environ.get(name, "").split(",")[0].strip() == value:
            return True
    return bool(environ.get("wsgi.url_scheme") == "https")


class HooksFastPath:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        answer = self._answer(environ)
        if answer is None:
            return self.app(environ, start_response)
        status, body = answer
        data = json.dumps(body).encode()
        start_response(
            f"{status} {REASONS.get(status, '')}".strip(),
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(data))),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
        return [data]

    def _answer(self, environ: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """The hook's answer, or None to let Django handle the request."""
        if environ.get("REQUEST_METHOD") != "POST":
            return None
        parts = environ.get("PATH_INFO", "").split("/")
        if len(parts) != 5 or parts[1] != "hooks" or parts[4] != "" or not parts[3]:
            return None
        if parts[2] == "zendesk":  # help-desk webhooks have their own view (helpdesk_hooks)
            return None
        host = (environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")).split(":")[0]
        schema = schema_for_host_if_known(host.lower().rstrip("."))
        if schema is None:
            return None
        if settings.SECURE_SSL_REDIRECT and not _is_secure(environ):
            return None  # Django redirects it to HTTPS
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if length < 0 or (limit is not None and length > limit):
            return None
        body = environ["wsgi.input"].read(length) if length else b""
        content_type, _ = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
        try:
            if current_schema() != schema:  # else the search_path is already right
                tenant_connection().set_tenant(FakeTenant(schema_name=schema))
            return hook_receive(
                source=parts[2],
                token=parts[3],
                headers=HttpHeaders(environ),
                body=body,
                content_type=content_type,
            )
        except DatabaseError:
            # A connection the database dropped (there is no health check here): Django
            # answers on a new one. Replaying is safe, the insert is idempotent.
            connection.close()
            environ["wsgi.input"] = io.BytesIO(body)
            return None
        finally:
            _recycle_connection()
