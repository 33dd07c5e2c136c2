"""The channel interface.

A channel turns a message's templates into what one medium carries (an e-mail, an SMS, a
signed webhook...) and hands it to a provider. To add one:

1. Write a module in this package with a `Channel` subclass: a stable `key` (it is stored
   in Delivery rows), its `capabilities`, the template `parts` it needs, `render()` and, if
   it delivers to subscribers one by one, `send()`.
2. List its dotted path in `CLARION_CHANNELS` (settings); the registry refuses two channels
   with one key at start-up.
3. Give it a local fake provider for tests and a README beside it.

`send()` receives a batch of `Outgoing` items and must return one `SendResult` per item. It
must not raise for one recipient's failure: a transient failure (timeout, 429, 5xx, a 4xx
SMTP reply) is retried later with backoff, a permanent one (invalid address, 4xx HTTP, 5xx
SMTP) fails that delivery with its reason. `idempotency_key` is stable per (message,
subscriber, channel): pass it to providers that deduplicate on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from apps.communications.choices import AttemptOutcome
from apps.core.registry import Registry


@dataclass(frozen=True)
class Capabilities:
    max_length: int | None = None  # characters of the main text, None = unlimited
    html: bool = False
    threading: bool = False  # can a later message reply in the same thread


@dataclass(frozen=True)
class Outgoing:
    """One rendered message for one recipient."""

    delivery_id: int
    idempotency_key: str
    address: str  # e-mail address, phone number or URL
    parts: Mapping[str, str]  # "subject", "text", "html", ...
    headers: Mapping[str, str] = field(default_factory=dict)
    secret: str = ""  # e.g. a webhook's signing secret


@dataclass(frozen=True)
class SendResult:
    delivery_id: int
    outcome: AttemptOutcome
    provider_id: str = ""
    error: str = ""
    duration_ms: int = 0


class Channel(ABC):
    key: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    parts: ClassVar[tuple[str, ...]] = ("text",)
    per_subscriber: ClassVar[bool] = True  # False: one broadcast (status page, banner, social)

    def validate(self, rendered: Mapping[str, str]) -> list[str]:
        """Problems with a rendering for this medium (e.g. too long); empty = fine."""
        limit = self.capabilities.max_length
        text = rendered.get("text", "")
        if limit is not None and len(text) > limit:
            return [f"The {self.key} text is {len(text)} characters; the limit is {limit}."]
        return []

    @abstractmethod
    def send(self, batch: Sequence[Outgoing]) -> Iterable[SendResult]:
        """Hand each item to the provider; one result per item, never raise per item.
        Yield each result as soon as the provider answered it: the caller records it before
        the next call, so a worker killed mid-batch never leaves a sent item unrecorded."""

    def describe(self) -> dict[str, Any]:
        return {"key": self.key, "parts": self.parts, "capabilities": self.capabilities}


channels: Registry[Channel] = Registry("channel")


def channel(key: str) -> Channel:
    return channels[key]
