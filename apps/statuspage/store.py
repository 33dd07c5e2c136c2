"""The status page's render cache.

Every tenant has a version number in Redis, bumped (on commit) by every change that can
alter what its public pages show. A rendered response is stored per (tenant, path) together
with the version it was rendered at. A request for a stale entry triggers one render, under
a short Redis lock: the process that wins the lock renders, every other request meanwhile
keeps getting the previous bytes, so a change never sends a herd of requests to the
database (unlike a time-to-live cache expiring under load).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import cast
from urllib.parse import urlsplit

import redis
from django.conf import settings

LOCK_SECONDS = 10


@dataclass(frozen=True)
class Rendered:
    version: int
    body: bytes
    content_type: str
    etag: str
    last_modified: float  # epoch seconds


@cache
def client() -> redis.Redis:
    """One connection pool per process, on the cache's logical database."""
    location = settings.CACHES["default"]["LOCATION"]
    if urlsplit(location).scheme == "unix":
        return redis.Redis.from_url(location)
    return redis.Redis.from_url(location, socket_timeout=2, socket_connect_timeout=2)


def key_prefix() -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:sp:"


def _version_key(schema: str) -> str:
    return f"{key_prefix()}v:{schema}"


def _entry_key(schema: str, path: str) -> str:
    return f"{key_prefix()}e:{schema}:{path}"


def version_bump(schema: str) -> int:
    return int(client().incr(_version_key(schema)))


def version_current(schema: str) -> int:
    return int(client().get(_version_key(schema)) or 0)


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
        },
    )


def make_entry(version: int, body: bytes, content_type: str) -> Rendered:
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    return Rendered(version, body, content_type, f'"{digest}"', time.time())


def rendered(schema: str, path: str, build: Callable[[], tuple[bytes, str]]) -> Rendered:
    """The current rendering of `path` for `schema`: from the cache when it is current,
    else rendered once (other callers get the previous rendering meanwhile)."""
    version = version_current(schema)
    entry = entry_load(schema, path)
    if entry is not None and entry.version >= version:
        return entry
    lock = f"{key_prefix()}l:{schema}:{path}"
    if client().set(lock, version, nx=True, ex=LOCK_SECONDS):
        try:
            body, content_type = build()
            fresh = make_entry(version, body, content_type)
            if entry is not None and entry.body == body:
                fresh = Rendered(version, body, content_type, entry.etag, entry.last_modified)
            _entry_store(schema, path, fresh)
            return fresh
        finally:
            client().delete(lock)
    if entry is not None:
        return entry  # someone else is rendering the new version: serve the previous one
    body, content_type = build()  # the very first render, raced: render, do not store
    return make_entry(version, body, content_type)
