"""Incident use-cases: what each does, and every move it refuses."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.core.events import subscribe, unsubscribe
from apps.core.exceptions import Conflict, ValidationFailed
from apps.core.models import AuditEvent
from apps.incidents import events
from apps.incidents.choices import IncidentStatus
from apps.incidents.models import Incident, IncidentUpdate
from apps.incidents.services import (
    incident_assess,
    incident_attach_child,
    incident_change_severity,
    incident_confirm_impact,
    incident_detach_child,
    incident_edit,
    incident_mark_false_alarm,
    incident_open,
    incident_post_update,
    incident_reopen,
    incident_resolve,
)
from tests.factories import ALL_CLEAR, ServiceFactory

ACTOR = "pytest"


def close_to(value, expected, slack=timedelta(seconds=10)) -> bool:
    return value is not None and abs(value - expected) < slack


class Heard(list):
    """Domain events dispatched after commit, as (name, data) pairs; `with heard():` runs
    the enclosed services and dispatches their events as a commit would."""

    def __init__(self, capture) -> None:
        super().__init__()
        self._capture = capture

    def __call__(self):
        return self._capture(execute=True)

    def record(self, event) -> None:
        self.append((event.name, event.data))


@pytest.fixture
def heard(django_capture_on_commit_callbacks):
    names = [v for k, v in vars(events).items() if k.isupper()]
    seen = Heard(django_capture_on_commit_callbacks)
    for name in names:
        subscribe(name, seen.record)
    yield seen
    for name in names:
        unsubscribe(name, seen.record)


def open_p1(services, **kwargs) -> Incident:
    return incident_open(
        title="Payments failing",
        severity="P1",
        services={"payments": "major_outage", "api": "degraded_performance"},
        actor=ACTOR,
        **kwargs,
    )


# --- opening ------------------------------------------------------------------------------


def test_a_person_opens_a_confirmed_incident_with_its_cadence(services, regions, heard) -> None:
    with heard():
        incident = open_p1(services, regions=["eu"], body="We are looking into failed payments.")
    assert incident.status == IncidentStatus.INVESTIGATING
    assert incident.customer_impact_confirmed
    assert close_to(incident.next_update_due, timezone.now() + timedelta(minutes=30))
    assert {(a.service.slug, a.component_status) for a in incident.affected.all()} == {
        ("payments", "major_outage"),
        ("api", "degraded_performance"),
    }
    assert [r.code for r in incident.regions.all()] == ["eu"]
    first = incident.updates.get()
    assert first.is_public and first.deliver_notifications
    assert AuditEvent.objects.filter(action="incident.opened", object_id=str(incident.pk)).exists()
    assert (events.INCIDENT_OPENED, {"incident_id": incident.pk, "confirmed": True}) in heard
    assert any(name == events.UPDATE_POSTED for name, _ in heard)


def test_monitoring_opens_triage_with_no_customer_cadence(services) -> None:
    incident = incident_open(
        title="High error rate",
        severity="P2",
        source="alertmanager",
        external_id="grp:abc",
        services={"api": "partial_outage"},
        actor=ACTOR,
    )
    assert incident.status == IncidentStatus.TRIAGE
    assert not incident.customer_impact_confirmed
    assert incident.next_update_due is None


def test_opening_twice_from_the_same_alert_returns_the_same_incident(services) -> None:
    first = incident_open(title="x", severity="P3", source="datadog", external_id="42", actor=ACTOR)
    again = incident_open(title="y", severity="P1", source="datadog", external_id="42", actor=ACTOR)
    assert again.pk == first.pk and again.title == "x"
    assert Incident.objects.count() == 1


def test_a_public_message_needs_confirmed_impact(services) -> None:
    with pytest.raises(ValidationFailed) as caught:
        incident_open(
            title="x", severity="P2", source="grafana", body="Customers: hello", actor=ACTOR
        )
    assert "body" in caught.value.fields


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"title": " "}, "title", "customer-facing title"),
        ({"severity": "P0"}, "severity", "P1, P2, P3, P4"),
        ({"services": {"nope": "major_outage"}}, "services", "Unknown service(s): nope"),
        ({"services": {"api": "broken"}}, "services", "Invalid component status in api=broken"),
        ({"regions": ["mars"]}, "regions", "Unknown region(s): mars"),
        ({"impact_scope_pct": 140}, "impact_scope_pct", "between 0 and 100"),
        ({"internal_title": "x" * 201}, "internal_title", "at most 200"),
        ({"started_at": timezone.now() + timedelta(days=1)}, "started_at", "future"),
    ],
)
def test_opening_rejects_bad_input(services, regions, kwargs, field, fragment) -> None:
    args = {"title": "Outage", "severity": "P1", "services": {"api": "major_outage"}, **kwargs}
    with pytest.raises(ValidationFailed) as caught:
        incident_open(actor=ACTOR, **args)
    assert fragment in " ".join(caught.value.fields[field])
    assert not Incident.objects.exists()


def test_services_and_regions_of_another_tenant_are_unknown_here(other_tenant, services) -> None:
    with tenant_context(other_tenant):
        ServiceFactory(slug="other-only")
    with pytest.raises(ValidationFailed) as caught:
        incident_open(
            title="x", severity="P2", services={"other-only": "major_outage"}, actor=ACTOR
        )
    assert "other-only" in caught.value.fields["services"][0]


# --- updates ------------------------------------------------------------------------------


def test_update_moves_status_records_component_changes_and_resets_the_clock(services) -> None:
    incident = open_p1(services)
    promised = timezone.now() + timedelta(minutes=20)
    update = incident_post_update(
        incident=incident,
        body="Root cause found.",
        status="identified",
        internal_note="DB primary failed over",
        next_update_at=promised,
        component_changes={"api": "operational", "dashboard": "partial_outage"},
        actor=ACTOR,
    )
    incident.refresh_from_db()
    assert incident.status == "identified"
    assert incident.next_update_due == promised
    assert update.next_update_at == promised
    assert sorted(
        (c["service"], c["old_status"], c["new_status"]) for c in update.component_changes
    ) == [
        ("api", "degraded_performance", "operational"),
        ("dashboard", "operational", "partial_outage"),
    ]
    assert incident.affected.get(service__slug="dashboard").component_status == "partial_outage"


def test_without_a_promise_the_next_update_is_due_after_the_policy_interval(services) -> None:
    incident = incident_open(
        title="Slow reports",
        severity="P3",
        services={"dashboard": "degraded_performance"},
        actor=ACTOR,
    )
    incident_post_update(incident=incident, body="Still investigating.", actor=ACTOR)
    incident.refresh_from_db()
    assert close_to(incident.next_update_due, timezone.now() + timedelta(hours=2))


def test_monitoring_time_is_recorded_once(services) -> None:
    incident = open_p1(services)
    incident_post_update(incident=incident, body="Fix deployed.", status="monitoring", actor=ACTOR)
    incident.refresh_from_db()
    first = incident.monitoring_at
    incident_post_update(incident=incident, body="Looks good.", status="monitoring", actor=ACTOR)
    incident.refresh_from_db()
    assert first is not None and incident.monitoring_at == first


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({}, "body", "public message, an internal note"),
        ({"body": "x", "status": "resolved"}, "status", "Use resolve"),
        ({"body": "x", "status": "triage"}, "status", "investigating, identified, monitoring"),
        (
            {"body": "x", "next_update_at": timezone.now() - timedelta(hours=1)},
            "next_update_at",
            "in the past",
        ),
        ({"body": "x", "eta": timezone.now() - timedelta(hours=1)}, "eta", "in the past"),
        (
            {"body": "x", "component_changes": {"ghost": "major_outage"}},
            "component_changes",
            "Unknown service",
        ),
    ],
)
def test_update_rejects_bad_input(services, kwargs, field, fragment) -> None:
    incident = open_p1(services)
    with pytest.raises(ValidationFailed) as caught:
        incident_post_update(incident=incident, actor=ACTOR, **kwargs)
    assert fragment in " ".join(caught.value.fields[field])
    assert not incident.updates.exists()


def test_triage_takes_internal_notes_but_no_public_message(services) -> None:
    incident = incident_open(title="x", severity="P2", source="sentry", actor=ACTOR)
    note = incident_post_update(incident=incident, internal_note="Looking at logs", actor=ACTOR)
    assert not note.is_public and not note.deliver_notifications
    with pytest.raises(ValidationFailed) as caught:
        incident_post_update(incident=incident, body="Dear customers", actor=ACTOR)
    assert "confirm it before posting a public message" in caught.value.fields["body"][0]


def test_a_resolved_incident_takes_no_update_until_reopened(services) -> None:
    incident = open_p1(services)
    incident_resolve(incident=incident, body="All good.", **ALL_CLEAR, actor=ACTOR)
    with pytest.raises(Conflict) as caught:
        incident_post_update(incident=incident, body="More", actor=ACTOR)
    assert "reopen it before you post an update" in caught.value.message
    incident_reopen(incident=incident, reason="Errors are back", actor=ACTOR)
    incident_post_update(incident=incident, body="Investigating again.", actor=ACTOR)
    incident.refresh_from_db()
    assert incident.status == "investigating" and incident.resolved_at is None


# --- assessment, confirmation, severity ----------------------------------------------------


def test_assessment_stops_its_clock_and_records_eta(services) -> None:
    incident = open_p1(services)
    eta = timezone.now() + timedelta(hours=1)
    incident_assess(
        incident=incident,
        hypothesis="Card processor timeouts",
        eta=eta,
        impact_scope_pct=30,
        actor=ACTOR,
    )
    incident.refresh_from_db()
    assert incident.assessed_at and incident.acknowledged_at
    assert incident.eta == eta and incident.eta_unknown_since is None
    assert incident.impact_scope_pct == 30
    before = AuditEvent.objects.filter(action="incident.assessed").count()
    incident_assess(incident=incident, hypothesis="Card processor timeouts", actor=ACTOR)
    assert AuditEvent.objects.filter(action="incident.assessed").count() == before  # no change


def test_confirming_impact_starts_the_cadence_once(services, heard) -> None:
    incident = incident_open(
        title="x", severity="P1", source="pagerduty", services={"api": "major_outage"}, actor=ACTOR
    )
    with heard():
        incident_confirm_impact(incident=incident, actor=ACTOR)
    incident.refresh_from_db()
    assert incident.status == "investigating" and incident.customer_impact_confirmed
    assert close_to(incident.next_update_due, timezone.now() + timedelta(minutes=30))
    with heard():
        incident_confirm_impact(incident=incident, actor=ACTOR)
    assert [n for n, _ in heard].count(events.INCIDENT_IMPACT_CONFIRMED) == 1


def test_raising_severity_shortens_the_cadence(services) -> None:
    incident = incident_open(
        title="x", severity="P3", services={"api": "degraded_performance"}, actor=ACTOR
    )
    incident_change_severity(incident=incident, severity="P1", reason="Spreading", actor=ACTOR)
    incident.refresh_from_db()
    assert incident.severity == "P1"
    assert close_to(incident.next_update_due, timezone.now() + timedelta(minutes=30))
    entry = incident.updates.get()
    assert not entry.is_public and "from P3 to P1" in entry.internal_note
    incident_change_severity(incident=incident, severity="P1", actor=ACTOR)
    assert incident.updates.count() == 1  # same severity: nothing happens
    with pytest.raises(ValidationFailed):
        incident_change_severity(incident=incident, severity="P9", actor=ACTOR)


# --- resolving, false alarms, reopening ----------------------------------------------------


def test_resolving_returns_services_to_operational_and_stops_clocks(services, heard) -> None:
    incident = open_p1(services)
    with heard():
        update = incident_resolve(
            incident=incident, body="Payments are back to normal.", **ALL_CLEAR, actor=ACTOR
        )
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_at
    assert incident.next_update_due is None
    assert {c["new_status"] for c in update.component_changes} == {"operational"}
    assert update.is_public and update.deliver_notifications
    assert (events.INCIDENT_RESOLVED, {"incident_id": incident.pk, "update_id": update.pk}) in heard


def test_resolving_twice_is_refused(services) -> None:
    incident = open_p1(services)
    incident_resolve(incident=incident, body="Fixed.", **ALL_CLEAR, actor=ACTOR)
    with pytest.raises(Conflict) as caught:
        incident_resolve(incident=incident, body="Fixed again.", **ALL_CLEAR, actor=ACTOR)
    assert "already resolved" in caught.value.message


def test_a_confirmed_incident_needs_a_resolution_message(services) -> None:
    with pytest.raises(ValidationFailed) as caught:
        incident_resolve(incident=open_p1(services), actor=ACTOR)
    assert "body" in caught.value.fields


def test_an_unconfirmed_incident_resolves_quietly_keeping_what_was_written(services) -> None:
    incident = incident_open(title="x", severity="P2", source="newrelic", actor=ACTOR)
    update = incident_resolve(incident=incident, body="Probe recovered by itself.", actor=ACTOR)
    assert not update.is_public and not update.deliver_notifications
    assert update.internal_note == "Probe recovered by itself."


def test_no_promised_update_time_before_impact_is_confirmed(services) -> None:
    incident = incident_open(title="x", severity="P1", source="sentry", actor=ACTOR)
    with pytest.raises(ValidationFailed) as caught:
        incident_post_update(
            incident=incident,
            internal_note="n",
            actor=ACTOR,
            next_update_at=timezone.now() + timedelta(minutes=10),
        )
    assert "before customer impact is confirmed" in caught.value.fields["next_update_at"][0]


def test_reopening_restarts_the_extended_outage_clock(services) -> None:
    from apps.incidents.selectors import incident_clocks

    incident = open_p1(services)
    Incident.objects.filter(pk=incident.pk).update(
        eta_unknown_since=timezone.now() - timedelta(days=2)
    )
    incident_resolve(incident=incident, body="done", **ALL_CLEAR, actor=ACTOR)
    incident = incident_reopen(incident=incident, reason="back", actor=ACTOR)
    assert not incident_clocks(incident).extended_outage
    assert close_to(incident.next_update_due, timezone.now() + timedelta(minutes=30))


def test_false_alarm_closes_and_says_whether_customers_heard(services, heard) -> None:
    quiet = incident_open(title="x", severity="P2", source="grafana", actor=ACTOR)
    loud = open_p1(services)
    with heard():
        incident_mark_false_alarm(incident=quiet, note="Probe misfired", actor=ACTOR)
        incident_mark_false_alarm(incident=loud, actor=ACTOR)
    for incident in (quiet, loud):
        incident.refresh_from_db()
        assert incident.false_alarm and incident.status == "resolved"
    alarms = [d for n, d in heard if n == events.INCIDENT_FALSE_ALARM]
    assert {"incident_id": quiet.pk, "was_public": False} in alarms
    assert {"incident_id": loud.pk, "was_public": True} in alarms
    with pytest.raises(Conflict):
        incident_reopen(incident=loud, reason="no", actor=ACTOR)


def test_reopening_an_open_incident_is_refused(services) -> None:
    with pytest.raises(Conflict) as caught:
        incident_reopen(incident=open_p1(services), reason="?", actor=ACTOR)
    assert "only a resolved incident" in caught.value.message


# --- cascading -----------------------------------------------------------------------------


def test_children_join_the_parent_and_resolve_with_it(services) -> None:
    parent = open_p1(services)
    child = incident_open(title="Card DB down", severity="P2", source="datadog", actor=ACTOR)
    incident_attach_child(child=child, parent=parent, actor=ACTOR)
    incident_attach_child(child=child, parent=parent, actor=ACTOR)  # already there: no-op
    assert list(Incident.objects.public().open()) == [parent]  # the parent speaks for it
    incident_resolve(incident=parent, body="All clear.", **ALL_CLEAR, actor=ACTOR)
    child.refresh_from_db()
    assert child.status == "resolved"
    notes = [u.internal_note for u in child.updates.order_by("created_at", "id")]
    assert f"Attached to parent incident #{parent.pk}" in notes[0]
    assert "with parent" in notes[-1]
    assert parent.updates.filter(internal_note__contains=f"#{child.pk}").exists()


@pytest.mark.parametrize("case", ["self", "parent_is_child", "child_has_children", "elsewhere"])
def test_attach_refuses_loops_and_deep_trees(services, case: str) -> None:
    a, b, c = (open_p1(services) for _ in range(3))
    if case == "self":
        child, parent = a, a
    elif case == "parent_is_child":
        incident_attach_child(child=b, parent=a, actor=ACTOR)
        child, parent = a, b  # a would become the child of its own child
    elif case == "child_has_children":
        incident_attach_child(child=b, parent=a, actor=ACTOR)
        child, parent = a, c
    else:
        incident_attach_child(child=b, parent=a, actor=ACTOR)
        child, parent = b, c
    with pytest.raises(ValidationFailed) as caught:
        incident_attach_child(child=child, parent=parent, actor=ACTOR)
    assert caught.value.fields["parent"]


def test_a_resolved_incident_cannot_become_a_parent(services) -> None:
    parent, child = open_p1(services), open_p1(services)
    incident_resolve(incident=parent, body="done", **ALL_CLEAR, actor=ACTOR)
    with pytest.raises(Conflict):
        incident_attach_child(child=child, parent=parent, actor=ACTOR)


# --- editing --------------------------------------------------------------------------------


def test_edit_changes_descriptive_fields_only_when_they_differ(services, regions) -> None:
    incident = open_p1(services)
    incident_edit(
        incident=incident, title="Card payments failing", regions=["us", "eu"], actor=ACTOR
    )
    incident.refresh_from_db()
    assert incident.title == "Card payments failing"
    assert sorted(r.code for r in incident.regions.all()) == ["eu", "us"]
    count = AuditEvent.objects.filter(action="incident.changed").count()
    incident_edit(incident=incident, title="Card payments failing", actor=ACTOR)
    assert AuditEvent.objects.filter(action="incident.changed").count() == count
    with pytest.raises(ValidationFailed):
        incident_edit(incident=incident, regions=["atlantis"], actor=ACTOR)


def test_every_state_change_is_in_the_audit_log_with_its_actor(services) -> None:
    incident = open_p1(services)
    incident_post_update(incident=incident, body="b", actor=ACTOR)
    incident_resolve(incident=incident, body="done", **ALL_CLEAR, actor=ACTOR)
    actions = set(
        AuditEvent.objects.filter(object_id=str(incident.pk)).values_list("action", "actor_label")
    )
    assert {
        ("incident.opened", ACTOR),
        ("incident.update_posted", ACTOR),
        ("incident.resolved", ACTOR),
    } <= actions
    assert IncidentUpdate.objects.filter(incident=incident, author_label=ACTOR).count() == 2


def test_a_triage_incident_cannot_be_moved_on_by_a_note(services) -> None:
    incident = incident_open(title="x", severity="P2", source="sentry", actor=ACTOR)
    with pytest.raises(ValidationFailed) as caught:
        incident_post_update(incident=incident, internal_note="n", status="identified", actor=ACTOR)
    assert "confirm customer impact" in caught.value.fields["status"][0]


# --- parent and child moves that must leave no outage unexplained ---------------------------


def test_a_false_alarm_on_a_parent_detaches_its_open_children(services, heard) -> None:
    parent = incident_open(title="Checkout down", severity="P2", source="grafana", actor=ACTOR)
    confirmed = incident_open(
        title="Card DB down", severity="P1", services={"payments": "major_outage"}, actor=ACTOR
    )
    quiet = incident_open(title="Probe flapping", severity="P3", source="datadog", actor=ACTOR)
    incident_confirm_impact(incident=parent, actor=ACTOR)
    for child in (confirmed, quiet):
        incident_attach_child(child=child, parent=parent, actor=ACTOR)

    with heard():
        incident_mark_false_alarm(incident=parent, note="Probe misfired", actor=ACTOR)

    parent.refresh_from_db()
    confirmed.refresh_from_db()
    quiet.refresh_from_db()
    assert parent.false_alarm and parent.status == "resolved"
    assert confirmed.parent_id is None and quiet.parent_id is None
    # Each keeps its own state: the confirmed one is public on its own with its cadence.
    assert (confirmed.status, confirmed.customer_impact_confirmed) == ("investigating", True)
    assert (quiet.status, quiet.customer_impact_confirmed) == ("triage", False)
    assert list(Incident.objects.public().open()) == [confirmed]
    assert close_to(confirmed.next_update_due, timezone.now() + timedelta(minutes=30))
    assert quiet.next_update_due is None
    note = confirmed.updates.order_by("-created_at", "-id").first().internal_note
    assert note.startswith(f"Detached from parent incident #{parent.pk}, a false alarm")
    assert "Customers have not heard of it on its own yet" in note
    detached = [d for n, d in heard if n == events.INCIDENT_DETACHED]
    assert {"incident_id": confirmed.pk, "parent_id": parent.pk} in detached
    assert AuditEvent.objects.filter(action="incident.detached", object_id=str(quiet.pk)).exists()


def test_a_confirmed_child_cannot_join_a_parent_in_triage(services) -> None:
    parent = incident_open(title="Errors", severity="P2", source="sentry", actor=ACTOR)
    child = open_p1(services)
    with pytest.raises(ValidationFailed) as caught:
        incident_attach_child(child=child, parent=parent, actor=ACTOR)
    assert caught.value.fields == {
        "parent": [
            f"Incident #{parent.pk} is in triage (customer impact not confirmed) and "
            f"#{child.pk} is confirmed: confirm customer impact on #{parent.pk} first."
        ]
    }
    child.refresh_from_db()
    assert child.parent_id is None
    # An unconfirmed child may wait under an unconfirmed parent, but not be confirmed there.
    quiet = incident_open(title="Lag", severity="P3", source="datadog", actor=ACTOR)
    incident_attach_child(child=quiet, parent=parent, actor=ACTOR)
    with pytest.raises(Conflict) as refused:
        incident_confirm_impact(incident=quiet, actor=ACTOR)
    assert refused.value.message == (
        f"Incident #{quiet.pk} is attached to #{parent.pk}, whose customer impact is not "
        f"confirmed: confirm #{parent.pk} first, or detach this incident."
    )
    incident_confirm_impact(incident=parent, actor=ACTOR)
    assert incident_attach_child(child=child, parent=parent, actor=ACTOR).parent_id == parent.pk


def test_detaching_makes_a_child_speak_for_itself_again(services, heard) -> None:
    parent = open_p1(services)
    child = incident_open(
        title="Ledger lag", severity="P2", services={"dashboard": "major_outage"}, actor=ACTOR
    )
    incident_attach_child(child=child, parent=parent, actor=ACTOR)
    assert list(Incident.objects.public().open()) == [parent]

    with heard():
        detached = incident_detach_child(child=child, reason="A separate problem.", actor=ACTOR)

    assert detached.parent_id is None
    assert set(Incident.objects.public().open()) == {parent, child}
    assert close_to(detached.next_update_due, timezone.now() + timedelta(hours=1))
    assert child.updates.filter(
        internal_note__startswith=f"Detached from parent incident #{parent.pk}. A separate problem."
    ).exists()
    assert parent.updates.filter(internal_note=f"Incident #{child.pk} (Ledger lag) detached.")
    assert (events.INCIDENT_DETACHED, {"incident_id": child.pk, "parent_id": parent.pk}) in heard
    count = AuditEvent.objects.filter(action="incident.detached").count()
    incident_detach_child(child=child, actor=ACTOR)  # no parent: nothing happens
    assert AuditEvent.objects.filter(action="incident.detached").count() == count == 1


def test_a_child_left_under_a_closed_parent_can_be_detached(services) -> None:
    parent, elsewhere = open_p1(services), open_p1(services)
    child = incident_open(title="Ledger lag", severity="P2", actor=ACTOR)
    incident_mark_false_alarm(incident=parent, actor=ACTOR)
    # As a false alarm used to leave it: open, attached to the closed parent.
    Incident.objects.filter(pk=child.pk).update(parent=parent)
    with pytest.raises(ValidationFailed) as caught:
        incident_attach_child(child=child, parent=elsewhere, actor=ACTOR)
    assert caught.value.fields["parent"] == [
        f"Incident #{child.pk} is already attached to #{parent.pk}."
    ]

    incident_detach_child(child=child, actor=ACTOR)

    child.refresh_from_db()
    assert child.parent_id is None and child in Incident.objects.public().open()
    incident_attach_child(child=child, parent=elsewhere, actor=ACTOR)


def test_a_resolved_child_is_not_detached(services) -> None:
    parent, child = open_p1(services), open_p1(services)
    incident_attach_child(child=child, parent=parent, actor=ACTOR)
    incident_resolve(incident=parent, body="Fixed.", **ALL_CLEAR, actor=ACTOR)
    with pytest.raises(Conflict) as caught:
        incident_detach_child(child=child, actor=ACTOR)
    assert caught.value.message == (
        f"Incident #{child.pk} is resolved; reopen it before you detach it."
    )


def test_a_reopened_child_of_a_resolved_parent_speaks_for_itself(services) -> None:
    parent, child = open_p1(services), open_p1(services)
    incident_attach_child(child=child, parent=parent, actor=ACTOR)
    incident_resolve(incident=parent, body="Fixed.", **ALL_CLEAR, actor=ACTOR)

    incident_reopen(incident=child, reason="Card DB errors are back", actor=ACTOR)

    child.refresh_from_db()
    assert child.parent_id is None and child in Incident.objects.public().open()
    assert close_to(child.next_update_due, timezone.now() + timedelta(minutes=30))


# --- the promised next update and the cadence ----------------------------------------------


def test_a_promise_cannot_reach_past_the_cadence(services) -> None:
    incident = open_p1(services)
    now = timezone.now()
    with pytest.raises(ValidationFailed) as caught:
        incident_post_update(
            incident=incident,
            body="We are on it.",
            next_update_at=now + timedelta(days=30),
            actor=ACTOR,
        )
    [message] = caught.value.fields["next_update_at"]
    assert message.startswith(
        "Customers of a P1 incident hear from us every 30 min: promise the next update no "
        "later than "
    )
    assert not incident.updates.exists()
    incident_post_update(
        incident=incident, body="On it.", next_update_at=now + timedelta(minutes=25), actor=ACTOR
    )
    incident.refresh_from_db()
    assert close_to(incident.next_update_due, now + timedelta(minutes=25), timedelta(seconds=1))


def test_a_p4_has_no_cadence_and_may_promise_any_time(services) -> None:
    incident = incident_open(title="Typo on the status page", severity="P4", actor=ACTOR)
    promised = timezone.now() + timedelta(days=30)
    update = incident_post_update(
        incident=incident, body="Fixed in the next release.", next_update_at=promised, actor=ACTOR
    )
    assert update.next_update_at == promised


def test_an_extended_outage_limits_a_promise_to_its_shorter_cadence(services) -> None:
    incident = open_p1(services)
    Incident.objects.filter(pk=incident.pk).update(
        eta_unknown_since=timezone.now() - timedelta(hours=5)
    )
    later = timezone.now() + timedelta(minutes=25)
    with pytest.raises(ValidationFailed) as caught:
        incident_post_update(
            incident=incident, body="Still no ETA.", next_update_at=later, actor=ACTOR
        )
    assert (
        "Customers of an extended outage hear from us every 15 min"
        in (caught.value.fields["next_update_at"][0])
    )
    # An ETA ends the extended outage: the severity's 30 minutes apply again.
    incident_post_update(
        incident=incident,
        body="Fixed within the hour.",
        eta=timezone.now() + timedelta(hours=1),
        next_update_at=later,
        actor=ACTOR,
    )


def test_downgrading_to_a_severity_without_cadence_stops_the_update_clock(services) -> None:
    incident = open_p1(services)
    assert incident.next_update_due is not None
    incident_change_severity(incident=incident, severity="P4", reason="Cosmetic", actor=ACTOR)
    incident.refresh_from_db()
    assert incident.next_update_due is None
    incident_change_severity(incident=incident, severity="P2", actor=ACTOR)
    incident.refresh_from_db()
    assert close_to(incident.next_update_due, timezone.now() + timedelta(hours=1))


def test_downgrading_keeps_a_sooner_update_that_customers_were_promised(services) -> None:
    incident = open_p1(services)
    due = incident.next_update_due
    incident_change_severity(incident=incident, severity="P3", actor=ACTOR)
    incident.refresh_from_db()
    assert incident.next_update_due == due


# --- the assessment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"hypothesis": ""}, {"hypothesis": "   "}, {"eta": None}, {"impact_scope_pct": None}, {}],
    ids=["empty", "blank", "unknown-eta", "unknown-scope", "nothing"],
)
def test_an_empty_assessment_does_not_stop_the_clock(services, kwargs) -> None:
    incident = open_p1(services)
    with pytest.raises(ValidationFailed) as caught:
        incident_assess(incident=incident, actor=ACTOR, **kwargs)
    assert caught.value.fields == {
        "root_cause_hypothesis": [
            "An assessment needs a root-cause hypothesis, an ETA or the share of customers "
            "affected; give at least one."
        ]
    }
    incident.refresh_from_db()
    assert incident.assessed_at is None


def test_an_assessment_may_be_corrected_once_made(services) -> None:
    incident = open_p1(services)
    incident_assess(incident=incident, hypothesis="Card processor timeouts", actor=ACTOR)
    incident_assess(incident=incident, hypothesis="", eta=None, actor=ACTOR)
    incident.refresh_from_db()
    assert incident.assessed_at is not None and incident.root_cause_hypothesis == ""
