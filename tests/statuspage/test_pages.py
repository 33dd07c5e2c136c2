"""The HTML pages, feeds and calendar a customer (or their tools) reads."""

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.incidents.models import Incident
from apps.incidents.services import incident_post_update, maintenance_cancel, maintenance_schedule

ATOM = "{http://www.w3.org/2005/Atom}"


def test_home_shows_status_groups_incidents_regions_and_maintenance(page, world) -> None:
    html = page.get("/").content.decode()
    assert "Major System Outage" in html
    assert "Payments failing" in html and "We found the cause." in html
    assert "Regions: EU" in html
    assert "API maintenance" in html and "Search upgrade" in html
    assert "Core" in html and "Extras" in html
    assert "Labs" not in html  # only shown when degraded
    assert "SECRET" not in html
    assert 'role="status"' in html and "<main" in html and 'aria-label="Status page links"' in html
    assert html.count('class="day ') >= 90 * 3  # 90 days per shown component


def test_uptime_bars_show_the_days_incidents(page, world) -> None:
    html = page.get("/").content.decode()
    assert "Slow search" in html  # resolved today, named in today's bar of Search
    assert "% uptime" in html


def test_incident_page_shows_the_public_timeline_only(page, world) -> None:
    response = page.get(f"/incidents/{world['p1'].pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "We are investigating failed card payments." in html and "We found the cause." in html
    assert "SECRET" not in html


def test_triage_and_child_incidents_are_not_public(page, world) -> None:
    assert page.get(f"/incidents/{world['triage'].pk}/").status_code == 404
    assert page.get("/incidents/999999/").status_code == 404


def test_history_lists_resolved_incidents_by_month(page, world) -> None:
    html = page.get("/history/").content.decode()
    assert "Slow search" in html and f"{timezone.now():%B %Y}" in html
    assert "Payments failing" not in html  # still open


def test_atom_feed_is_valid_with_one_entry_per_public_update(page, world) -> None:
    response = page.get("/history.atom")
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    assert root.find(f"{ATOM}id").text and root.find(f"{ATOM}updated").text
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 4  # 2 updates of the P1, 2 of the resolved P3
    ids = [e.find(f"{ATOM}id").text for e in entries]
    assert len(set(ids)) == 4 and all(i.startswith("tag:") for i in ids)
    assert all(e.find(f"{ATOM}updated").text for e in entries)
    assert b"SECRET" not in response.content


def test_rss_feed_is_valid_rss2(page, world) -> None:
    root = ET.fromstring(page.get("/history.rss").content)
    assert root.tag == "rss" and root.get("version") == "2.0"
    items = root.find("channel").findall("item")
    assert len(items) == 4
    assert all(i.find("guid").text and i.find("pubDate").text for i in items)


def test_calendar_has_one_event_per_window_and_marks_cancelled_ones(page, world) -> None:
    now = timezone.now()
    dropped = maintenance_schedule(
        title="Dropped work",
        services=["api"],
        scheduled_start=now + timedelta(days=5),
        scheduled_end=now + timedelta(days=5, hours=1),
        actor="t",
    )
    maintenance_cancel(window=dropped, actor="t")
    from apps.statuspage import store

    store.version_bump("test")
    response = page.get("/maintenance.ics")
    assert response["Content-Type"].startswith("text/calendar")
    text = response.content.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "VERSION:2.0" in text and "PRODID:" in text
    unfolded = text.replace("\r\n ", "")
    events = unfolded.split("BEGIN:VEVENT")[1:]
    assert len(events) == 3
    for event in events:
        for field in (
            "UID:",
            "DTSTAMP:",
            "DTSTART:",
            "DTEND:",
            "SUMMARY:",
            "DESCRIPTION:",
            "URL:",
            "STATUS:",
        ):
            assert f"\r\n{field}" in event
        assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    cancelled = next(e for e in events if "SUMMARY:Dropped work" in e)
    assert "STATUS:CANCELLED" in cancelled
    assert "Nothing to do\\; reports run later." in unfolded  # escaped text


def test_a_posted_update_shows_on_the_next_request(page, world, django_capture_on_commit_callbacks):
    assert "Fix is rolling out" not in page.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        incident_post_update(
            incident=Incident.objects.get(pk=world["p1"].pk), body="Fix is rolling out.", actor="t"
        )
    assert "Fix is rolling out" in page.get("/").content.decode()
    body = page.get("/api/v2/incidents/unresolved.json").json()
    assert body["incidents"][0]["incident_updates"][0]["body"] == "Fix is rolling out."


def test_an_unchanged_page_is_rendered_once(page, world, django_assert_max_num_queries) -> None:
    page.get("/api/v2/summary.json")
    with django_assert_max_num_queries(2):  # host routing only; the body comes from the cache
        page.get("/api/v2/summary.json")


def test_branding_logo_accent_and_footer_links(page, world, django_capture_on_commit_callbacks):
    from django.core.exceptions import ValidationError

    from apps.statuspage.models import PageBranding

    with django_capture_on_commit_callbacks(execute=True):
        PageBranding.objects.create(
            pk=1,
            logo_url="https://cdn.test.example/logo.svg",
            accent_color="#aa3300",
            footer_links=[{"label": "Privacy", "url": "https://test.example/privacy"}],
        )
    html = page.get("/").content.decode()
    assert '<img src="https://cdn.test.example/logo.svg" alt="Test Tenant"' in html
    assert "--accent: #aa3300" in html
    assert '<a href="https://test.example/privacy">Privacy</a>' in html
    bad = PageBranding(pk=1, accent_color="red", footer_links=[{"label": "x", "url": "ftp://x"}])
    with pytest.raises(ValidationError) as caught:
        bad.full_clean()
    assert (
        "accent_color" in caught.value.message_dict and "footer_links" in caught.value.message_dict
    )


def day_labels(html: str, component: str) -> list[str]:
    """The per-day texts of a component's uptime bars, oldest first."""
    block = next(
        b
        for b in html.split('<div class="component">')[1:]
        if f'<span class="name">{component}</span>' in b
    )
    return re.findall(r'class="day [^"]*"[^>]*-label="([^"]*)"', block)


def test_the_uptime_bars_move_on_at_midnight(page, world, monkeypatch) -> None:
    today = timezone.now()
    before = day_labels(page.get("/").content.decode(), "Search")
    assert len(before) == 90 and "Slow search" in before[-1]  # resolved today
    tomorrow = today + timedelta(days=1)
    with monkeypatch.context() as m:
        m.setattr(timezone, "now", lambda: tomorrow)  # nothing changed but the clock
        after = day_labels(page.get("/").content.decode(), "Search")
    assert len(after) == 90
    assert after[-1] == f"{tomorrow:%b} {tomorrow.day}: no incidents"
    assert "Slow search" in after[-2]


def test_home_has_a_heading_a_skip_link_and_days_off_the_tab_order(page, world) -> None:
    html = page.get("/").content.decode()
    headings = re.findall(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert len(headings) == 1
    assert "Test Tenant status" in headings[0] and "Major System Outage" in headings[0]
    assert re.search(r'<body>\s*<a class="skip-link" href="#main">Skip to main content</a>', html)
    assert '<main id="main"' in html
    assert "tabindex" not in html  # 90 days a component are no keyboard stops
    # The days' details stay available: a summary on the bar group, the days as text.
    assert 'role="img" aria-label="Search: ' in html
    assert re.search(r'<details class="uptime-days[^>]*>.*?Slow search.*?</details>', html, re.S)
