"""Fixed-window rate limits of the subscribe page, counted in Redis (Django's cache).

Two limits, each `(attempts, seconds)`, set in settings or left to the defaults here:

- `CLARION_SUBSCRIBE_LIMIT_PER_IP` (default 10 an hour): every POST to `/subscribe/` from
  one client address, accepted or not (honeypot hits included). IPv6 clients count per /64,
  the block one household or server usually gets.
- `CLARION_SUBSCRIBE_LIMIT_PER_ADDRESS` (default 3 an hour): valid requests naming one
  e-mail address, phone number or webhook URL, so that nobody can fill someone else's inbox
  with confirmation mail.

Counts are installation-wide (not per tenant): a mailbox is as full whichever status page
sent to it. Addresses are hashed in the keys. The client address is REMOTE_ADDR; behind a
reverse proxy set `CLARION_CLIENT_IP_HEADER` (e.g. `X-Real-IP`) to a header the proxy
always overwrites with the client's address.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

KEY_PREFIX = "subscribe-limit"
DEFAULT_PER_IP = (10, 3600)
DEFAULT_PER_ADDRESS = (3, 3600)


@dataclass(frozen=True)
class Limit:
    attempts: int
    seconds: int


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the current window ends


def per_ip() -> Limit:
    return Limit(*getattr(settings, "CLARION_SUBSCRIBE_LIMIT_PER_IP", DEFAULT_PER_IP))


def per_address() -> Limit:
    return Limit(*getattr(settings, "CLARION_SUBSCRIBE_LIMIT_PER_ADDRESS", DEFAULT_PER_ADDRESS))


def client_ip(request: HttpRequest) -> str:
    """The client's address as counted: IPv4 as is, IPv6 as its /64 network."""
    header = getattr(settings, "CLARION_CLIENT_IP_HEADER", "")
    raw = request.headers.get(header, "") if header else ""
    raw = raw.split(",")[0].strip() or request.META.get("REMOTE_ADDR", "")
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw or "unknown"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _key(scope: str, identity: str, window: int) -> str:
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}:{scope}:{window}:{digest}"


def hit(scope: str, identity: str, limit: Limit) -> Verdict:
    """Count one attempt of `identity` in `scope` ("ip" or "address") in the current window
    and say whether it is within `limit`."""
    now = time.time()
    window = int(now // limit.seconds)
    key = _key(scope, identity, window)
    # add() sets the counter only if absent; incr() is atomic in Redis.
    cache.add(key, 0, timeout=limit.seconds + 60)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=limit.seconds + 60)
        count = 1
    retry_after = max(1, int((window + 1) * limit.seconds - now))
    return Verdict(allowed=count <= limit.attempts, retry_after=retry_after)


def cache_pattern() -> str:
    """The glob of every counter's key in Redis (for tests and operators)."""
    return cache.make_key(f"{KEY_PREFIX}:*")
