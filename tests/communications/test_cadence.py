"""The per-tenant cadence tick: commander reminders before an update or the initial
assessment is due, escalation when either is overdue, the extended-outage switch; each once
per due time, through a real SMTP server and a local Slack incoming webhook."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.communications import delivery
from apps.communications.cadence import EXTENDED_OUTAGE, cadence_tick
from apps.communications.models import (
    CadenceSettings,
    Delivery,
    Message,
    Reminder,
    ResponseContact,
    StaffAlert,
)
from apps.communications.services import message_approve, message_publish
from apps.communications.staff import reminder_claim
from apps.core.events import subscribe, unsubscribe
from apps.core.exceptions import ValidationFailed
from apps.core.tasks import tenant_tick
from apps.incidents.models import Incident
from apps.incidents.selectors import policy_settings
from apps.incidents.services import (
    incident_assess,
    incident_attach_child,
    incident_open,
    incident_post_update,
)
from apps.subscribers.choices import CustomerTier
from tests.factories import CustomerFactory, SubscriberFactory, UserFactory
from tests.fakes_chat import start_fake_chat

ACTOR = "pytest"


@pytest.fixture
def slack():
    fake, server = start_fake_chat(ok=(200, "ok"))
    yield fake
    server.shutdown()


@pytest.fixture
def staff(tenant_db, slack):
    CadenceSettings.objects.create(
        staff_slack_webhook_url=f"{slack.url}/services/T0/B0/staff",
        executive_name="Grace Hopper, CEO",
    )
    return {
        "commander": UserFactory(email="ic@example.com", time_zone="Europe/Paris"),
        "vp": ResponseContact.objects.create(
            name="VP Engineering", email="vp@example.com", severities=["P2"]
        ),
        "ceo": ResponseContact.objects.create(
            name="CEO", email="ceo@example.com", severities=["P1"]
        ),
    }


def open_incident(severity="P2", *, assessed=True, **kwargs):
    """An open, confirmed incident; assessed unless told otherwise, so that only the update
    clock runs."""
    incident = incident_open(
        title="Payments failing",
        severity=severity,
        services={"payments": "major_outage"},
        body="We are investigating failed card payments.",
        actor=ACTOR,
        **kwargs,
    )
    if assessed:
        incident = incident_assess(incident=incident, hypothesis="Card gateway", actor=ACTOR)
    return incident


def subjects(smtp, address: str) -> list[str]:
    return [m["Subject"].replace("\r\n", "") for m in smtp.to(address)]


def test_the_commander_is_reminded_five_minutes_before_an_update_is_due_once(
    catalog, staff, smtp, slack
) -> None:
    incident = open_incident(commander=staff["commander"])
    due = incident.next_update_due  # P2: one hour after opening
    assert cadence_tick(now=due - timedelta(minutes=6))["reminders"] == 0
    assert smtp.accepted == [] and slack.received == []

    cadence_tick(now=due - timedelta(minutes=4))
    cadence_tick(now=due - timedelta(minutes=3))  # the next tick: nothing twice
    [mail] = smtp.to("ic@example.com")
    [subject] = subjects(smtp, "ic@example.com")
    local_due = due.astimezone(ZoneInfo("Europe/Paris"))  # the commander's zone
    assert subject == (
        f"[Reminder] Customer update due at {local_due:%Y-%m-%d %H:%M} CET: "
        f"#{incident.pk} Payments failing (P2)"
    )
    assert f"/admin/incidents/incident/{incident.pk}/change/" in mail.get_payload()
    [post] = slack.received
    assert "Customer update due at" in post.json["text"] and "UTC" in post.json["text"]
    assert smtp.to("vp@example.com") == []  # a reminder is not an escalation

    # Posting the update promises a new time: that one is reminded of again.
    update = incident_post_update(incident=incident, body="Still on it.", actor=ACTOR)
    cadence_tick(now=update.next_update_at - timedelta(minutes=4))
    assert len(smtp.to("ic@example.com")) == 2


def test_an_overdue_update_is_escalated_to_the_severitys_response_contacts(
    catalog, staff, smtp, slack
) -> None:
    incident = open_incident(commander=staff["commander"])
    due = incident.next_update_due
    cadence_tick(now=due + timedelta(minutes=1))
    cadence_tick(now=due + timedelta(minutes=2))
    assert subjects(smtp, "ic@example.com") == [
        f"[Overdue] Customer update missed: #{incident.pk} Payments failing (P2)"
    ]
    assert len(smtp.to("vp@example.com")) == 1  # P2's contact
    assert smtp.to("ceo@example.com") == []  # P1 only
    assert [p.json["text"].startswith("*[Overdue]") for p in slack.received] == [True]
    reminder = Reminder.objects.get(incident=incident)
    assert reminder.kind == "update_overdue" and reminder.due_at == due


def test_the_initial_assessment_is_reminded_then_escalated_also_in_triage(
    catalog, staff, smtp
) -> None:
    incident = incident_open(
        title="Error rate up",
        severity="P2",
        services={"api": "degraded_performance"},
        source="grafana",  # triage: internal alerts still go out
        commander=staff["commander"],
        actor=ACTOR,
    )
    detected = incident.detected_at
    cadence_tick(now=detected + timedelta(minutes=9))
    assert smtp.accepted == []
    cadence_tick(now=detected + timedelta(minutes=11))
    cadence_tick(now=detected + timedelta(minutes=16))
    cadence_tick(now=detected + timedelta(minutes=17))
    sent = subjects(smtp, "ic@example.com")
    assert len(sent) == 2
    assert sent[0].startswith("[Reminder] Initial assessment due at ") and "CET" in sent[0]
    assert sent[1] == f"[Overdue] Initial assessment missed: #{incident.pk} Error rate up (P2)"
    assert len(smtp.to("vp@example.com")) == 1  # escalated once


def test_an_assessed_incident_is_not_chased(catalog, staff, smtp) -> None:
    incident = open_incident(commander=staff["commander"], assessed=False)
    incident_assess(incident=incident, hypothesis="Card gateway timeouts", actor=ACTOR)
    cadence_tick(now=incident.detected_at + timedelta(minutes=20))
    assert not any("assessment" in s for s in subjects(smtp, "ic@example.com"))


def test_a_child_incident_has_no_update_reminders_of_its_own(catalog, staff, smtp) -> None:
    parent = open_incident(commander=staff["commander"])
    child = open_incident(commander=staff["commander"])
    incident_attach_child(child=child, parent=parent, actor=ACTOR)
    cadence_tick(now=parent.next_update_due + timedelta(minutes=1))
    assert list(Reminder.objects.values_list("incident_id", flat=True)) == [parent.pk]


def test_a_key_is_claimed_once(catalog) -> None:
    incident = open_incident()
    now = timezone.now()
    first = reminder_claim(key="k", kind="update_due", due_at=now, incident=incident)
    second = reminder_claim(key="k", kind="update_due", due_at=now, incident=incident)
    assert first is not None and second is None
    assert Reminder.objects.count() == 1


def test_a_staff_alert_is_retried_on_the_next_tick_after_a_transient_error(
    catalog, staff, smtp, slack
) -> None:
    slack.answers = [(500, "rollup_error")]
    incident = open_incident(commander=staff["commander"])
    due = incident.next_update_due
    cadence_tick(now=due - timedelta(minutes=4))
    alert = StaffAlert.objects.get(channel="slack")
    assert alert.status == "pending" and "500" in alert.error
    cadence_tick(now=due - timedelta(minutes=3))
    alert.refresh_from_db()
    assert alert.status == "sent" and alert.attempts == 2
    assert len(slack.received) == 2  # the refused post and the delivered one


def test_a_refused_staff_alert_fails_with_the_reason(catalog, staff, smtp, slack) -> None:
    slack.answers = [(404, "no_service")]
    incident = open_incident(commander=staff["commander"])
    cadence_tick(now=incident.next_update_due - timedelta(minutes=4))
    alert = StaffAlert.objects.get(channel="slack")
    assert alert.status == "failed" and "404" in alert.error and "no_service" in alert.error
    assert StaffAlert.objects.get(channel="email").status == "sent"


# --- extended outage ----------------------------------------------------------------------


@pytest.fixture
def extended_events(django_capture_on_commit_callbacks):
    seen: list[dict] = []

    def record(event) -> None:
        seen.append(event.data)

    subscribe(EXTENDED_OUTAGE, record)
    yield seen
    unsubscribe(EXTENDED_OUTAGE, record)


def test_an_outage_without_eta_becomes_extended_once(
    catalog, staff, smtp, extended_events, django_capture_on_commit_callbacks
) -> None:
    enterprise = CustomerFactory(tier=CustomerTier.ENTERPRISE)
    big = SubscriberFactory(email="big@example.com", customer=enterprise)
    SubscriberFactory(email="small@example.com", customer=CustomerFactory())
    incident = open_incident(severity="P1", commander=staff["commander"])
    opened = incident.started_at
    # The next update is due far ahead (as a promise could be before promises were capped).
    Incident.objects.filter(pk=incident.pk).update(
        next_update_due=opened + timedelta(hours=4, minutes=50)
    )
    before = opened + timedelta(hours=3, minutes=59)
    assert cadence_tick(now=before)["reminders"] == 0

    at = opened + timedelta(hours=4, minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        cadence_tick(now=at)
    with django_capture_on_commit_callbacks(execute=True):
        cadence_tick(now=at + timedelta(minutes=1))
    assert extended_events == [{"incident_id": incident.pk}]  # one event, once

    incident.refresh_from_db()
    assert incident.next_update_due == at + timedelta(minutes=15)  # the extended cadence
    note = Message.objects.get(incident=incident, kind="executive_note")
    assert note.state == "draft" and note.requires_approval and note.channels == ["email"]
    assert note.segment.tiers == ["enterprise"]
    assert "Grace Hopper, CEO" in note.rendered["email"]["text"]
    [mail] = smtp.to("ceo@example.com")  # P1's response contact
    assert mail["Subject"].startswith("[Extended outage]")
    assert f"message #{note.pk}" in mail.get_payload()
    assert incident.updates.filter(internal_note__startswith="Extended outage").count() == 1

    message_approve(message=note, actor=ACTOR)
    message_publish(message=note, actor=ACTOR)
    delivery.fanout(note.pk)
    assert list(Delivery.objects.filter(message=note).values_list("subscriber", flat=True)) == [
        big.pk
    ]  # enterprise customers only


def test_the_executive_note_cannot_be_approved_without_a_signature(catalog, staff, smtp) -> None:
    CadenceSettings.objects.filter(pk=1).update(executive_name="")
    incident = open_incident(severity="P1")
    cadence_tick(now=incident.started_at + timedelta(hours=4, minutes=1))
    note = Message.objects.get(incident=incident, kind="executive_note")
    with pytest.raises(ValidationFailed) as caught:
        message_approve(message=note, actor=ACTOR)
    assert (
        "The placeholder 'executive_name' is empty in the email text."
        in caught.value.fields["context"]
    )


def test_the_next_progress_message_of_an_extended_outage_says_what_we_know_and_dont(
    catalog, staff, smtp, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_incident(severity="P2", commander=staff["commander"], assessed=False)
        incident_assess(incident=incident, hypothesis="a failing card gateway", actor=ACTOR)
        incident_post_update(incident=incident, body="Looking into it.", actor=ACTOR)
    cadence_tick(now=incident.started_at + timedelta(hours=4, minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        incident_post_update(incident=incident, body="Failover in progress.", actor=ACTOR)
        incident_post_update(incident=incident, body="Failover done.", actor=ACTOR)
    kinds = list(
        Message.objects.filter(incident=incident, update__isnull=False)
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == [
        "initial_alert",
        "progress_update",
        "extended_outage",  # the first progress message after the switch
        "progress_update",
    ]
    extended = Message.objects.get(incident=incident, kind="extended_outage")
    text = extended.rendered["email"]["text"]
    assert "What we know: Payments is affected. Our working theory: a failing card gateway." in (
        text
    )
    assert "What we don't know yet: When everything will be back to normal" in text
    assert "Failover in progress." in text
    assert extended.rendered["email"]["subject"].endswith("what we know and what we don't")
    # The short texts promise the cadence the tenant set (15 minutes by default).
    assert "is ongoing. Updates every 15 minutes:" in extended.rendered["social"]["text"]


def test_the_extended_outage_promises_the_tenants_own_interval(
    catalog, staff, django_capture_on_commit_callbacks
) -> None:
    settings = policy_settings()
    settings.extended_update_interval = timedelta(minutes=30)
    settings.save()
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_incident(severity="P2", commander=staff["commander"], assessed=False)
        incident_post_update(incident=incident, body="Looking into it.", actor=ACTOR)
    cadence_tick(now=incident.started_at + timedelta(hours=4, minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        incident_post_update(incident=incident, body="Failover in progress.", actor=ACTOR)
    extended = Message.objects.get(incident=incident, kind="extended_outage")
    assert "Updates every 30 minutes:" in extended.rendered["social"]["text"]


def test_an_outage_with_an_eta_is_not_extended(catalog, staff) -> None:
    incident = open_incident(severity="P1")
    incident_assess(incident=incident, eta=timezone.now() + timedelta(hours=6), actor=ACTOR)
    cadence_tick(now=incident.started_at + timedelta(hours=5))
    assert not Reminder.objects.filter(kind="extended_outage").exists()
    assert not Message.objects.filter(kind="executive_note").exists()


def test_the_tenant_tick_runs_the_cadence(catalog, staff, smtp) -> None:
    incident = open_incident(commander=staff["commander"], assessed=False)
    Incident.objects.filter(pk=incident.pk).update(
        detected_at=timezone.now() - timedelta(minutes=20)
    )  # detected 20 minutes ago: its assessment is overdue now
    assert "apps.communications.cadence.cadence_tick" in tenant_tick()
    assert subjects(smtp, "ic@example.com") == [
        f"[Overdue] Initial assessment missed: #{incident.pk} Payments failing (P2)"
    ]
