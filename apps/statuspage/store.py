"""The status page's render cache.

Every tenant has a version number in Redis, bumped (on commit) by every change that can
alter what its public pages show. A rendered response is stored per (tenant, path) together
with the version it was rendered at. A request for a stale entry triggers one render, under
a short Redis lock: the process that wins the lock renders, every other request meanwhile
keeps getting the previous bytes, so a change never sends a herd of requests to the
database (unlike a time-to-live cache expiring under load).

Some pages also change with the clock alone: the uptime bars move at midnight, an open
incident's downtime grows, a maintenance window enters the banners' "within a day" range.
Those are rendered `timed`: their entry also records the `SLOT_SECONDS` slot of the clock it
was rendered in, and a later slot makes it stale the same way a new version does (one
render under the lock, the previous bytes meanwhile), so they are at most one slot behind
the clock and still rendered at most once per slot under any load. Slots start at every
UTC midnight, so a new day is always a new slot.

The in-app banners also depend on who the customer is (region, followed services) and on
the severity policy; changes to those bump a separate `BANNERS` counter, so that they
refresh the banners without re-rendering the rest of the page.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Literal, cast
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.utils import timezone

LOCK_SECONDS = 10
SLOT_SECONDS = 300  # divides a day: every UTC midnight starts a slot

Scope = Literal["page", "banners"]
PAGE: Scope = "page"
BANNERS: Scope = "banners"


@dataclass(frozen=True)
class Rendered:
    version: int
    body: bytes
    content_type: str
    etag: str
    last_modified: float  # epoch seconds
    slot: int = 0  # the clock's slot when rendered (0: rendered untimed)


@cache
def client() -> redis.Redis:
    """One connection pool per process, on the cache's logical database."""
    location = settings.CACHES["default"]["LOCATION"]
    if urlsplit(location).scheme == "unix":
        return redis.Redis.from_url(location)
    return redis.Redis.from_url(location, socket_timeout=2, socket_connect_timeout=2)


def key_prefix() -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:sp:"


def _version_key(schema: str, scope: Scope = PAGE) -> str:
    return f"{key_prefix()}v:{schema}" if scope == PAGE else f"{key_prefix()}v:{schema}:{scope}"


def _entry_key(schema: str, path: str) -> str:
    return f"{key_prefix()}e:{schema}:{path}"


def version_bump(schema: str, scope: Scope = PAGE) -> int:
    """Mark what `scope` covers as changed: the whole page, or only the banners."""
    return int(client().incr(_version_key(schema, scope)))


def version_current(schema: str, *, banners: bool = False) -> int:
    """The page's version; with `banners`, the banners' version: the sum of the page's and
    the banners' counters (both only grow, so the sum grows whenever either does)."""
    if not banners:
        return int(client().get(_version_key(schema)) or 0)
    page, extra = client().mget([_version_key(schema), _version_key(schema, BANNERS)])
    return int(page or 0) + int(extra or 0)


def time_slot(at: datetime | None = None) -> int:
    """The number of the clock's current `SLOT_SECONDS` slot."""
    return int((at or timezone.now()).timestamp()) // SLOT_SECONDS


def is_current(entry: Rendered, version: int, slot: int = 0) -> bool:
    """Whether `entry` shows the state of `version` (and, for timed content, of `slot`).
    Both only grow, so an entry another process rendered a moment later is current too."""
    return entry.version >= version and entry.slot >= slot


def entry_load(schema: str, path: str) -> Rendered | None:
    raw = cast(dict[bytes, bytes], client().hgetall(_entry_key(schema, path)))
    if not raw:
        return None
    return Rendered(
        version=int(raw[b"version"]),
        body=raw[b"body"],
        content_type=raw[b"content_type"].decode(),
        etag=raw[b"etag"].decode(),
        last_modified=float(raw[b"last_modified"]),
        slot=int(raw.get(b"slot", 0)),
    )


def _entry_store(schema: str, path: str, entry: Rendered) -> None:
    client().hset(
        _entry_key(schema, path),
        mapping={
            "version": entry.version,
            "body": entry.body,
            "content_type": entry.content_type,
            "etag": entry.etag,
            "last_modified": entry.last_modified,
            "slot": entry.slot,
        },
    )


def make_entry(version: int, body: bytes, content_type: str, slot: int = 0) -> Rendered:
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    return Rendered(version, body, content_type, f'"{digest}"', time.time(), slot)


def rendered(
    schema: str,
    path: str,
    build: Callable[[], tuple[bytes, str]],
    *,
    timed: bool = False,
    banners: bool = False,
) -> Rendered:
    """The current rendering of `path` for `schema`: from the cache when it is current,
    else rendered once (other callers get the previous rendering meanwhile).

    `timed`: the content also depends on the clock (stale in a later slot); `banners`: it
    also depends on the banners' counter (see `version_current`)."""
    version = version_current(schema, banners=banners)
    slot = time_slot() if timed else 0  # taken before rendering: never newer than the content
    entry = entry_load(schema, path)
    if entry is not None and is_current(entry, version, slot):
        return entry
    lock = f"{key_prefix()}l:{schema}:{path}"
    if client().set(lock, version, nx=True, ex=LOCK_SECONDS):
        try:
            body, content_type = build()
            fresh = make_entry(version, body, content_type, slot)
            if entry is not None and entry.body == body:
                # Unchanged bytes keep their validators: clients keep getting 304s.
                fresh = replace(fresh, etag=entry.etag, last_modified=entry.last_modified)
            _entry_store(schema, path, fresh)
            return fresh
        finally:
            client().delete(lock)
    if entry is not None:
        return entry  # someone else is rendering the new version: serve the previous one
    body, content_type = build()  # the very first render, raced: render, do not store
    return make_entry(version, body, content_type, slot)
