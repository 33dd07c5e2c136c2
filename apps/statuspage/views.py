"""The public status page: HTML, Statuspage v2-compatible JSON, feeds and calendar.

Every cacheable response is built by a `build_*` function and served through
`store.rendered`, so it is rendered once per change of the tenant's public state (and, for
what also depends on the clock, `TIMED_PATHS` and the banners, once per time slot).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_safe

from apps.core.tenancy import current_schema, current_tenant
from apps.incidents.choices import ACTIVE_MAINTENANCE, OPEN_STATUSES, MaintenanceStatus
from apps.statuspage import banner as banner_module
from apps.statuspage import ical, selectors, store
from apps.tenants.selectors import tenant_url

JSON = "application/json"
CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=30"
# Pages whose content moves with the clock alone: the home page's uptime bars (a new day,
# the growing downtime of an open incident). The banners are timed too (see `banner`).
TIMED_PATHS = frozenset({"/"})


def base_url() -> str:
    port = settings.CLARION_PUBLIC_PORT
    return tenant_url(
        current_tenant(), scheme=settings.CLARION_PUBLIC_SCHEME, port=int(port) if port else None
    )


def page_id() -> str:
    return str(current_tenant().slug)


def _page() -> dict[str, Any]:
    return selectors.page_json(
        page_id=page_id(),
        name=current_tenant().name,
        url=base_url(),
        updated_at=selectors.last_change(),
    )


def _dump(data: dict[str, Any]) -> tuple[bytes, str]:
    return json.dumps(data, separators=(",", ":")).encode(), JSON


# --- builders (one per cacheable path) ------------------------------------------------------


Components = dict[int, dict[str, Any]]


def _components() -> Components:
    return selectors.components_by_service(page_id())


def _incidents(
    limit: int | None = 50, unresolved: bool = False, components: Components | None = None
) -> list[dict[str, Any]]:
    qs = selectors.public_incidents()
    if unresolved:
        qs = qs.filter(status__in=OPEN_STATUSES)
    if limit:
        qs = qs[:limit]
    incidents = list(qs)
    if incidents and components is None:
        components = _components()
    return [
        selectors.incident_json(i, page_id(), base_url(), components=components) for i in incidents
    ]


def _maintenances(kind: str = "all", components: Components | None = None) -> list[dict[str, Any]]:
    qs = selectors.public_maintenances()
    if kind == "upcoming":
        qs = qs.filter(status=MaintenanceStatus.SCHEDULED).order_by("scheduled_start")
    elif kind == "active":
        qs = qs.filter(status__in=ACTIVE_MAINTENANCE)
    elif kind == "open":
        qs = qs.filter(status__in=(MaintenanceStatus.SCHEDULED, *ACTIVE_MAINTENANCE))
    else:
        qs = qs[:50]
    windows = list(qs)
    if windows and components is None:
        components = _components()
    return [
        selectors.maintenance_json(m, page_id(), base_url(), components=components) for m in windows
    ]


def build_summary() -> tuple[bytes, str]:
    components = _components()
    incidents = _incidents(limit=None, unresolved=True, components=components)
    maintenances = _maintenances("open", components=components)
    return _dump(
        {
            "page": _page(),
            "components": selectors.components_json(page_id(), components),
            "incidents": incidents,
            "scheduled_maintenances": maintenances,
            "status": selectors.status_json(incidents, maintenances),
        }
    )


def build_status() -> tuple[bytes, str]:
    incidents = _incidents(limit=None, unresolved=True)
    return _dump(
        {"page": _page(), "status": selectors.status_json(incidents, _maintenances("active"))}
    )


def build_components() -> tuple[bytes, str]:
    return _dump({"page": _page(), "components": selectors.components_json(page_id())})


def build_incidents() -> tuple[bytes, str]:
    return _dump({"page": _page(), "incidents": _incidents()})


def build_unresolved() -> tuple[bytes, str]:
    return _dump({"page": _page(), "incidents": _incidents(limit=None, unresolved=True)})


def _maintenance_builder(kind: str) -> Callable[[], tuple[bytes, str]]:
    def build() -> tuple[bytes, str]:
        return _dump({"page": _page(), "scheduled_maintenances": _maintenances(kind)})

    return build


def build_home() -> tuple[bytes, str]:
    shared = _components()
    incidents = _incidents(limit=None, unresolved=True, components=shared)
    maintenances = _maintenances("open", components=shared)
    components = selectors.components_json(page_id(), shared)
    uptime = selectors.uptime_by_service()
    services = {s.slug: s for s in selectors.Service.objects.all()}
    groups: list[dict[str, Any]] = []
    loose: list[dict[str, Any]] = []
    by_id = {c["id"]: c for c in components}
    for component in sorted(components, key=lambda c: (c["position"], c["name"])):
        if component["group"]:
            members = [by_id[cid] for cid in component["components"]]
            groups.append(
                {
                    **component,
                    "members": [_with_uptime(m, services, uptime) for m in members if _shown(m)],
                }
            )
        elif component["group_id"] is None and _shown(component):
            loose.append(_with_uptime(component, services, uptime))
    html = render_to_string(
        "statuspage/home.html",
        {
            "tenant": current_tenant(),
            "branding": selectors.page_branding(),
            "status": selectors.status_json(incidents, maintenances),
            "incidents": incidents,
            "maintenances": maintenances,
            "groups": [g for g in groups if g["members"]],
            "loose": loose,
            "generated_at": timezone.now(),
        },
    )
    return html.encode(), "text/html; charset=utf-8"


def _shown(component: dict[str, Any]) -> bool:
    return not component["only_show_if_degraded"] or component["status"] != "operational"


def _with_uptime(
    component: dict[str, Any], services: dict[str, Any], uptime: dict[int, list[dict[str, Any]]]
) -> dict[str, Any]:
    days = uptime.get(services[component["id"]].pk, [])
    return {
        **component,
        "bars": _bars(days),
        "uptime": selectors.uptime_percent(days),
        # The same per-day text as a list, newest first: what keyboard, touch and screen
        # reader users read instead of hovering 90 bars.
        "incident_days": [_day_text(d) for d in reversed(days) if d["incidents"]],
    }


def _day_text(day: dict[str, Any]) -> str:
    text = "; ".join(day["incidents"]) or "no incidents"
    return f"{day['date']:%b} {day['date'].day}: {text}"


def _bars(days: list[dict[str, Any]]) -> SafeString:
    """One bar per day, its text (date and incidents) shown on hover; built here rather
    than in the template because a page has hundreds of them. Not focusable: the bar group
    is one image with a summary, and the days with incidents are listed as text."""
    bars = []
    for day in days:
        label = escape(_day_text(day))
        bars.append(f'<span class="day day-{day["status"]}" data-label="{label}"></span>')
    return mark_safe("".join(bars))  # noqa: S308 - every interpolated value is escaped above


def build_incident(incident_id: int) -> Callable[[], tuple[bytes, str]]:
    def build() -> tuple[bytes, str]:
        incident = selectors.public_incidents().filter(pk=incident_id).first()
        if incident is None:
            return b"", "not-found"
        html = render_to_string(
            "statuspage/incident.html",
            {
                "tenant": current_tenant(),
                "branding": selectors.page_branding(),
                "incident": selectors.incident_json(incident, page_id(), base_url()),
            },
        )
        return html.encode(), "text/html; charset=utf-8"

    return build


def _feed(feed_class: type[Atom1Feed] | type[Rss201rev2Feed]) -> tuple[bytes, str]:
    tenant = current_tenant()
    url = base_url()
    feed = feed_class(
        title=f"{tenant.name} status - incident history",
        link=url,
        description=f"Incidents and their updates on the {tenant.name} status page.",
        language="en",
        feed_url=f"{url}history.{'atom' if feed_class is Atom1Feed else 'rss'}",
        feed_guid=f"tag:{settings.CLARION_BASE_DOMAIN},2026:{tenant.slug}:history",
    )
    for incident in selectors.public_incidents()[:50]:
        for update in incident.public_updates:
            feed.add_item(
                title=f"{incident.title}: {update.get_status_display()}",
                link=f"{url}incidents/{incident.pk}/",
                description=update.body,
                unique_id=f"tag:{settings.CLARION_BASE_DOMAIN},2026:{tenant.slug}:"
                f"incident-{incident.pk}:update-{update.pk}",
                unique_id_is_permalink=False,
                pubdate=update.display_at,
                updateddate=update.display_at,
            )
    content_type = "application/atom+xml" if feed_class is Atom1Feed else "application/rss+xml"
    return feed.writeString("utf-8").encode(), f"{content_type}; charset=utf-8"


def build_atom() -> tuple[bytes, str]:
    return _feed(Atom1Feed)


def build_rss() -> tuple[bytes, str]:
    return _feed(Rss201rev2Feed)


def build_ics() -> tuple[bytes, str]:
    tenant = current_tenant()
    windows = selectors.public_maintenances().model.objects.order_by("scheduled_start")
    return ical.calendar(
        name=f"{tenant.name} maintenance",
        prodid=f"-//Clarion//{tenant.slug} maintenance//EN",
        uid_domain=f"{tenant.slug}.{settings.CLARION_BASE_DOMAIN}",
        base_url=base_url(),
        windows=windows.prefetch_related("services"),
    ).encode(), "text/calendar; charset=utf-8"


BUILDERS: dict[str, Callable[[], tuple[bytes, str]]] = {
    "/": build_home,
    "/api/v2/summary.json": build_summary,
    "/api/v2/status.json": build_status,
    "/api/v2/components.json": build_components,
    "/api/v2/incidents.json": build_incidents,
    "/api/v2/incidents/unresolved.json": build_unresolved,
    "/api/v2/scheduled-maintenances.json": _maintenance_builder("all"),
    "/api/v2/scheduled-maintenances/upcoming.json": _maintenance_builder("upcoming"),
    "/api/v2/scheduled-maintenances/active.json": _maintenance_builder("active"),
    "/history.atom": build_atom,
    "/history.rss": build_rss,
    "/maintenance.ics": build_ics,
}


# --- HTTP -----------------------------------------------------------------------------------


def respond(request: HttpRequest, entry: store.Rendered) -> HttpResponse:
    """The cached bytes with validators, or a 304 when the client's copy is current."""
    last_modified = formatdate(entry.last_modified, usegmt=True)
    if not_modified(
        request.META.get("HTTP_IF_NONE_MATCH"), request.META.get("HTTP_IF_MODIFIED_SINCE"), entry
    ):
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(entry.body, content_type=entry.content_type)
    response["ETag"] = entry.etag
    response["Last-Modified"] = last_modified
    response["Cache-Control"] = CACHE_CONTROL
    response["Access-Control-Allow-Origin"] = "*"
    return response


def not_modified(
    if_none_match: str | None, if_modified_since: str | None, entry: store.Rendered
) -> bool:
    if if_none_match is not None:
        return entry.etag in [t.strip() for t in if_none_match.split(",")] or if_none_match == "*"
    if if_modified_since:
        try:
            return parsedate_to_datetime(if_modified_since).timestamp() >= int(entry.last_modified)
        except (TypeError, ValueError):
            return False
    return False


@require_safe
def cached(request: HttpRequest) -> HttpResponse:
    build = BUILDERS[request.path]
    entry = store.rendered(current_schema(), request.path, build, timed=request.path in TIMED_PATHS)
    return respond(request, entry)


@require_safe
def incident_page(request: HttpRequest, incident_id: int) -> HttpResponse:
    entry = store.rendered(current_schema(), request.path, build_incident(incident_id))
    if entry.content_type == "not-found":
        raise Http404("No such public incident.")
    return respond(request, entry)


@require_safe
def banner(request: HttpRequest) -> HttpResponse:
    """`/api/v2/banner.json?customer=<key>`: the banners that customer should see. Cached
    per customer; invalidated with the rest of the page, by changes to customers, their
    subscriptions and the severity policy, and by the clock (a window coming within a day)."""
    customer = request.GET.get("customer", "")[:100]
    if customer and not banner_module.Customer.objects.filter(external_key=customer).exists():
        customer = ""  # unknown keys share the global banners (and one cache entry)

    def build() -> tuple[bytes, str]:
        data = {
            "page": _page(),
            "banners": banner_module.banners_for(
                customer or None, page_id=page_id(), base_url=base_url()
            ),
        }
        return _dump(data)

    entry = store.rendered(current_schema(), f"/banner?{customer}", build, timed=True, banners=True)
    return respond(request, entry)


@require_safe
def widget(request: HttpRequest) -> HttpResponse:
    """The embeddable banner script, from this host so that it fetches this tenant."""
    with open(finders.find("clarion/widget.js") or "", "rb") as handle:
        body = handle.read()
    entry = store.make_entry(0, body, "text/javascript; charset=utf-8")
    response = respond(request, entry)
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_safe
def history(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(selectors.public_incidents().filter(status="resolved"), 20)
    page = paginator.get_page(request.GET.get("page"))
    months: dict[str, list[dict[str, Any]]] = {}
    components = _components() if page.object_list else None
    for incident in page.object_list:
        months.setdefault(f"{incident.started_at:%B %Y}", []).append(
            selectors.incident_json(incident, page_id(), base_url(), components=components)
        )
    html = render_to_string(
        "statuspage/history.html",
        {
            "tenant": current_tenant(),
            "branding": selectors.page_branding(),
            "months": months,
            "page": page,
        },
        request=request,
    )
    response = HttpResponse(html)
    response["Cache-Control"] = CACHE_CONTROL
    return response
