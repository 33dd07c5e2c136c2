"""The status page in a real browser: Debian's Chromium driven by Playwright.

The page is served by a real server process on committed data (a tenant created for this
module and dropped after it), since a browser cannot see a test's open transaction.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection, connections
from django_tenants.utils import tenant_context

from apps.incidents.demo import seed as seed_catalog
from apps.incidents.models import Region
from apps.incidents.services import incident_open, incident_post_update
from apps.subscribers.models import Customer
from apps.tenants.models import Tenant
from apps.tenants.services import tenant_create
from config.embedded import BASE_DIR

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = BASE_DIR / "tests" / "artifacts"
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium package is not installed (apt-get install chromium)",
    ),
    pytest.mark.django_db,  # so that the test database exists for the server to read
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        tenant = tenant_create(slug="browser", name="Browser Cloud")
        with tenant_context(tenant):
            seed_catalog()
            incident = incident_open(
                title="Checkout errors",
                severity="P1",
                services={"payments": "major_outage"},
                regions=["eu"],
                body="We are investigating failed checkouts.",
                actor="test",
            )
            incident_post_update(
                incident=incident,
                status="identified",
                actor="test",
                body="A faulty deploy was rolled back.",
                internal_note="SECRET internal detail",
            )
            Customer.objects.create(
                name="Shop GmbH", external_key="shop-eu", region=Region.objects.get(code="eu")
            )
        connection.set_schema_to_public()
    port = _free_port()
    database = (
        urlsplit(os.environ["DATABASE_URL"])
        ._replace(path="/" + settings.DATABASES["default"]["NAME"])
        .geturl()
    )
    env = {**os.environ, "DATABASE_URL": database, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--insecure"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://browser.localhost:{port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/", headers={"Host": f"browser.localhost:{port}"}
            )
            urllib.request.urlopen(request, timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    yield {"url": url, "incident": incident, "port": port}
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=10)
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            for _ in range(100):  # the server's sessions end a moment after the process
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                    "current_database() AND pid <> pg_backend_pid()"
                )
                if cursor.fetchone()[0] == 0:
                    break
                time.sleep(0.05)
            cursor.execute('DROP SCHEMA IF EXISTS "browser" CASCADE')
        Tenant.objects.filter(slug="browser").delete()


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop running in this thread, which makes
    # Django refuse database calls (the test transaction's rollback among them).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--host-resolver-rules=MAP *.localhost 127.0.0.1",
            ],
        )
        yield chromium
        chromium.close()
        # With Playwright's loop running, Django's connection-per-context gave the tests
        # their own connection: close it here, in that context.
        connections.close_all()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def test_status_page_renders_in_chromium(site, browser) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 1600})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    response = page.goto(site["url"])
    assert response is not None and response.status == 200
    assert page.title() == "Browser Cloud status"
    heading = page.locator("h1")
    assert heading.count() == 1 and heading.locator("[role=status]").inner_text() == (
        "Major System Outage"
    )
    assert "Browser Cloud status" in heading.text_content()  # for screen readers
    assert page.locator("#active-incidents").is_visible()
    assert "Regions: EU" in page.locator(".incident").first.inner_text()
    # The script rewrote UTC times in the reader's zone.
    first_time = page.locator("time").first
    assert first_time.inner_text() != first_time.get_attribute("datetime")
    # Uptime bars: 90 a component, one summarised image each, and not keyboard stops.
    uptime = page.locator(".uptime").first
    assert uptime.locator(".day").count() == 90
    assert uptime.get_attribute("role") == "img" and "% uptime" in uptime.get_attribute(
        "aria-label"
    )
    assert page.locator(".uptime-days", has_text="Checkout errors").count() == 1
    # The first Tab reaches the skip link, which leads into the main content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)")
    stops = []
    for _ in range(200):
        page.keyboard.press("Tab")
        stop = page.evaluate("document.activeElement.className || document.activeElement.tagName")
        if stop == "BODY" or page.evaluate("document.activeElement.closest('footer') !== null"):
            break
        stops.append(stop)
    assert not [s for s in stops if "day" in s.split()]
    assert len(stops) < 30  # was 90 stops per component
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "statuspage.png"), full_page=True)
    assert "SECRET" not in page.content()
    assert problems == []


def test_incident_timeline_in_chromium(site, browser) -> None:
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(site["url"])
    page.click("text=Checkout errors")
    page.wait_for_url(f"**/incidents/{site['incident'].pk}/")
    timeline = page.locator(".timeline li")
    assert timeline.count() == 2
    assert "A faulty deploy was rolled back." in timeline.first.inner_text()
    assert "SECRET" not in page.content()
    page.screenshot(path=str(ARTIFACTS / "incident.png"), full_page=True)
    assert problems == []


def test_without_javascript_the_page_still_reads(site, browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site["url"])
    assert "Checkout errors" in page.inner_text("main")
    assert page.locator("time").first.inner_text().endswith("Z")  # UTC, as served
    context.close()


def test_chromium_is_the_debian_package() -> None:
    assert shutil.which("chromium") == CHROMIUM


def test_the_in_app_widget_shows_and_dismisses_banners(site, browser) -> None:
    """The widget embedded in the tenant's own product (another origin)."""
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    script = f"http://browser.localhost:{site['port']}/widget.js"
    product = (
        "<html><head><title>Product</title></head><body><main>App</main>"
        f'<script src="{script}" data-customer="shop-eu"></script></body></html>'
    )

    class Product(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = product.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Product)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page.goto(f"http://product.localhost:{server.server_address[1]}/")
    banner = page.locator("[aria-label='Service status'] [role=status]")
    banner.first.wait_for(timeout=10000)
    assert "Checkout errors" in banner.first.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget.png"))
    page.click("text=Dismiss")
    assert banner.count() == 0
    page.reload()
    page.wait_for_load_state("networkidle")
    assert banner.count() == 0  # remembered
    assert problems == []
    context.close()
    server.shutdown()
