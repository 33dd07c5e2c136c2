"""RFC 5545 calendar of maintenance windows (no dependency: the format is small)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from django.utils import timezone

from apps.incidents.choices import MaintenanceStatus
from apps.incidents.models import MaintenanceWindow

STATUS = {
    MaintenanceStatus.SCHEDULED: "CONFIRMED",
    MaintenanceStatus.IN_PROGRESS: "CONFIRMED",
    MaintenanceStatus.VERIFYING: "CONFIRMED",
    MaintenanceStatus.COMPLETED: "CONFIRMED",
    MaintenanceStatus.CANCELLED: "CANCELLED",
}


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (3.1)."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    chunk = b""
    for char in line:
        encoded = char.encode()
        if len(chunk) + len(encoded) > (75 if not parts else 74):
            parts.append(chunk.decode())
            chunk = b""
        chunk += encoded
    parts.append(chunk.decode())
    return "\r\n ".join(parts)


def calendar(
    *, name: str, prodid: str, uid_domain: str, base_url: str, windows: Iterable[MaintenanceWindow]
) -> str:
    now = _stamp(timezone.now())
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{prodid}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_text(name)}",
    ]
    for window in windows:
        services = ", ".join(s.name for s in window.services.all())
        description = "\n".join(
            filter(
                None,
                [
                    window.description,
                    f"Affected: {services}" if services else "",
                    f"Expected impact: {window.get_expected_impact_display()}",
                    f"What to do: {window.customer_action}" if window.customer_action else "",
                ],
            )
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:maintenance-{window.pk}@{uid_domain}",
            f"DTSTAMP:{now}",
            f"LAST-MODIFIED:{_stamp(window.updated_at)}",
            f"DTSTART:{_stamp(window.scheduled_start)}",
            f"DTEND:{_stamp(window.scheduled_end)}",
            f"SUMMARY:{_text(window.title)}",
            f"DESCRIPTION:{_text(description)}",
            f"URL:{base_url}#maintenance-{window.pk}",
            f"STATUS:{STATUS[MaintenanceStatus(window.status)]}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
