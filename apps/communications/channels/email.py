"""E-mail through Django's mail backends: SMTP by `EMAIL_URL`, or an anymail ESP backend
(SES, SendGrid, Mailgun, ...) by `EMAIL_BACKEND`. One connection serves a whole batch.

Every message carries `List-Unsubscribe` (the subscriber's one-click link) and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), a text and an HTML part, and
a Message-ID derived from the delivery's idempotency key, so a receiving system can tell a
resend of the same notification.
"""

from __future__ import annotations

import contextlib
import smtplib
import time
from collections.abc import Iterator, Sequence

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from apps.communications.channels.base import Capabilities, Channel, Outgoing, SendResult
from apps.communications.choices import AttemptOutcome


def describe(exc: BaseException) -> str:
    """A failure in words: `550 5.1.1 No such mailbox` rather than Python's repr."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{code} {message.decode(errors='replace') if isinstance(message, bytes) else message}"
            for code, message in exc.recipients.values()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error
        text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
        return f"{exc.smtp_code} {text}"
    return str(exc) or type(exc).__name__


def classify(exc: BaseException) -> AttemptOutcome:
    """Transient: a 4xx SMTP reply, 429/5xx from an API, a dropped connection, a timeout.
    Permanent: a 5xx SMTP reply, a refused recipient, any other 4xx from an API."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return (
            AttemptOutcome.TRANSIENT
            if codes and all(400 <= c < 500 for c in codes)
            else AttemptOutcome.PERMANENT
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return AttemptOutcome.TRANSIENT if 400 <= exc.smtp_code < 500 else AttemptOutcome.PERMANENT
    status = getattr(exc, "status_code", None)  # anymail's AnymailAPIError
    if isinstance(status, int):
        transient = status == 429 or status >= 500
        return AttemptOutcome.TRANSIENT if transient else AttemptOutcome.PERMANENT
    if type(exc).__name__ == "AnymailRecipientsRefused":
        return AttemptOutcome.PERMANENT
    return AttemptOutcome.TRANSIENT  # connection errors, timeouts


class EmailChannel(Channel):
    key = "email"
    capabilities = Capabilities(html=True, threading=True)
    parts = ("subject", "text", "html")

    def send(self, batch: Sequence[Outgoing]) -> Iterator[SendResult]:
        """One result per item, yielded as soon as the server answered it."""
        connection = get_connection(fail_silently=False)
        try:
            connection.open()
        except (OSError, smtplib.SMTPException) as exc:
            for o in batch:
                yield SendResult(
                    o.delivery_id, AttemptOutcome.TRANSIENT, error=f"cannot connect: {exc}"[:500]
                )
            return
        try:
            for item in batch:
                yield self._send_one(connection, item)
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                connection.close()

    def _send_one(self, connection: object, item: Outgoing) -> SendResult:
        domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">") or "clarion.local"
        message = EmailMultiAlternatives(
            subject=item.parts.get("subject", ""),
            body=item.parts.get("text", ""),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[item.address],
            headers={"Message-ID": f"<{item.idempotency_key}@{domain}>", **item.headers},
            connection=connection,  # type: ignore[arg-type]
        )
        if item.parts.get("html"):
            message.attach_alternative(item.parts["html"], "text/html")
        started = time.monotonic()
        try:
            message.send()
        except Exception as exc:
            if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
                self._reopen(connection)
            return SendResult(
                item.delivery_id,
                classify(exc),
                error=describe(exc)[:500],
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        status = getattr(message, "anymail_status", None)
        provider_id = getattr(status, "message_id", None) or message.extra_headers["Message-ID"]
        return SendResult(
            item.delivery_id,
            AttemptOutcome.SENT,
            provider_id=str(provider_id),
            duration_ms=int((time.monotonic() - started) * 1000),
        )

    @staticmethod
    def _reopen(connection: object) -> None:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            connection.close()  # type: ignore[attr-defined]
            connection.open()  # type: ignore[attr-defined]
