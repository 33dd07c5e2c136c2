"""Serve cached status pages before Django runs.

During an outage everyone opens the status page at once. This WSGI wrapper answers GETs of
the cacheable paths from memory: for hosts this process has routed before (the host cache
of apps.tenants.selectors), each
process checks the tenant's render version in Redis at most every `CHECK_SECONDS`, so a
change shows within that delay plus one render; the pages that move with the clock
(`TIMED_PATHS`) are likewise stale once the store's time slot turns. Anything it cannot
answer (first visit after a change, unknown hosts, other paths, query strings) goes to
Django unchanged, which renders once and stores the result for everyone
(apps.statuspage.store).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any

from apps.statuspage import store
from apps.statuspage.views import BUILDERS, CACHE_CONTROL, TIMED_PATHS, not_modified
from apps.tenants.selectors import schema_for_host_if_known

CHECK_SECONDS = 0.25
RENDER_RETRY_SECONDS = 2.0
_FAST_PATHS = frozenset(BUILDERS)

StartResponse = Callable[..., Any]


class StatusPageFastPath:
    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self._entries: dict[tuple[str, str], tuple[store.Rendered, float]] = {}
        # (schema, path) -> ((version, slot), until): this process already sent a request to
        # render that version; until then it serves the previous bytes.
        self._render_asked: dict[tuple[str, str], tuple[tuple[int, int], float]] = {}
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

    @staticmethod
    def _schema(environ: dict[str, Any]) -> str | None:
        host = (environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")).split(":")[0]
        # Only hosts Django has already routed in this process: no database work here.
        return schema_for_host_if_known(host.lower().rstrip("."))

    def _entry(self, schema: str, path: str) -> store.Rendered | None:
        now = time.monotonic()
        known = self._entries.get((schema, path))
        if known is not None and now - known[1] < CHECK_SECONDS:
            return known[0]
        with self._lock:  # one version check per process and interval, not one per thread
            known = self._entries.get((schema, path))
            if known is not None and time.monotonic() - known[1] < CHECK_SECONDS:
                return known[0]
            now = time.monotonic()
            version = store.version_current(schema)
            slot = store.time_slot() if path in TIMED_PATHS else 0
            if known is not None and store.is_current(known[0], version, slot):
                self._entries[(schema, path)] = (known[0], now)
                return known[0]
            entry = store.entry_load(schema, path)
            if entry is not None and store.is_current(entry, version, slot):
                self._entries[(schema, path)] = (entry, now)
                return entry
            # Stale: one request of this process goes to Django to render (once across
            # processes, under the store's lock); the others keep the previous bytes until
            # the next check.
            stale = entry or (known[0] if known is not None else None)
            asked = self._render_asked.get((schema, path))
            if stale is None or asked is None or asked[0] != (version, slot) or asked[1] <= now:
                self._render_asked[(schema, path)] = ((version, slot), now + RENDER_RETRY_SECONDS)
                return None
            self._entries[(schema, path)] = (stale, now)
            return stale

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
        if not_modified(
            environ.get("HTTP_IF_NONE_MATCH"), environ.get("HTTP_IF_MODIFIED_SINCE"), entry
        ):
            start_response("304 Not Modified", headers)
            return [b""]
        headers += [("Content-Type", entry.content_type), ("Content-Length", str(len(entry.body)))]
        start_response("200 OK", headers)
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else entry.body]
