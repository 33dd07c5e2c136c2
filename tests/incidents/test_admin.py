"""The support portal in the tenant admin: what staff see, and what their clicks change."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import User
from apps.core.models import AuditEvent
from apps.core.roles import RESPONDER, VIEWER
from apps.incidents import services
from apps.incidents.models import (
    Incident,
    MaintenanceWindow,
    PolicySettings,
    SeverityPolicy,
)
from apps.incidents.models.policy import WEEKDAYS
from tests.conftest import TEST_HOST
from tests.factories import ALL_CLEAR, RegionFactory, ServiceFactory, UserFactory

INCIDENTS = "/admin/incidents/incident/"
MAINTENANCE = "/admin/incidents/maintenancewindow/"
INCIDENT_ACTIONS = (
    "post-update",
    "assess",
    "confirm-impact",
    "change-severity",
    "attach",
    "detach",
    "edit",
    "resolve",
    "false-alarm",
    "reopen",
)


# --- helpers ------------------------------------------------------------------------------


def _client(user: User) -> Client:
    client = Client(HTTP_HOST=TEST_HOST)
    client.force_login(user)
    return client


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def row(page: str, needle: str) -> str:
    """The one table row of `page` containing `needle`."""
    found = [r for r in re.findall(r"<tr.*?</tr>", page, flags=re.S) if needle in r]
    assert len(found) == 1, f"{len(found)} rows contain {needle!r}"
    return found[0]


def action(incident: Incident | MaintenanceWindow, slug: str) -> str:
    base = INCIDENTS if isinstance(incident, Incident) else MAINTENANCE
    return f"{base}{incident.pk}/actions/{slug}/"


def change(obj: Incident | MaintenanceWindow) -> str:
    base = INCIDENTS if isinstance(obj, Incident) else MAINTENANCE
    return f"{base}{obj.pk}/change/"


def local(value: datetime) -> str:
    """How a person types a UTC time into the portal's date-time inputs."""
    return f"{value.astimezone(UTC):%Y-%m-%dT%H:%M}"


def open_incident(
    title: str = "Payments delayed",
    severity: str = "P2",
    affected: dict[str, str] | None = None,
    **kwargs: Any,
) -> Incident:
    return services.incident_open(
        title=title,
        severity=severity,
        services={"payments": "major_outage"} if affected is None else affected,
        actor="pytest",
        **kwargs,
    )


def post_update_data(**overrides: str) -> dict[str, str]:
    return {
        "body": "",
        "internal_note": "",
        "status": "",
        "eta": "",
        "next_update_at": "",
        "deliver_notifications": "on",
        **overrides,
    }


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def catalog(tenant_db: Any) -> None:
    ServiceFactory(slug="api", name="Public API")
    ServiceFactory(slug="payments", name="Payments")
    RegionFactory(code="eu", name="Europe")
    RegionFactory(code="us", name="United States")


@pytest.fixture
def admin_user(catalog: None) -> User:
    return UserFactory(is_superuser=True, email="boss@example.com")


@pytest.fixture
def admin_client(admin_user: User) -> Client:
    return _client(admin_user)


def _member(role: str) -> User:
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer_client(catalog: None) -> Client:
    return _client(_member(VIEWER))


@pytest.fixture
def responder_client(catalog: None) -> Client:
    return _client(_member(RESPONDER))


# --- the incident list --------------------------------------------------------------------


def test_list_shows_clocks_and_says_overdue_in_words(admin_client: Client) -> None:
    late = open_incident(title="Checkout failing", severity="P1")
    open_incident(title="Slow search", severity="P3", affected={"api": "degraded_performance"})
    Incident.objects.filter(pk=late.pk).update(
        next_update_due=timezone.now() - timedelta(minutes=12, seconds=30)
    )

    response = admin_client.get(INCIDENTS)

    assert response.status_code == 200
    page = text(response)
    late_row, calm_row = row(page, "Checkout failing"), row(page, "Slow search")
    assert '<span class="clarion-overdue">overdue 12 min</span>' in late_row
    assert "P1 Critical" in late_row and "Payments (major outage)" in late_row
    # P3 promises an update every 2 h; nobody has assessed either yet (15 min clock).
    assert '<span class="clarion-due">in 1 h 59 min</span>' in calm_row
    assert "in 14 min" in calm_row and "clarion-overdue" not in calm_row
    assert "Public API (degraded performance)" in calm_row
    assert "Investigating" in calm_row and "UTC" in calm_row


def test_list_marks_an_overdue_assessment_and_internal_incidents(admin_client: Client) -> None:
    quiet = open_incident(title="Error rate alert", customer_impact_confirmed=False)
    Incident.objects.filter(pk=quiet.pk).update(detected_at=timezone.now() - timedelta(minutes=40))

    page = text(admin_client.get(INCIDENTS))

    quiet_row = row(page, "Error rate alert")
    assert '<span class="clarion-overdue">overdue 25 min</span>' in quiet_row
    assert "internal (impact not confirmed)" in quiet_row
    assert "Triage (impact not confirmed)" in quiet_row


def test_list_queries_do_not_grow_with_the_rows(admin_client: Client) -> None:
    for n in range(2):
        open_incident(title=f"First batch {n}")
    admin_client.get(INCIDENTS)  # the host is resolved (and cached) on the first request
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(INCIDENTS).status_code == 200
    for n in range(6):
        open_incident(title=f"Second batch {n}", affected={"api": "partial_outage"}, regions=["eu"])
    with CaptureQueriesContext(connection) as many:
        page = text(admin_client.get(INCIDENTS))

    assert "Second batch 5" in page
    assert len(many.captured_queries) == len(few.captured_queries)


def test_list_filters_by_severity_status_service_and_region(admin_client: Client) -> None:
    open_incident(title="Card payments down", severity="P1", regions=["eu"])
    open_incident(title="Docs typo", severity="P4", affected={"api": "degraded_performance"})
    gone = open_incident(title="Old outage", severity="P2", regions=["us"])
    services.incident_resolve(incident=gone, body="Fixed.", **ALL_CLEAR, actor="pytest")

    def titles(query: str) -> set[str]:
        page = text(admin_client.get(INCIDENTS + query))
        return {t for t in ("Card payments down", "Docs typo", "Old outage") if t in page}

    assert titles("") == {"Card payments down", "Docs typo", "Old outage"}
    assert titles("?severity__exact=P1") == {"Card payments down"}
    assert titles("?status=open") == {"Card payments down", "Docs typo"}
    assert titles("?status=resolved") == {"Old outage"}
    assert titles("?service=api") == {"Docs typo"}
    # An incident without regions affects every region.
    assert titles("?region=eu") == {"Card payments down", "Docs typo"}
    assert titles("?region=us&status=open") == {"Docs typo"}


# --- opening an incident ------------------------------------------------------------------


def test_opening_an_incident_goes_through_the_service(
    admin_client: Client, admin_user: User
) -> None:
    form = admin_client.get(INCIDENTS + "add/")
    assert form.status_code == 200 and "Open an incident" in text(form)

    response = admin_client.post(
        INCIDENTS + "add/",
        {
            "title": "Payments failing in Europe",
            "severity": "P1",
            "services": ["payments", "api"],
            "component_status": "partial_outage",
            "regions": ["eu"],
            "impact_scope_pct": "30",
            "customer_impact_confirmed": "on",
            "body": "Some card payments fail. We are investigating.",
            "internal_title": "PSP gateway timeouts",
            "commander": str(admin_user.pk),
        },
        follow=True,
    )

    incident = Incident.objects.get(title="Payments failing in Europe")
    assert response.redirect_chain[-1][0] == change(incident)
    page = text(response)
    assert f"Incident #{incident.pk} is open." in page
    assert "Some card payments fail. We are investigating." in page
    assert "Payments: Operational → Partial outage" in page
    assert incident.status == "investigating" and incident.customer_impact_confirmed
    assert incident.next_update_due is not None  # P1 cadence started
    assert incident.commander == admin_user and incident.impact_scope_pct == 30
    assert [r.code for r in incident.regions.all()] == ["eu"]
    assert {a.service.slug: a.component_status for a in incident.affected.all()} == {
        "payments": "partial_outage",
        "api": "partial_outage",
    }
    opened = AuditEvent.objects.get(action="incident.opened", object_id=str(incident.pk))
    assert opened.actor == admin_user


@pytest.mark.parametrize(
    ("overrides", "message", "reason"),
    [
        (
            {"impact_scope_pct": "150"},
            "The incident cannot be opened.",
            "Give a percentage between 0 and 100.",
        ),
        (
            {"body": "Customers see this", "customer_impact_confirmed": ""},
            "A public message needs confirmed customer impact.",
            "Leave it empty until customer impact is confirmed.",
        ),
    ],
)
def test_opening_shows_the_services_refusal_and_keeps_the_input(
    admin_client: Client, overrides: dict[str, str], message: str, reason: str
) -> None:
    data = {
        "title": "Possible DNS issue",
        "severity": "P3",
        "services": ["api"],
        "component_status": "degraded_performance",
        "customer_impact_confirmed": "on",
        **overrides,
    }
    response = admin_client.post(INCIDENTS + "add/", data)

    assert response.status_code == 200
    page = text(response)
    assert message in page and reason in page
    assert 'value="Possible DNS issue"' in page
    assert not Incident.objects.filter(title="Possible DNS issue").exists()


# --- the incident page and its actions ----------------------------------------------------


def test_page_shows_fields_clocks_and_buttons(admin_client: Client) -> None:
    open_incident(title="Unrelated blip")
    incident = open_incident(severity="P1", regions=["eu"], impact_scope_pct=40)

    page = text(admin_client.get(change(incident)))

    for label in ("Post update", "Assess", "Change severity", "Attach to parent", "Resolve"):
        assert label in page
    assert action(incident, "post-update") in page
    assert action(incident, "reopen") not in page  # only for a resolved incident
    assert action(incident, "confirm-impact") not in page  # already confirmed
    assert "Europe" in page and "40%" in page
    assert "Clocks" in page and "Target resolution" in page and "in 1 h 59 min" in page
    assert 'name="_save"' not in page  # read-only: changes go through the actions
    trail = re.search(r'<a href="([^"]+)">Audit trail</a>', page)
    assert trail is not None
    audit = text(admin_client.get(html.unescape(trail.group(1))))
    assert "incident.opened" in audit and "Unrelated blip" not in audit


def test_posting_an_update_records_it_in_the_timeline(admin_client: Client) -> None:
    incident = open_incident()
    response = admin_client.post(
        action(incident, "post-update"),
        post_update_data(
            body="We found the cause and are rolling back.",
            internal_note="Deploy 4711 broke the PSP client.",
            status="identified",
            component__payments="degraded_performance",
        ),
        follow=True,
    )

    incident.refresh_from_db()
    assert response.redirect_chain[-1][0] == change(incident)
    assert incident.status == "identified"
    page = text(response)
    assert f"The public update is posted on incident #{incident.pk}." in page
    entry = re.search(r'<ol class="clarion-timeline">\s*<li>(.*?)</li>', page, flags=re.S)
    assert entry is not None
    newest = entry.group(1)
    public = re.search(r'class="clarion-public">(.*?)</div>', newest, flags=re.S)
    internal = re.search(r'class="clarion-internal">(.*?)</div>', newest, flags=re.S)
    assert public and "We found the cause and are rolling back." in public.group(1)
    assert internal and "Deploy 4711 broke the PSP client." in internal.group(1)
    assert "Internal note · not public" in internal.group(1)
    assert "Payments: Major outage → Degraded performance" in newest
    assert "Identified" in newest and "with notification to subscribers" in newest


def test_an_update_with_a_promised_time_and_unknown_eta(admin_client: Client) -> None:
    incident = open_incident()
    promised = timezone.now() + timedelta(minutes=20)
    admin_client.post(
        action(incident, "post-update"),
        post_update_data(
            internal_note="Still digging.", eta_unknown="on", next_update_at=local(promised)
        ),
    )

    incident.refresh_from_db()
    assert incident.eta is None
    assert incident.next_update_due == promised.replace(second=0, microsecond=0)
    line = row(text(admin_client.get(INCIDENTS)), "Payments delayed")
    assert f"{promised:%Y-%m-%d %H:%M} UTC" in line and "clarion-overdue" not in line


def test_an_update_refused_by_the_service_keeps_what_was_typed(admin_client: Client) -> None:
    incident = open_incident(customer_impact_confirmed=False)
    empty = admin_client.post(action(incident, "post-update"), post_update_data())
    assert empty.status_code == 200
    assert "Write a public message, an internal note, or both." in text(empty)

    public = admin_client.post(
        action(incident, "post-update"), post_update_data(body="Checkout is slow.")
    )

    page = text(public)
    assert "The update cannot be posted." in page
    assert "Customer impact is not confirmed: confirm it before posting" in page
    assert "Checkout is slow." in page  # still in the textarea
    assert not incident.updates.exists()


def test_eta_and_unknown_together_are_refused(admin_client: Client) -> None:
    incident = open_incident()
    eta = local(timezone.now() + timedelta(hours=1))
    response = admin_client.post(
        action(incident, "post-update"),
        post_update_data(internal_note="x", eta=eta, eta_unknown="on"),
    )
    assert "Give an ETA or tick 'ETA unknown', not both." in text(response)


def test_assessing_stops_the_assessment_clock(admin_client: Client) -> None:
    incident = open_incident()
    form = text(admin_client.get(action(incident, "assess")))
    assert "Root-cause hypothesis" in form

    eta = timezone.now() + timedelta(hours=2)
    response = admin_client.post(
        action(incident, "assess"),
        {"hypothesis": "Expired TLS certificate", "eta": local(eta), "impact_scope_pct": "15"},
        follow=True,
    )

    incident.refresh_from_db()
    assert incident.assessed_at is not None and incident.impact_scope_pct == 15
    assert incident.eta == eta.replace(second=0, microsecond=0)
    page = text(response)
    assert "Expired TLS certificate" in page and "The assessment of incident" in page
    assert "assessed" in row(text(admin_client.get(INCIDENTS)), "Payments delayed")


def test_assessing_with_a_past_eta_shows_the_field_error(admin_client: Client) -> None:
    incident = open_incident()
    response = admin_client.post(
        action(incident, "assess"),
        {"hypothesis": "x", "eta": local(timezone.now() - timedelta(hours=3))},
    )
    page = text(response)
    assert "The assessment cannot be recorded." in page and "is in the past" in page
    incident.refresh_from_db()
    assert incident.assessed_at is None


def test_confirming_impact_starts_the_cadence(admin_client: Client) -> None:
    incident = open_incident(customer_impact_confirmed=False)
    assert action(incident, "confirm-impact") in text(admin_client.get(change(incident)))

    response = admin_client.post(action(incident, "confirm-impact"), follow=True)

    incident.refresh_from_db()
    assert incident.customer_impact_confirmed and incident.status == "investigating"
    assert incident.next_update_due is not None
    page = text(response)
    assert "Customer impact confirmed" in page
    assert action(incident, "confirm-impact") not in page


def test_changing_severity_notes_the_reason(admin_client: Client) -> None:
    incident = open_incident(severity="P3")
    response = admin_client.post(
        action(incident, "change-severity"),
        {"severity": "P1", "reason": "Enterprise customers affected."},
        follow=True,
    )

    incident.refresh_from_db()
    assert incident.severity == "P1"
    page = text(response)
    assert f"Incident #{incident.pk} is now P1 Critical." in page
    assert "Severity changed from P3 to P1. Enterprise customers affected." in page


def test_resolving_and_resolving_again(admin_client: Client) -> None:
    incident = open_incident()
    needs_message = admin_client.post(action(incident, "resolve"), {"body": ""})
    assert "Write the resolution message customers will see." in text(needs_message)

    done = admin_client.post(
        action(incident, "resolve"), {"body": "Payments work again.", **ALL_CLEAR}, follow=True
    )
    incident.refresh_from_db()
    assert incident.status == "resolved"
    page = text(done)
    assert f"Incident #{incident.pk} is resolved." in page
    assert "Payments: Major outage → Operational" in page
    assert action(incident, "reopen") in page and action(incident, "resolve") not in page

    again = admin_client.post(action(incident, "resolve"), {"body": "Twice."})
    assert again.status_code == 200
    assert f"Incident #{incident.pk} is already resolved at" in text(again)
    assert "lasted under 1 min" in row(text(admin_client.get(INCIDENTS)), "Payments delayed")


def test_marking_a_false_alarm(admin_client: Client) -> None:
    incident = open_incident(customer_impact_confirmed=False)
    response = admin_client.post(
        action(incident, "false-alarm"), {"note": "Monitoring blip."}, follow=True
    )

    incident.refresh_from_db()
    assert incident.false_alarm and incident.status == "resolved"
    page = text(response)
    assert "Resolved (false alarm)" in page and "False alarm. Monitoring blip." in page
    assert action(incident, "reopen") not in page  # a false alarm cannot be reopened


def test_attaching_to_a_parent(admin_client: Client) -> None:
    parent = open_incident(title="Payments down")
    child = open_incident(title="Ledger sync failing", affected={"api": "partial_outage"})
    form = text(admin_client.get(action(child, "attach")))
    assert f"#{parent.pk} Payments down (P2, Investigating)" in form

    response = admin_client.post(action(child, "attach"), {"parent": parent.pk}, follow=True)

    child.refresh_from_db()
    assert child.parent == parent
    assert f"Incident #{child.pk} is attached to #{parent.pk}." in text(response)
    parent_page = text(admin_client.get(change(parent)))
    assert f"#{child.pk} Ledger sync failing" in parent_page

    third = open_incident(title="Receipts late")
    refused = admin_client.post(action(third, "attach"), {"parent": child.pk})
    page = text(refused)
    assert "The incident cannot be attached." in page
    assert f"is itself a child of #{parent.pk}; attach to #{parent.pk} instead." in page


def test_detaching_from_a_parent(admin_client: Client) -> None:
    parent = open_incident(title="Payments down")
    child = open_incident(title="Ledger sync failing", affected={"api": "partial_outage"})
    assert action(child, "detach") not in text(admin_client.get(change(child)))  # no parent
    services.incident_attach_child(child=child, parent=parent, actor="pytest")
    page = text(admin_client.get(change(child)))
    assert action(child, "detach") in page and action(child, "attach") not in page

    response = admin_client.post(
        action(child, "detach"), {"reason": "Unrelated after all."}, follow=True
    )

    child.refresh_from_db()
    assert child.parent_id is None
    page = text(response)
    assert f"Incident #{child.pk} is detached from #{parent.pk}." in page
    assert f"Detached from parent incident #{parent.pk}. Unrelated after all." in page
    assert action(child, "attach") in page
    assert AuditEvent.objects.get(action="incident.detached").actor_label == "boss@example.com"


def test_attaching_a_confirmed_incident_to_one_in_triage_says_what_to_do(
    admin_client: Client,
) -> None:
    parent = open_incident(title="Errors", customer_impact_confirmed=False)
    child = open_incident(title="Payments down")
    page = text(admin_client.post(action(child, "attach"), {"parent": parent.pk}))
    assert f"confirm customer impact on #{parent.pk} first." in page
    child.refresh_from_db()
    assert child.parent_id is None


def test_reopening(admin_client: Client) -> None:
    incident = open_incident()
    refused = admin_client.post(action(incident, "reopen"), {"reason": "Back"})
    assert "only a resolved incident can be reopened" in text(refused)

    services.incident_resolve(incident=incident, body="Fixed.", **ALL_CLEAR, actor="pytest")
    response = admin_client.post(
        action(incident, "reopen"), {"reason": "Errors are back."}, follow=True
    )

    incident.refresh_from_db()
    assert incident.status == "investigating" and incident.next_update_due is not None
    assert "Reopened: Errors are back." in text(response)


def test_editing_details_goes_through_the_service(admin_client: Client, admin_user: User) -> None:
    incident = open_incident(regions=["eu"])
    form = text(admin_client.get(action(incident, "edit")))
    assert 'value="Payments delayed"' in form

    response = admin_client.post(
        action(incident, "edit"),
        {
            "title": "Card payments delayed",
            "internal_title": "PSP latency",
            "impact_scope_pct": "12",
            "regions": ["us"],
            "commander": str(admin_user.pk),
        },
        follow=True,
    )

    incident.refresh_from_db()
    assert incident.title == "Card payments delayed" and incident.commander == admin_user
    assert [r.code for r in incident.regions.all()] == ["us"]
    assert "United States" in text(response)
    assert AuditEvent.objects.filter(action="incident.changed", actor=admin_user).exists()

    refused = text(
        admin_client.post(action(incident, "edit"), {"title": "Still", "impact_scope_pct": "101"})
    )
    assert "The incident cannot be changed." in refused
    assert "Give a percentage between 0 and 100." in refused
    assert 'value="Still"' in refused


def test_the_page_itself_changes_nothing(admin_client: Client) -> None:
    incident = open_incident()
    assert admin_client.post(change(incident), {"title": "Hacked"}).status_code == 405
    assert admin_client.get(f"{INCIDENTS}{incident.pk}/delete/").status_code == 403
    incident.refresh_from_db()
    assert incident.title == "Payments delayed"


# --- who may do what ----------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_act(viewer_client: Client) -> None:
    incident = open_incident()

    assert viewer_client.get(INCIDENTS).status_code == 200
    page = viewer_client.get(change(incident))
    assert page.status_code == 200
    assert "Payments delayed" in text(page) and "/actions/" not in text(page)
    assert "Post update" not in text(page)
    for slug in INCIDENT_ACTIONS:
        assert viewer_client.get(action(incident, slug)).status_code == 403
        assert viewer_client.post(action(incident, slug), {"body": "x"}).status_code == 403
    assert viewer_client.get(INCIDENTS + "add/").status_code == 403
    assert viewer_client.post(INCIDENTS + "add/", {"title": "x"}).status_code == 403
    assert viewer_client.get(MAINTENANCE + "add/").status_code == 403
    incident.refresh_from_db()
    assert incident.status == "investigating" and not incident.updates.exists()


def test_a_responder_opens_and_acts(responder_client: Client) -> None:
    assert responder_client.get(INCIDENTS + "add/").status_code == 200
    created = responder_client.post(
        INCIDENTS + "add/",
        {
            "title": "Login errors",
            "severity": "P2",
            "services": ["api"],
            "component_status": "major_outage",
            "customer_impact_confirmed": "on",
        },
    )
    assert created.status_code == 302
    incident = Incident.objects.get(title="Login errors")
    assert action(incident, "post-update") in text(responder_client.get(change(incident)))

    posted = responder_client.post(
        action(incident, "post-update"), post_update_data(body="Logins work again for most.")
    )

    assert posted.status_code == 302
    assert incident.updates.filter(body="Logins work again for most.").exists()


def test_staff_without_a_role_cannot_open_the_portal(catalog: None) -> None:
    client = _client(UserFactory(is_staff=True))
    incident = open_incident()
    assert client.get(INCIDENTS).status_code == 403
    assert client.get(action(incident, "resolve")).status_code == 403


# --- catalogue and policy -----------------------------------------------------------------


def test_service_list_shows_the_derived_status_in_few_queries(admin_client: Client) -> None:
    open_incident(affected={"api": "partial_outage"}, customer_impact_confirmed=False)
    admin_client.get("/admin/incidents/service/")  # the host is resolved (and cached) first
    with CaptureQueriesContext(connection) as few:
        page = text(admin_client.get("/admin/incidents/service/"))
    assert "Partial outage" in row(page, "Public API")  # staff see unconfirmed incidents too
    assert "Operational" in row(page, ">Payments<")

    for n in range(5):
        ServiceFactory(slug=f"extra-{n}", name=f"Extra {n}")
    with CaptureQueriesContext(connection) as many:
        admin_client.get("/admin/incidents/service/")
    assert len(many.captured_queries) == len(few.captured_queries)


def _policy_form(policy: SeverityPolicy, **overrides: Any) -> dict[str, Any]:
    def duration(value: timedelta | None) -> str:
        return str(value) if value else ""

    return {
        "name": policy.name,
        "criteria": policy.criteria,
        "internal_response": policy.internal_response,
        "channels": list(policy.channels),
        "update_interval": duration(policy.update_interval),
        "target_resolution": duration(policy.target_resolution),
        "target_resolution_label": policy.target_resolution_label,
        "postmortem_visibility": policy.postmortem_visibility,
        "postmortem_deadline": duration(policy.postmortem_deadline),
        **overrides,
    }


def test_policy_editor_lists_the_four_levels_and_edits_one(admin_client: Client) -> None:
    listing = text(admin_client.get("/admin/incidents/severitypolicy/"))
    for level, name in (("P1", "Critical"), ("P2", "High"), ("P3", "Medium"), ("P4", "Low")):
        assert name in row(listing, f">{level}<")
    assert "30 min" in row(listing, ">P1<") and "no cadence" in row(listing, ">P4<")
    assert "severitypolicy/add/" not in listing
    assert admin_client.get("/admin/incidents/severitypolicy/add/").status_code == 403

    p2 = SeverityPolicy.objects.get(level="P2")
    assert admin_client.get(f"/admin/incidents/severitypolicy/{p2.pk}/delete/").status_code == 403
    response = admin_client.post(
        f"/admin/incidents/severitypolicy/{p2.pk}/change/",
        _policy_form(p2, update_interval="00:45:00", channels=["email", "status_page"]),
        follow=True,
    )

    p2.refresh_from_db()
    assert p2.update_interval == timedelta(minutes=45)
    assert p2.channels == ["email", "status_page"]
    assert "45 min" in row(text(response), ">P2<")


def test_policy_edits_in_the_portal_are_checked_and_audited(admin_client: Client) -> None:
    p1 = SeverityPolicy.objects.get(level="P1")
    url = f"/admin/incidents/severitypolicy/{p1.pk}/change/"

    refused = admin_client.post(url, _policy_form(p1, update_interval="-00:30:00"))

    assert refused.status_code == 200
    assert "Give a duration longer than zero, e.g. 00:30:00." in text(refused)
    p1.refresh_from_db()
    assert p1.update_interval == timedelta(minutes=30)
    admin_client.post(url, _policy_form(p1, update_interval="00:20:00"))
    p1.refresh_from_db()
    assert p1.update_interval == timedelta(minutes=20)
    entry = AuditEvent.objects.get(action="severity_policy.changed")
    assert entry.actor_label == "boss@example.com"
    assert entry.details == {"update_interval": {"old": "0:30:00", "new": "0:20:00"}}

    admin_client.post(
        "/admin/incidents/policysettings/1/change/",
        {
            "assessment_due": "00:10:00",
            "update_reminder_lead": "00:05:00",
            "extended_outage_after": "04:00:00",
            "extended_update_interval": "00:15:00",
            "maintenance_buffer_pct": "50",
            "traffic_profile": "{}",
        },
    )
    timers = AuditEvent.objects.get(action="policy_settings.changed")
    assert timers.details == {"assessment_due": {"old": "0:15:00", "new": "0:10:00"}}


def test_policy_editor_shows_the_models_rule(admin_client: Client) -> None:
    p3 = SeverityPolicy.objects.get(level="P3")
    response = admin_client.post(
        f"/admin/incidents/severitypolicy/{p3.pk}/change/",
        _policy_form(p3, postmortem_deadline=""),
    )
    assert response.status_code == 200
    assert "Give a deadline, or set the post-mortem to none." in text(response)
    p3.refresh_from_db()
    assert p3.postmortem_deadline == timedelta(weeks=1)


def test_policy_settings_is_a_single_row(admin_client: Client) -> None:
    listing = admin_client.get("/admin/incidents/policysettings/")
    assert listing.status_code == 302 and listing["Location"].endswith("/1/change/")
    assert admin_client.get("/admin/incidents/policysettings/add/").status_code == 403
    assert admin_client.get("/admin/incidents/policysettings/1/delete/").status_code == 403

    admin_client.post(
        "/admin/incidents/policysettings/1/change/",
        {
            "assessment_due": "00:10:00",
            "update_reminder_lead": "00:05:00",
            "extended_outage_after": "04:00:00",
            "extended_update_interval": "00:15:00",
            "maintenance_buffer_pct": "100",
            "traffic_profile": "{}",
        },
    )

    settings = PolicySettings.objects.get()
    assert settings.assessment_due == timedelta(minutes=10)
    assert settings.maintenance_buffer_pct == 100


# --- maintenance --------------------------------------------------------------------------


def test_schedule_page_suggests_a_window(admin_client: Client) -> None:
    tomorrow = (timezone.now() + timedelta(days=1)).replace(
        hour=2, minute=0, second=0, microsecond=0
    )

    page = text(admin_client.get(MAINTENANCE + "add/"))
    assert "Suggested window:" in page
    end = tomorrow + timedelta(minutes=90)  # 60 min estimate + the default 50% buffer
    assert f"{tomorrow:%Y-%m-%d %H:%M} UTC to {end:%Y-%m-%d %H:%M} UTC" in page
    assert "1 h 30 min" in page
    assert f'value="{local(tomorrow)}"' in page and f'value="{local(end)}"' in page

    longer = text(admin_client.get(MAINTENANCE + "add/?estimated_minutes=120"))
    assert f"{local(tomorrow + timedelta(hours=3))}" in longer and "3 h" in longer

    wrong = text(admin_client.get(MAINTENANCE + "add/?estimated_minutes=0"))
    assert "Suggested window:" not in wrong and "greater than or equal to 1" in wrong


def test_suggested_window_follows_the_traffic_profile(admin_client: Client) -> None:
    busy = dict.fromkeys(WEEKDAYS, [100] * 24)
    busy["wed"] = [100] * 3 + [0, 0] + [100] * 19  # quiet Wednesday 03:00-05:00 UTC
    PolicySettings.objects.filter(pk=1).update(traffic_profile=busy)
    now = timezone.now()
    start = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    while (start.weekday(), start.hour) != (2, 3):
        start += timedelta(hours=1)

    page = text(admin_client.get(MAINTENANCE + "add/"))

    assert f"{start:%Y-%m-%d} 03:00 UTC to {start:%Y-%m-%d} 04:30 UTC" in page
    assert "Quietest start" in page


def test_scheduling_goes_through_the_service(admin_client: Client, admin_user: User) -> None:
    start = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    response = admin_client.post(
        MAINTENANCE + "add/",
        {
            "title": "Database upgrade",
            "services": ["api", "payments"],
            "regions": ["eu"],
            "scheduled_start": local(start),
            "scheduled_end": local(start + timedelta(hours=1)),
            "expected_impact": "unavailable",
            "description": "We upgrade the main database.",
            "customer_action": "",
            "contact_by": "",
        },
        follow=True,
    )

    window = MaintenanceWindow.objects.get(title="Database upgrade")
    assert response.redirect_chain[-1][0] == change(window)
    assert window.status == "scheduled" and window.created_by == admin_user
    assert window.scheduled_start == start
    assert {s.slug for s in window.services.all()} == {"api", "payments"}
    page = text(response)
    assert f"Maintenance #{window.pk} is scheduled." in page
    assert "We upgrade the main database." in page
    for label in ("Start", "Post update", "Extend", "Cancel maintenance"):
        assert f">{label}</a>" in page
    assert f"{action(window, 'complete')}" not in page


def test_scheduling_refusal_shows_the_fields_and_keeps_the_input(admin_client: Client) -> None:
    start = timezone.now() + timedelta(days=2)
    response = admin_client.post(
        MAINTENANCE + "add/",
        {
            "title": "Network work",
            "scheduled_start": local(start),
            "scheduled_end": local(start - timedelta(hours=1)),
            "expected_impact": "degraded",
        },
    )

    page = text(response)
    assert "The maintenance cannot be scheduled." in page
    assert "Name at least one affected service." in page
    assert "The window must end after it starts." in page
    assert 'value="Network work"' in page
    assert not MaintenanceWindow.objects.exists()


def _window(**kwargs: Any) -> MaintenanceWindow:
    start = timezone.now() + timedelta(hours=1)
    return services.maintenance_schedule(
        title="Cache migration",
        services=["api"],
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
        actor="pytest",
        **kwargs,
    )


def test_maintenance_actions_run_the_window(admin_client: Client) -> None:
    window = _window()

    started = admin_client.post(action(window, "start"), {"body": ""}, follow=True)
    window.refresh_from_db()
    assert window.status == "in_progress"
    assert "Maintenance has started." in text(started)

    admin_client.post(action(window, "post-update"), {"body": "Verifying.", "status": "verifying"})
    window.refresh_from_db()
    assert window.status == "verifying"

    short = admin_client.post(action(window, "extend"), {"new_end": local(window.scheduled_start)})
    assert "The window can only be extended." in text(short)
    new_end = (window.scheduled_end + timedelta(hours=1)).replace(second=0, microsecond=0)
    extended = admin_client.post(
        action(window, "extend"), {"new_end": local(new_end), "reason": ""}, follow=True
    )
    window.refresh_from_db()
    assert window.scheduled_end == new_end
    assert f"Extended until {new_end:%Y-%m-%d %H:%M} UTC." in text(extended)

    cancel = admin_client.post(action(window, "cancel"), {"reason": ""})
    assert "it cannot be cancelled (complete it instead)" in text(cancel)

    done = admin_client.post(action(window, "complete"), {"body": "All done."}, follow=True)
    window.refresh_from_db()
    assert window.status == "completed"
    page = text(done)
    assert "All done." in page and "Verifying." in page
    assert "/actions/" not in page  # nothing left to do


def test_rescheduling_a_scheduled_window(admin_client: Client, viewer_client: Client) -> None:
    window = _window()
    assert ">Reschedule</a>" in text(admin_client.get(change(window)))
    form = text(admin_client.get(action(window, "reschedule")))
    assert f'value="{local(window.scheduled_start)}"' in form
    start = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    assert viewer_client.post(action(window, "reschedule"), {}).status_code == 403

    backwards = admin_client.post(
        action(window, "reschedule"),
        {"scheduled_start": local(start), "scheduled_end": local(start - timedelta(hours=1))},
    )
    assert "The window must end after it starts." in text(backwards)
    response = admin_client.post(
        action(window, "reschedule"),
        {
            "scheduled_start": local(start),
            "scheduled_end": local(start + timedelta(hours=2)),
            "reason": "Moved to the weekend.",
        },
        follow=True,
    )

    window.refresh_from_db()
    assert (window.scheduled_start, window.scheduled_end) == (start, start + timedelta(hours=2))
    page = text(response)
    assert f"Maintenance #{window.pk} now runs from {start:%Y-%m-%d %H:%M} UTC" in page
    assert "Moved to the weekend." in page
    assert AuditEvent.objects.filter(action="maintenance.rescheduled").exists()
    services.maintenance_start(window=window, actor="pytest")
    assert action(window, "reschedule") not in text(admin_client.get(change(window)))


def test_cancelling_a_scheduled_window(admin_client: Client, viewer_client: Client) -> None:
    window = _window()
    assert viewer_client.post(action(window, "cancel"), {"reason": "x"}).status_code == 403
    assert "/actions/" not in text(viewer_client.get(change(window)))

    response = admin_client.post(
        action(window, "cancel"), {"reason": "Vendor postponed."}, follow=True
    )

    window.refresh_from_db()
    assert window.status == "cancelled"
    assert "Vendor postponed." in text(response)


def test_maintenance_list(admin_client: Client) -> None:
    window = _window(regions=["eu"])
    page = text(admin_client.get(MAINTENANCE))
    line = row(page, "Cache migration")
    assert "Scheduled" in line and "Public API" in line and "Degraded performance" in line
    assert f"{window.scheduled_start:%Y-%m-%d %H:%M} UTC" in line
