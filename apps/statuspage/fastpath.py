"""Serve cached status pages before Django runs.

During an outage everyone opens the status page at once. This WSGI wrapper answers GETs of
the cacheable paths from memory: host -> schema is remembered per process, and each
process checks the tenant's render version in Redis at most every `CHECK_SECONDS`, so a
change shows within that delay plus one render. Anything it cannot answer (first visit
after a change, unknown hosts, other paths, query strings) goes to Django unchanged, which
renders once and stores the result for everyone (apps.statuspage.store).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any

from apps.statuspage import store
from apps.statuspage.views import BUILDERS, CACHE_CONTROL, _not_modified

CHECK_SECONDS = 0.25
HOST_SECONDS = 30.0
_FAST_PATHS = frozenset(BUILDERS)

StartResponse = Callable[..., Any]


class StatusPageFastPath:
    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self._hosts: dict[str, tuple[str | None, float]] = {}
        self._entries: dict[tuple[str, str], tuple[store.Rendered, float]] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if (
            path in _FAST_PATHS
            and environ.get("REQUEST_METHOD") in ("GET", "HEAD")
            and not environ.get("QUERY_STRING")
        ):
            schema = self._schema(environ)
            if schema is not None:
                entry = self._entry(schema, path)
                if entry is not None:
                    return self._respond(entry, environ, start_response)
        return self.app(environ, start_response)

    def _schema(self, environ: dict[str, Any]) -> str | None:
        host = (environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")).split(":")[0].lower()
        now = time.monotonic()
        known = self._hosts.get(host)
        if known is not None and known[1] > now:
            return known[0]
        from django.db import close_old_connections

        from apps.tenants.selectors import tenant_for_host

        close_old_connections()
        tenant = tenant_for_host(host)
        schema = tenant.schema_name if tenant is not None and tenant.kind == "customer" else None
        self._hosts[host] = (schema, now + HOST_SECONDS)
        return schema

    def _entry(self, schema: str, path: str) -> store.Rendered | None:
        now = time.monotonic()
        known = self._entries.get((schema, path))
        if known is not None and now - known[1] < CHECK_SECONDS:
            return known[0]
        with self._lock:  # one version check per process and interval, not one per thread
            known = self._entries.get((schema, path))
            if known is not None and time.monotonic() - known[1] < CHECK_SECONDS:
                return known[0]
            version = store.version_current(schema)
            if known is not None and known[0].version >= version:
                self._entries[(schema, path)] = (known[0], time.monotonic())
                return known[0]
            entry = store.entry_load(schema, path)
            if entry is None or entry.version < version:
                return None  # Django renders it (once, under the store's lock)
            self._entries[(schema, path)] = (entry, time.monotonic())
            return entry

    @staticmethod
    def _respond(
        entry: store.Rendered, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        headers = [
            ("ETag", entry.etag),
            ("Last-Modified", formatdate(entry.last_modified, usegmt=True)),
            ("Cache-Control", CACHE_CONTROL),
            ("Access-Control-Allow-Origin", "*"),
        ]
        if _not_modified(
            environ.get("HTTP_IF_NONE_MATCH"), environ.get("HTTP_IF_MODIFIED_SINCE"), entry
        ):
            start_response("304 Not Modified", headers)
            return [b""]
        headers += [("Content-Type", entry.content_type), ("Content-Length", str(len(entry.body)))]
        start_response("200 OK", headers)
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else entry.body]
