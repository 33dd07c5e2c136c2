"""The integrations' few Redis keys (on the cache's database, under its key prefix), through
one client per process: Django's cache API builds a client per call, which costs more than
the command itself on the hook's hot path."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings


@cache
def client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.CACHES["default"]["LOCATION"], socket_timeout=2, socket_connect_timeout=2
    )


def key(*parts: str) -> str:
    return ":".join((settings.CACHES["default"]["KEY_PREFIX"], "integrations", *parts))
