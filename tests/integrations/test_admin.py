"""Integrations in the tenant admin: creating one shows its credentials once, rules are
edited there, and the inbox holds what no rule matched."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from apps.integrations.choices import EventStatus, Source
from apps.integrations.models import InboundEvent, Integration, RoutingRule
from tests.conftest import TEST_HOST
from tests.factories import UserFactory
from tests.integrations.conftest import add_rule, am_alert, am_payload, process_pending

INTEGRATIONS = "/admin/integrations/integration/"
RULES = "/admin/integrations/routingrule/"
INBOX = "/admin/integrations/unroutedevent/"
EVENTS = "/admin/integrations/inboundevent/"
SETTINGS = {
    "default_severity": "P3",
    "grouping_window_minutes": "10",
    "quiet_period_minutes": "30",
    "flapping_threshold": "3",
    "flapping_window_minutes": "30",
}


@pytest.fixture
def admin(tenant_db) -> Client:
    client = Client(HTTP_HOST=TEST_HOST)
    client.force_login(UserFactory(is_superuser=True))
    return client


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def test_creating_an_integration_shows_its_hook_url_and_secret_once(admin) -> None:
    response = admin.post(
        INTEGRATIONS + "add/",
        {"source": "alertmanager", "name": "Prod", "enabled": "on", **SETTINGS},
        follow=True,
    )
    page = text(response)
    integration = Integration.objects.get()
    assert f"http://{TEST_HOST}/hooks/alertmanager/{integration.token}/" in page
    assert integration.secret in page
    assert "not shown again" in page
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM integrations_integration")
        [(stored,)] = cursor.fetchall()
    assert integration.secret not in stored  # encrypted at rest
    again = text(admin.get(INTEGRATIONS + f"{integration.pk}/change/"))
    assert integration.secret not in again
    assert integration.hook_path in again


def test_a_vendor_secret_is_pasted_and_never_shown(admin) -> None:
    response = admin.post(
        INTEGRATIONS + "add/",
        {"source": "pagerduty", "name": "PD", "new_secret": "pd-generated-secret", **SETTINGS},
        follow=True,
    )
    page = text(response)
    assert "the one PagerDuty generated" in page
    assert "pd-generated-secret" not in page
    assert Integration.objects.get().secret == "pd-generated-secret"


def test_a_second_integration_for_the_same_tool_is_refused_on_the_form(admin) -> None:
    admin.post(INTEGRATIONS + "add/", {"source": "grafana", "name": "G", **SETTINGS})
    response = admin.post(INTEGRATIONS + "add/", {"source": "grafana", "name": "G2", **SETTINGS})
    assert response.status_code == 200
    assert "already has an integration for this tool" in text(response)
    assert Integration.objects.count() == 1


def test_editing_changes_settings_and_an_empty_secret_keeps_the_old_one(admin) -> None:
    admin.post(INTEGRATIONS + "add/", {"source": "sentry", "name": "S", **SETTINGS})
    integration = Integration.objects.get()
    assert integration.secret == ""
    change = INTEGRATIONS + f"{integration.pk}/change/"
    admin.post(change, {"name": "Sentry", "new_secret": "client-secret", **SETTINGS})
    admin.post(change, {"name": "Sentry", **SETTINGS, "quiet_period_minutes": "45"})
    integration.refresh_from_db()
    assert integration.secret == "client-secret"
    assert integration.quiet_period_minutes == 45
    assert not integration.enabled  # the checkbox was left unticked


def test_rotating_stops_the_old_url_and_secret(admin, hooks) -> None:
    admin.post(
        INTEGRATIONS + "add/",
        {"source": "alertmanager", "name": "P", "enabled": "on", **SETTINGS},
    )
    old = Integration.objects.get()
    response = admin.post(
        INTEGRATIONS,
        {"action": "rotate", "_selected_action": [old.pk]},
        follow=True,
    )
    new = Integration.objects.get()
    assert new.token != old.token and new.secret != old.secret
    assert new.secret in text(response)
    assert hooks.post(old, old.secret, am_payload(am_alert("f1"))).status_code == 401
    assert hooks.post(new, new.secret, am_payload(am_alert("f1"))).status_code == 202


def test_a_rule_needs_services_and_workable_matchers(admin, catalog) -> None:
    response = admin.post(
        RULES + "add/",
        {
            "name": "API",
            "position": "0",
            "enabled": "on",
            "matchers": '{"service": "~(api"}',
            "component_status": "major_outage",
        },
    )
    page = text(response)
    assert "Choose the services" in page
    assert "regular expression" in page
    api = catalog["services"]["api"]
    response = admin.post(
        RULES + "add/",
        {
            "name": "API",
            "position": "0",
            "enabled": "on",
            "matchers": '{"service": "api"}',
            "services": [api.pk],
            "component_status": "major_outage",
        },
    )
    assert response.status_code == 302
    assert list(RoutingRule.objects.get().services.all()) == [api]


def test_the_inbox_lists_unrouted_alerts_and_processes_them_again(
    admin, fire, catalog, django_capture_on_commit_callbacks
) -> None:
    add_rule("API", {"service": "api"}, ["api"])
    fire(am_alert("routed", service="api"), am_alert("lost", service="billing"))
    page = text(admin.get(INBOX))
    assert "service=billing" in page
    assert "No routing rule matched" in page
    assert len(re.findall(r'name="_selected_action"', page)) == 1
    add_rule("Billing", {"service": "billing"}, ["payments"])
    lost = InboundEvent.objects.get(status=EventStatus.UNROUTED)
    with django_capture_on_commit_callbacks():
        response = admin.post(
            INBOX, {"action": "process_again", "_selected_action": [lost.pk]}, follow=True
        )
    assert "1 event(s) queued" in text(response)
    process_pending()
    lost.refresh_from_db()
    assert lost.status == EventStatus.PROCESSED
    assert "service=billing" not in text(admin.get(INBOX))


def test_an_events_page_shows_what_arrived_and_cannot_be_edited(admin, fire, catalog) -> None:
    [event] = fire(am_alert("f1", service="billing"))
    page = text(admin.get(EVENTS + f"{event.pk}/change/"))
    assert '"fingerprint": "f1"' in page
    assert 'name="_save"' not in page
    assert Source.ALERTMANAGER.label in page
