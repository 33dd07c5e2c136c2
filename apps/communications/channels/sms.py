"""SMS through Twilio's Programmable Messaging API, with the official `twilio` library.

Credentials come from settings, else the environment: `TWILIO_ACCOUNT_SID`,
`TWILIO_AUTH_TOKEN` and `TWILIO_FROM_NUMBER` (E.164, or a Messaging Service SID `MG...`).
The body is the message's short `text`. There is no length cap: a long text is split by
the carrier into segments and billed per segment, so `validate()` reports how many segments
a rendering takes (`sms_segments`). Twilio has no idempotency key on message creation; a
resend is prevented by Clarion's claim on the delivery row before the call.

A 201 is sent (provider id: the message SID `SM...`); 429, 5xx, timeouts and connection
errors are retried; any other 4xx is permanent with Twilio's error code and message (e.g.
`21211 The 'To' number ... is not a valid phone number`). Unset credentials fail each
delivery with a message that names the missing settings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from apps.communications.channels.base import Capabilities, Channel, Outgoing, SendResult
from apps.communications.choices import AttemptOutcome

TIMEOUT_SECONDS = 10
GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 basic character set (one septet each) and its extension table (two septets:
# an escape, then the character).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")
_SINGLE = {GSM7: 160, UCS2: 70}  # units in a message of one segment
_CONCATENATED = {GSM7: 153, UCS2: 67}  # units per segment once a header is needed


def _units(text: str) -> tuple[str, list[int]]:
    """The encoding and each character's size in that encoding's units (septets for GSM-7,
    UTF-16 code units for UCS-2)."""
    if all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in text):
        return GSM7, [2 if c in _GSM7_EXTENDED else 1 for c in text]
    return UCS2, [2 if ord(c) > 0xFFFF else 1 for c in text]


def sms_segments(text: str) -> tuple[str, int]:
    """(encoding, segments) of `text` as an SMS: GSM-7 when every character is in the GSM
    alphabet (160 septets in one segment, 153 per segment when concatenated), else UCS-2
    (70 / 67 UTF-16 units). A character is never split across two segments (an escaped
    GSM-7 character or a surrogate pair moves whole to the next one). Empty text: 0."""
    encoding, sizes = _units(text)
    total = sum(sizes)
    if total <= _SINGLE[encoding]:
        return encoding, 1 if text else 0
    per_segment = _CONCATENATED[encoding]
    segments, used = 1, 0
    for size in sizes:
        if used + size > per_segment:
            segments, used = segments + 1, 0
        used += size
    return encoding, segments


def _setting(name: str) -> str:
    return str(getattr(settings, name, os.environ.get(name, "")) or "")


class SmsChannel(Channel):
    key = "sms"
    capabilities = Capabilities(max_length=None)
    parts = ("text",)

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        from_number: str | None = None,
        base_url: str | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        """Arguments override settings; `base_url` replaces `https://api.twilio.com` (a
        local fake in tests, a regional gateway)."""
        self.account_sid = (
            account_sid if account_sid is not None else _setting("TWILIO_ACCOUNT_SID")
        )
        self.auth_token = auth_token if auth_token is not None else _setting("TWILIO_AUTH_TOKEN")
        self.from_number = (
            from_number if from_number is not None else _setting("TWILIO_FROM_NUMBER")
        )
        self.base_url = base_url
        self.timeout = timeout
        self._client: Client | None = None

    def validate(self, rendered: Mapping[str, str]) -> list[str]:
        """A text longer than one segment is sent, and billed, as several."""
        encoding, segments = sms_segments(rendered.get("text", ""))
        if segments <= 1:
            return []
        limit = _SINGLE[encoding]
        return [
            f"The SMS text takes {segments} segments ({encoding}); one segment holds "
            f"{limit} characters."
        ]

    def _missing(self) -> list[str]:
        values = {
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": self.from_number,
        }
        return [name for name, value in values.items() if not value]

    def client(self) -> Client:
        if self._client is None:
            http_client = TwilioHttpClient(timeout=self.timeout)
            client = Client(self.account_sid, self.auth_token, http_client=http_client)
            if self.base_url:
                client.api.base_url = self.base_url.rstrip("/")
            self._client = client
        return self._client

    def send(self, batch: Sequence[Outgoing]) -> Iterator[SendResult]:
        """One result per item, yielded as soon as the provider answered it (see base)."""
        missing = self._missing()
        if missing:
            error = f"Twilio is not configured: set {', '.join(missing)}."
            for item in batch:
                yield SendResult(item.delivery_id, AttemptOutcome.PERMANENT, error=error)
            return
        client = self.client()
        for item in batch:
            yield self._send_one(client, item)

    def _send_one(self, client: Client, item: Outgoing) -> SendResult:
        sender = (
            {"messaging_service_sid": self.from_number}
            if self.from_number.startswith("MG")
            else {"from_": self.from_number}
        )
        started = time.monotonic()
        try:
            message = client.messages.create(to=item.address, body=item.parts["text"], **sender)
        except TwilioRestException as exc:
            transient = exc.status == 429 or exc.status >= 500
            code = f"{exc.code} " if exc.code else ""
            reason = exc.msg.removeprefix("Unable to create record: ")
            return SendResult(
                item.delivery_id,
                AttemptOutcome.TRANSIENT if transient else AttemptOutcome.PERMANENT,
                error=f"HTTP {exc.status}: {code}{reason}"[:500],
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        except (requests.RequestException, TwilioException) as exc:
            return SendResult(
                item.delivery_id,
                AttemptOutcome.TRANSIENT,
                error=(str(exc) or type(exc).__name__)[:500],
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        return SendResult(
            item.delivery_id,
            AttemptOutcome.SENT,
            provider_id=message.sid or "",
            duration_ms=int((time.monotonic() - started) * 1000),
        )
