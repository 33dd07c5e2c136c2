"""The tenant's incident analytics: the numbers behind the admin's analytics page, its CSV
exports and `/api/v1/analytics/` (all three read `analytics()`, so they always agree).

Months are calendar months in UTC, oldest first. Incidents are top-level and not false
alarms; MTTA is detection to acknowledgement, MTTR start to resolution. Update cadence:
each public update after the first is on time when it was posted by the time the previous
one promised. Help-desk figures come from providers registered by the help-desk
integration (`ticket_stats`); without one they are zero.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.html import escape

from apps.communications.choices import DeliveryStatus
from apps.communications.models import Delivery
from apps.core.registry import Registry
from apps.incidents.choices import Severity
from apps.incidents.models import Incident, IncidentUpdate
from apps.postmortems.choices import CreditState
from apps.postmortems.models import SlaCredit
from apps.postmortems.sla import month_start, next_month

MAX_MONTHS = 36
# A provider returns {"YYYY-MM": {"flagged": n, "auto_closed": n}} for the months asked.
TicketStats = Callable[[datetime, datetime], dict[str, dict[str, int]]]
ticket_stats: Registry[TicketStats] = Registry("help-desk ticket statistics provider")

CHARTS: dict[str, tuple[str, str]] = {
    # key: (title, unit)
    "mtta": ("Mean time to acknowledge, by severity", "minutes"),
    "mttr": ("Mean time to resolve, by severity", "minutes"),
    "incidents": ("Incidents by severity", "incidents"),
    "update_cadence": ("Updates sent on time", "%"),
    "sla_credits": ("SLA credits", "amount"),
    "deliveries": ("Deliveries by channel", "deliveries"),
    "tickets": ("Help-desk tickets flagged and auto-closed", "tickets"),
}


def _month(value: datetime) -> str:
    return value.strftime("%Y-%m")


def _minutes(value: Any) -> float | None:
    return round(value.total_seconds() / 60, 1) if value is not None else None


def _by_severity(qs: Any, field: str, duration: Any) -> list[dict[str, Any]]:
    rows = (
        qs.filter(**{f"{field}__isnull": False})
        .annotate(month=TruncMonth("started_at"), took=ExpressionWrapper(duration, DurationField()))
        .values("month", "severity")
        .annotate(mean=Avg("took"), incidents=Count("id"))
        .order_by("month", "severity")
    )
    return [
        {
            "month": _month(r["month"]),
            "severity": r["severity"],
            "minutes": _minutes(r["mean"]),
            "incidents": r["incidents"],
        }
        for r in rows
    ]


def _cadence(start: datetime, end: datetime, months: list[str]) -> list[dict[str, Any]]:
    counts = {m: [0, 0] for m in months}  # month -> [on time, measured]
    updates = (
        IncidentUpdate.objects.filter(
            incident__parent__isnull=True,
            incident__false_alarm=False,
            display_at__lt=end,
            display_at__gte=start - (end - start),  # a promise made just before the window
        )
        .exclude(body="")
        .order_by("incident_id", "display_at", "id")
        .values_list("incident_id", "display_at", "next_update_at")
    )
    previous: dict[int, datetime | None] = {}
    for incident_id, shown, promised_next in updates:
        promised = previous.get(incident_id)
        month = _month(shown)
        if incident_id in previous and promised is not None and month in counts:
            counts[month][1] += 1
            counts[month][0] += shown <= promised
        previous[incident_id] = promised_next
    return [
        {
            "month": m,
            "on_time": on_time,
            "updates": measured,
            "share_pct": round(100 * on_time / measured, 1) if measured else None,
        }
        for m, (on_time, measured) in counts.items()
    ]


def analytics(*, months: int = 12, now: datetime | None = None) -> dict[str, Any]:
    """Every chart's rows for the last `months` calendar months (this one included)."""
    now = now or timezone.now()
    first = month_start(now)
    for _ in range(months - 1):
        first = month_start(first - timedelta(days=1))
    end = next_month(month_start(now))
    month_keys = []
    cursor = first
    while cursor < end:
        month_keys.append(_month(cursor))
        cursor = next_month(cursor)
    incidents = Incident.objects.filter(
        parent__isnull=True, false_alarm=False, started_at__gte=first, started_at__lt=end
    )
    mtta = _by_severity(incidents, "acknowledged_at", F("acknowledged_at") - F("detected_at"))
    mttr = _by_severity(incidents, "resolved_at", F("resolved_at") - F("started_at"))
    by_severity = [
        {"month": _month(r["month"]), "severity": r["severity"], "incidents": r["n"]}
        for r in incidents.annotate(month=TruncMonth("started_at"))
        .values("month", "severity")
        .annotate(n=Count("id"))
        .order_by("month", "severity")
    ]
    credits = [
        {
            "month": r["month"].strftime("%Y-%m"),
            "currency": r["currency"],
            "amount": str(r["amount"].quantize(Decimal("0.01"))),
            "credits": r["n"],
            "customers": r["customers"],
        }
        for r in SlaCredit.objects.filter(month__gte=first.date(), month__lt=end.date())
        .exclude(state=CreditState.WAIVED)
        .values("month", "currency")
        .annotate(amount=Sum("amount"), n=Count("id"), customers=Count("customer", distinct=True))
        .order_by("month", "currency")
    ]
    deliveries = [
        {
            "month": _month(r["month"]),
            "channel": r["channel"],
            "sent": r["sent"],
            "failed": r["failed"],
            "total": r["total"],
        }
        for r in Delivery.objects.filter(created_at__gte=first, created_at__lt=end)
        .annotate(month=TruncMonth("created_at"))
        .values("month", "channel")
        .annotate(
            sent=Count("id", filter=Q(status=DeliveryStatus.SENT)),
            failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
            total=Count("id"),
        )
        .order_by("month", "channel")
    ]
    tickets: dict[str, dict[str, int]] = defaultdict(lambda: {"flagged": 0, "auto_closed": 0})
    for _, provider in ticket_stats.items():
        for month, values in provider(first, end).items():
            for name in ("flagged", "auto_closed"):
                tickets[month][name] += int(values.get(name, 0))
    return {
        "months": month_keys,
        "mtta": mtta,
        "mttr": mttr,
        "incidents": by_severity,
        "update_cadence": _cadence(first, end, month_keys),
        "sla_credits": credits,
        "deliveries": deliveries,
        "tickets": [{"month": m, **tickets[m]} for m in month_keys],
    }


def chart_csv(rows: list[dict[str, Any]]) -> str:
    """A chart's rows as CSV (columns in the rows' order)."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


# --- SVG ------------------------------------------------------------------------------------

PALETTE = ("#c0392b", "#e67e22", "#2980b9", "#7f8c8d", "#27ae60", "#8e44ad", "#16a085")


def chart_series(key: str, data: dict[str, Any]) -> dict[str, list[float]]:
    """The chart's series: name -> one value per month."""
    months = data["months"]
    series: dict[str, list[float]] = {}

    def put(name: str, month: str, value: float | None) -> None:
        values = series.setdefault(name, [0.0] * len(months))
        if month in months and value is not None:
            values[months.index(month)] += float(value)

    for row in data[key]:
        if key in ("mtta", "mttr"):
            put(row["severity"], row["month"], row["minutes"])
        elif key == "incidents":
            put(row["severity"], row["month"], row["incidents"])
        elif key == "update_cadence":
            put("on time", row["month"], row["share_pct"])
        elif key == "sla_credits":
            put(row["currency"], row["month"], float(row["amount"]))
        elif key == "deliveries":
            put(row["channel"], row["month"], row["total"])
        elif key == "tickets":
            put("flagged", row["month"], row["flagged"])
            put("auto-closed", row["month"], row["auto_closed"])
    if key in ("mtta", "mttr", "incidents"):
        series = {s: series.get(s, [0.0] * len(months)) for s in Severity.values if s in series}
    return series


def bar_chart_svg(
    *, title: str, unit: str, months: list[str], series: dict[str, list[float]]
) -> str:
    """A grouped bar chart drawn server-side: one group per month, one bar per series,
    with a legend and the values in each bar's tooltip (<title>)."""
    width, height, left, bottom, top = 720, 260, 48, 40, 30
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((v for values in series.values() for v in values), default=0) or 1
    group_w = plot_w / max(len(months), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#999"/>',
        f'<text x="4" y="{top + 10}" font-size="10">{peak:g} {escape(unit)}</text>',
    ]
    for m, month in enumerate(months):
        x0 = left + m * group_w + group_w * 0.1
        for s, (name, values) in enumerate(series.items()):
            value = values[m]
            h = plot_h * value / peak
            parts.append(
                f'<rect x="{x0 + s * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                f"<title>{escape(month)} {escape(name)}: {value:g} {escape(unit)}</title></rect>"
            )
        parts.append(
            f'<text x="{left + m * group_w + group_w / 2:.1f}" y="{top + plot_h + 14}" '
            f'font-size="9" text-anchor="middle">{escape(month)}</text>'
        )
    for s, name in enumerate(series):
        x = left + s * 110
        parts.append(
            f'<rect x="{x}" y="{height - 14}" width="10" height="10" '
            f'fill="{PALETTE[s % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="{height - 5}" font-size="10">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
