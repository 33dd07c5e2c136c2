"""The inbound source interface: how a monitoring tool's webhook becomes alerts.

To add a source, create `apps/integrations/inbound/<key>/` with

- `verify.py`: `verify(*, headers, body, secret, now)` raising `SignatureInvalid` unless the
  request provably comes from the tool (a bearer token, a shared header, an HMAC signature;
  compare with `hmac.compare_digest`, refuse timestamps older than `TOLERANCE_SECONDS`).
- `parse.py`: `split(body, headers)` -> one `Envelope` per event the webhook carries, with
  the source's own event id as `event_key` (cheap: it runs in the request), and
  `parse(payload, headers)` -> a `NormalizedAlert`, or None for an event type Clarion does
  not use (it runs in the worker).
- `fixtures/*.json`: real payloads (`{"headers": {...}, "body": {...}}`), each parsed by a test.
- `__init__.py`: `source = InboundSource(key=..., ...)`, listed in `CLARION_INBOUND_SOURCES`.

The key is the `<source>` of the hook URL and one of `choices.Source`; two sources with one
key stop start-up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from apps.core.registry import Registry

# Signed requests older (or newer) than this are refused as replays.
TOLERANCE_SECONDS = 5 * 60
EVENT_KEY_MAX = 255
Headers = Mapping[str, str]
JSON = dict[str, Any]


class SignatureInvalid(Exception):
    """The request does not prove it comes from the tool; `code` is `signature_missing`,
    `signature_invalid` or `signature_stale` and the message says what to fix."""

    def __init__(self, message: str, *, code: str = "signature_invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class PayloadInvalid(Exception):
    """The JSON is well formed but is not what the tool sends (a 400 with this message)."""


@dataclass(frozen=True)
class Envelope:
    """One event of a webhook, as stored: its key, its type, and what `parse` will read.
    `ignored` events (types Clarion does not use) are stored but never processed."""

    event_key: str
    event_type: str
    payload: JSON
    ignored: bool = False
    reason: str = ""


@dataclass(frozen=True)
class NormalizedAlert:
    """What every source's alert becomes.

    `external_id` is the source's id of this notification, `dedup_key` the identity of the
    alert across notifications (the same for its firing and its resolution); `severity_hint`
    is P1-P4 when the source says how severe it is."""

    source: str
    external_id: str
    dedup_key: str
    status: str  # choices.AlertStatus
    title: str
    description: str = ""
    severity_hint: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    links: tuple[str, ...] = ()


@dataclass(frozen=True, repr=False)
class InboundSource:
    key: str
    label: str
    verify: Callable[..., None]
    split: Callable[[JSON, Headers], list[Envelope]]
    parse: Callable[[JSON, Headers], NormalizedAlert | None]
    # Request headers kept with the stored event (the rest are dropped).
    stored_headers: Sequence[str] = ()

    def __repr__(self) -> str:
        return f"<InboundSource {self.key} from {self.parse.__module__}>"


inbound_sources: Registry[InboundSource] = Registry("inbound source")


def load_sources(dotted_paths: Sequence[str]) -> None:
    """Register each `InboundSource` under its own key (start-up, from settings)."""
    for path in dotted_paths:
        try:
            item = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"The inbound source {path!r} cannot be imported: {exc}"
            ) from exc
        if not isinstance(item, InboundSource):
            raise ImproperlyConfigured(f"{path} is not an InboundSource.")
        inbound_sources.register(item.key, item)


# --- helpers shared by the parsers --------------------------------------------------------


def event_key(*parts: object) -> str:
    """The parts joined by '|', or their SHA-256 when that is too long for the column."""
    key = "|".join(str(p) for p in parts)
    if len(key) <= EVENT_KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def text(value: Any, limit: int | None = None) -> str:
    if value is None:
        return ""
    result = value if isinstance(value, str) else str(value)
    result = result.strip()
    return result[:limit] if limit else result


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 strings (any precision, `Z`), epoch seconds or milliseconds; Go's zero time
    ('0001-01-01T00:00:00Z', Alertmanager's "no end yet") and junk are None."""
    if value in (None, "", 0):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        if number > 1e11:  # milliseconds
            number /= 1000
        try:
            return datetime.fromtimestamp(number, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    raw = value.strip().replace("Z", "+00:00")
    # Python reads at most 6 fractional digits; Go writes up to 9.
    if "." in raw:
        head, _, rest = raw.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        raw = head + "." + rest[: min(digits, 6)] + rest[digits:]
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year <= 1:
        return None
    return parsed


SEVERITY_WORDS = {
    "critical": "P1",
    "crit": "P1",
    "fatal": "P1",
    "emergency": "P1",
    "page": "P1",
    "high": "P2",
    "error": "P2",
    "major": "P2",
    "warning": "P3",
    "warn": "P3",
    "medium": "P3",
    "minor": "P3",
    "low": "P4",
    "info": "P4",
    "informational": "P4",
    "debug": "P4",
}


def severity_from(value: Any) -> str | None:
    """P1-P4 from what tools write: P1-P5 / SEV1-SEV5 (5 is P4), or a word such as
    critical, error, warning or info. None when it says nothing known."""
    word = text(value).lower()
    if not word:
        return None
    for prefix in ("sev", "p"):
        if word.startswith(prefix) and word[len(prefix) :].isdigit():
            level = min(max(int(word[len(prefix) :]), 1), 4)
            return f"P{level}"
    return SEVERITY_WORDS.get(word)


def string_labels(values: Mapping[str, Any] | None) -> dict[str, str]:
    """Labels as strings (lists keep their first value), without empty names."""
    result: dict[str, str] = {}
    for name, value in (values or {}).items():
        if not isinstance(name, str) or not name:
            continue
        if isinstance(value, list):
            value = value[0] if value else ""
        if isinstance(value, dict):
            continue
        result[name] = text(value)
    return result


def header(headers: Headers, name: str) -> str:
    """A request header, case-insensitively (Django's `request.headers` already is)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return str(value).strip()


def obj(value: Any) -> JSON:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    """`value` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def require_dict(value: Any, what: str) -> JSON:
    if not isinstance(value, dict):
        raise PayloadInvalid(f"{what} must be a JSON object.")
    return value
