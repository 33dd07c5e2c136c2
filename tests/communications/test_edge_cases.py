"""The edge cases of DESIGN.md: cascading failures speak through the parent's thread,
regional incidents reach and name only their regions, and a false alarm gets an apology
only to those who heard of it, on the channels they heard it on."""

import pytest

from apps.communications import delivery
from apps.communications.models import Delivery, Message
from apps.communications.services import message_draft, message_publish
from apps.incidents.models import Region
from apps.incidents.services import (
    incident_attach_child,
    incident_change_severity,
    incident_edit,
    incident_mark_false_alarm,
    incident_open,
    incident_post_update,
    incident_resolve,
)
from apps.subscribers.services import subscriber_unsubscribe
from tests.factories import ALL_CLEAR, CustomerFactory, SubscriberFactory

ACTOR = "pytest"


def region(code: str) -> Region:
    return Region.objects.get(code=code)


def approve_and_fan_out(message: Message) -> Message:
    message = message_publish(message=message, actor=ACTOR, approver=True)
    delivery.fanout(message.pk)
    return message


def send_email(message: Message) -> None:
    ids = list(
        Delivery.objects.filter(message=message, channel="email").values_list("id", flat=True)
    )
    delivery.send_batch(message.pk, "email", ids)


def text_of(mail) -> str:
    return mail.get_payload()[0].get_payload(decode=True).decode()


# --- cascading ----------------------------------------------------------------------------


def test_children_speak_through_the_parent_one_message_per_parent_update(
    catalog, smtp, django_capture_on_commit_callbacks
) -> None:
    both = SubscriberFactory(  # affected through both children
        email="both@example.com",
        subscription__services=[catalog["payments"], catalog["api"]],
    )
    with django_capture_on_commit_callbacks(execute=True):
        parent = incident_open(
            title="Payment processing degraded",
            severity="P2",
            services={"payments": "partial_outage", "api": "degraded_performance"},
            body="Some payments fail.",
            actor=ACTOR,
        )
        children = [
            incident_open(
                title=f"{slug} subsystem failing",
                severity="P2",
                services={slug: "major_outage"},
                actor=ACTOR,
            )
            for slug in ("payments", "api")
        ]
        for child in children:
            incident_attach_child(child=child, parent=parent, actor=ACTOR)
            incident_post_update(incident=child, body=f"{child.title}: restarting.", actor=ACTOR)
        incident_post_update(incident=parent, body="A fix is rolling out.", actor=ACTOR)
    assert not Message.objects.filter(incident__in=children).exists()  # children say nothing
    thread = list(Message.objects.filter(incident=parent).order_by("id"))
    assert [m.kind for m in thread] == ["initial_alert", "progress_update"]
    for message in thread:
        approve_and_fan_out(message)
        send_email(message)
    deliveries = Delivery.objects.filter(subscriber=both, channel="email")
    assert sorted(deliveries.values_list("message_id", flat=True)) == [m.pk for m in thread]
    assert [m["Subject"] for m in smtp.to("both@example.com")] == [
        "[P2] Payment processing degraded",
        "[Investigating] Payment processing degraded",
    ]


# --- regional -----------------------------------------------------------------------------


def test_a_regional_incident_reaches_and_names_only_its_regions(catalog, smtp) -> None:
    eu = SubscriberFactory(email="eu@example.com", customer=CustomerFactory(region=region("eu")))
    us = SubscriberFactory(email="us@example.com", customer=CustomerFactory(region=region("us")))
    unknown = SubscriberFactory(email="anywhere@example.com")  # region unknown: told too
    incident = incident_open(
        title="Payments failing",
        severity="P2",
        services={"payments": "major_outage"},
        regions=["eu"],
        body="Card payments fail in Europe.",
        actor=ACTOR,
    )
    message = message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=["email"], actor=ACTOR
    )
    assert message.context["regions"] == ["Europe"]
    approve_and_fan_out(message)
    send_email(message)
    reached = set(Delivery.objects.filter(message=message).values_list("subscriber", flat=True))
    assert reached == {eu.pk, unknown.pk} and us.pk not in reached
    text = text_of(smtp.to("eu@example.com")[0])
    assert "We are experiencing an issue affecting Payments in Europe." in text


def test_the_resolution_reaches_everyone_told_even_after_the_regions_were_narrowed(
    catalog, smtp
) -> None:
    eu = SubscriberFactory(email="eu@example.com", customer=CustomerFactory(region=region("eu")))
    us = SubscriberFactory(email="us@example.com", customer=CustomerFactory(region=region("us")))
    incident = incident_open(
        title="Payments failing",
        severity="P2",
        services={"payments": "major_outage"},
        regions=["eu", "us"],
        body="Card payments fail.",
        actor=ACTOR,
    )
    alert = message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=["email"], actor=ACTOR
    )
    approve_and_fan_out(alert)
    send_email(alert)
    late = SubscriberFactory(
        email="late@example.com", customer=CustomerFactory(region=region("us"))
    )
    incident = incident_edit(incident=incident, regions=["eu"], actor=ACTOR)  # only Europe

    update = incident_resolve(
        incident=incident, body="Payments work again.", **ALL_CLEAR, actor=ACTOR
    )
    resolution = message_draft(kind="resolution", update=update, channels=["email"], actor=ACTOR)
    approve_and_fan_out(resolution)

    reached = set(Delivery.objects.filter(message=resolution).values_list("subscriber", flat=True))
    # Europe is affected; the US customer was told of the problem and hears it is over; the
    # one who subscribed later in the US never heard of it.
    assert reached == {eu.pk, us.pk} and late.pk not in reached
    send_email(resolution)
    assert smtp.to("us@example.com")[-1]["Subject"].startswith("[Resolved]")


def test_a_downgrade_does_not_cost_the_people_told_by_email_their_all_clear(
    catalog, smtp, django_capture_on_commit_callbacks
) -> None:
    told = SubscriberFactory(email="told@example.com")
    incident = incident_open(
        title="Payments failing",
        severity="P2",
        services={"payments": "major_outage"},
        body="Card payments fail.",
        actor=ACTOR,
    )
    alert = message_draft(kind="initial_alert", update=incident.updates.get(), actor=ACTOR)
    assert "email" in alert.channels
    approve_and_fan_out(alert)
    send_email(alert)
    later = SubscriberFactory(email="later@example.com")  # never heard of it by e-mail
    # Smaller than feared: P3's policy has no e-mail (in-app banner and status page only).
    incident = incident_change_severity(incident=incident, severity="P3", actor=ACTOR)
    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident=incident, body="Payments work again.", **ALL_CLEAR, actor=ACTOR)
    resolution = Message.objects.get(incident=incident, kind="resolution")
    assert set(resolution.channels) >= {"email", "in_app", "status_page"}
    assert "sms" not in resolution.channels  # nobody heard of it by SMS
    assert resolution.state == "sending"  # P3: no approval needed, and it went out
    delivery.fanout(resolution.pk)  # what the queued fan-out task does
    emailed = Delivery.objects.filter(message=resolution, channel="email")
    assert set(emailed.values_list("subscriber", flat=True)) == {told.pk}
    assert later.pk not in set(emailed.values_list("subscriber", flat=True))
    send_email(resolution)
    assert smtp.to("told@example.com")[-1]["Subject"] == "[Resolved] Payments failing"


def test_a_downgraded_false_alarm_still_apologises_by_email(
    catalog, django_capture_on_commit_callbacks
) -> None:
    told = SubscriberFactory(email="told@example.com")
    incident = incident_open(
        title="Payments failing",
        severity="P2",
        services={"payments": "major_outage"},
        body="Card payments fail.",
        actor=ACTOR,
    )
    alert = message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=["email"], actor=ACTOR
    )
    approve_and_fan_out(alert)
    send_email(alert)
    incident = incident_change_severity(incident=incident, severity="P4", actor=ACTOR)
    with django_capture_on_commit_callbacks(execute=True):
        incident_mark_false_alarm(incident=incident, note="Monitoring glitch.", actor=ACTOR)
    apology = Message.objects.get(incident=incident, kind="false_alarm")
    assert apology.channels == ["email"]
    assert apology.state == "sending"  # P4: no approval needed
    delivery.fanout(apology.pk)  # what the queued fan-out task does
    reached = set(Delivery.objects.filter(message=apology).values_list("subscriber", flat=True))
    assert reached == {told.pk}


# --- false alarm --------------------------------------------------------------------------


@pytest.fixture
def alerted(catalog, smtp):
    """A P2 incident whose initial alert went out by e-mail: Ada received it, Bob's address
    refused it, Cy's is still pending; Dee subscribed only afterwards."""
    people = {
        name: SubscriberFactory(email=f"{name}@example.com", name=name.title())
        for name in ("ada", "bob", "cy")
    }
    incident = incident_open(
        title="Payments failing",
        severity="P2",
        services={"payments": "major_outage"},
        body="Card payments fail.",
        actor=ACTOR,
    )
    alert = message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=["email"], actor=ACTOR
    )
    approve_and_fan_out(alert)
    smtp.refuse["bob@example.com"] = "550 5.1.1 No such mailbox"
    delivery.send_batch(
        alert.pk,
        "email",
        list(
            Delivery.objects.filter(message=alert)
            .exclude(subscriber=people["cy"])
            .values_list("id", flat=True)
        ),
    )
    people["dee"] = SubscriberFactory(email="dee@example.com")
    return incident, alert, people


def test_the_apology_goes_only_to_those_who_heard_on_their_channel(
    alerted, smtp, django_capture_on_commit_callbacks
) -> None:
    incident, alert, people = alerted
    statuses = dict(Delivery.objects.filter(message=alert).values_list("subscriber", "status"))
    assert statuses == {
        people["ada"].pk: "sent",
        people["bob"].pk: "failed",
        people["cy"].pk: "pending",
    }
    with django_capture_on_commit_callbacks(execute=True):
        incident_mark_false_alarm(incident=incident, note="Monitoring glitch.", actor=ACTOR)
    apology = Message.objects.get(incident=incident, kind="false_alarm")
    assert apology.channels == ["email"]  # where the alert went, nothing wider
    assert apology.state == "draft"  # P2: an approver's call, as for any P2 message
    approve_and_fan_out(apology)
    reached = set(Delivery.objects.filter(message=apology).values_list("subscriber", flat=True))
    # Ada read the alert and Cy's is still on its way (the sweep sends it); Bob's address
    # refused it and Dee subscribed afterwards: they never heard of the incident.
    assert reached == {people["ada"].pk, people["cy"].pk}
    send_email(apology)
    [mail] = [m for m in smtp.to("ada@example.com") if "False alarm" in m["Subject"]]
    assert mail["Subject"] == "[False alarm] Payments failing"
    assert "It turned out to be a false alarm" in text_of(mail)


def test_someone_who_unsubscribed_since_gets_no_apology(
    alerted, django_capture_on_commit_callbacks
) -> None:
    incident, _, people = alerted
    subscriber_unsubscribe(subscriber=people["ada"], actor=ACTOR)
    with django_capture_on_commit_callbacks(execute=True):
        incident_mark_false_alarm(incident=incident, actor=ACTOR)
    apology = approve_and_fan_out(Message.objects.get(incident=incident, kind="false_alarm"))
    reached = set(Delivery.objects.filter(message=apology).values_list("subscriber", flat=True))
    assert reached == {people["cy"].pk}


def test_a_false_alarm_nobody_heard_of_sends_nothing_and_cancels_waiting_drafts(
    catalog, django_capture_on_commit_callbacks
) -> None:
    SubscriberFactory(email="ada@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        incident = incident_open(
            title="Payments failing",
            severity="P2",
            services={"payments": "major_outage"},
            body="Card payments fail.",
            actor=ACTOR,
        )
    draft = Message.objects.get(incident=incident)
    assert draft.state == "draft"  # waiting for an approver
    with django_capture_on_commit_callbacks(execute=True):
        incident_mark_false_alarm(incident=incident, actor=ACTOR)
    draft.refresh_from_db()
    assert draft.state == "cancelled"  # it will never go out now
    assert not Message.objects.filter(kind="false_alarm").exists()


def test_an_unconfirmed_false_alarm_stays_internal(
    catalog, django_capture_on_commit_callbacks
) -> None:
    incident = incident_open(
        title="Error rate",
        severity="P3",
        services={"api": "degraded_performance"},
        source="grafana",
        actor=ACTOR,
    )
    with django_capture_on_commit_callbacks(execute=True):
        incident_mark_false_alarm(incident=incident, actor=ACTOR)
    assert not Message.objects.filter(incident=incident).exists()
