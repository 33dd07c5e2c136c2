"""Post-incident reviews: created on resolve per policy, their timeline, the public version
on every public surface (and nothing internal there), and the reminders."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from apps.communications import delivery
from apps.communications.models import Delivery, Message
from apps.communications.services import message_publish
from apps.core.exceptions import Conflict, ValidationFailed
from apps.core.models import AuditEvent
from apps.incidents.services import (
    incident_change_severity,
    incident_open,
    incident_post_update,
    incident_resolve,
)
from apps.postmortems.models import ActionItem, PostIncidentReview
from apps.postmortems.services import reminders_send, review_complete, review_publish
from tests.conftest import TEST_HOST
from tests.factories import ALL_CLEAR, SubscriberFactory, UserFactory

ACTOR = "pytest"
SECRET = "SECRET-internal"


def resolved(severity: str, *, commander=None, capture=None, note: str = "") -> object:
    with capture(execute=True):
        incident = incident_open(
            title="Card payments failing",
            severity=severity,
            services={"payments": "major_outage"},
            body="We are investigating failed card payments.",
            commander=commander,
            actor=ACTOR,
        )
        incident_post_update(
            incident=incident,
            body="We found the cause.",
            status="identified",
            internal_note=note or f"{SECRET}: the primary database crashed",
            actor=ACTOR,
        )
        incident_resolve(incident=incident, body="Payments work again.", **ALL_CLEAR, actor=ACTOR)
    incident.refresh_from_db()
    return incident


@pytest.mark.parametrize(
    ("severity", "visibility", "deadline"),
    [
        ("P1", "public", timedelta(hours=48)),
        ("P2", "public", timedelta(hours=72)),
        ("P3", "internal", timedelta(weeks=1)),
    ],
)
def test_a_review_is_created_on_resolve_with_the_policys_deadline_and_visibility(
    catalog, django_capture_on_commit_callbacks, severity, visibility, deadline
) -> None:
    commander = UserFactory()
    incident = resolved(severity, commander=commander, capture=django_capture_on_commit_callbacks)
    review = PostIncidentReview.objects.get(incident=incident)
    assert review.visibility == visibility
    assert review.due_at == incident.resolved_at + deadline
    assert review.owner == commander
    assert review.status == "draft"


def test_a_p4_gets_no_review(catalog, django_capture_on_commit_callbacks) -> None:
    incident = resolved("P4", capture=django_capture_on_commit_callbacks)
    assert not PostIncidentReview.objects.filter(incident=incident).exists()


def test_the_timeline_is_built_from_the_incident_with_internal_entries_marked(
    catalog, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = incident_open(
            title="Card payments failing",
            severity="P2",
            services={"payments": "major_outage"},
            body="Investigating.",
            impact_scope_pct=30,
            actor=ACTOR,
        )
        incident_change_severity(incident=incident, severity="P1", reason="Bigger.", actor=ACTOR)
        incident_post_update(
            incident=incident, body="Found it.", internal_note="db crashed", actor=ACTOR
        )
        incident_resolve(incident=incident, body="Fixed.", **ALL_CLEAR, actor=ACTOR)
    review = PostIncidentReview.objects.get(incident=incident)
    entries = [(e.kind, e.internal) for e in review.timeline.all()]
    assert ("detection", True) in entries and ("acknowledgement", True) in entries
    assert ("severity_change", True) in entries and ("note", True) in entries
    assert ("update", False) in entries and ("resolution", False) in entries
    updates = [e.text for e in review.timeline.filter(kind="update")]
    assert updates == ["Investigating: Investigating.", "Investigating: Found it."]
    assert review.impact["customers_pct"] == 30 and review.impact["services"] == ["Payments"]
    assert review.root_cause == ALL_CLEAR["root_cause"]
    assert review.visibility == "public"  # P1 by the time it was resolved


def _published(incident) -> PostIncidentReview:
    review = PostIncidentReview.objects.get(incident=incident)
    review.summary = "Card payments failed for 2 hours. <script>alert(1)</script>"
    review.went_badly = f"{SECRET}: paging was slow"
    review.save()
    return review_publish(review=review, actor=ACTOR)


def test_a_published_public_review_shows_only_its_public_parts_everywhere(
    catalog, django_capture_on_commit_callbacks, smtp
) -> None:
    SubscriberFactory(email="ada@example.com", name="Ada")
    incident = resolved("P1", capture=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        review = _published(incident)
    assert review.status == "published" and review.published_at

    page = Client(HTTP_HOST=TEST_HOST)
    html = page.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Post-incident review" in html and "Card payments failed for 2 hours." in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert ALL_CLEAR["root_cause"] in html

    [found] = [
        i
        for i in page.get("/api/v2/incidents.json").json()["incidents"]
        if i["id"] == str(incident.pk)
    ]
    assert found["status"] == "postmortem"
    assert "Card payments failed for 2 hours." in found["postmortem_body"]
    assert found["postmortem_published_at"] is not None

    surfaces = {
        "incident page": html,
        "incidents.json": page.get("/api/v2/incidents.json").content.decode(),
        "summary.json": page.get("/api/v2/summary.json").content.decode(),
        "atom": page.get("/history.atom").content.decode(),
        "rss": page.get("/history.rss").content.decode(),
        "home": page.get("/").content.decode(),
    }
    message = Message.objects.get(incident=incident, kind="postmortem_published")
    assert "Card payments failed for 2 hours." in message.context["summary"]
    message = message_publish(message=message, actor=ACTOR, approver=True)
    delivery.fanout(message.pk)
    ids = list(Delivery.objects.filter(message=message).values_list("id", flat=True))
    delivery.send_batch(message.pk, "email", ids)
    [email] = smtp.to("ada@example.com")
    surfaces["e-mail"] = email.as_string()
    surfaces["message"] = str(message.rendered) + str(message.context)
    for name, text in surfaces.items():
        assert SECRET not in text, name
        assert "paging was slow" not in text, name
    # the internal note and the credits stay in the portal
    assert "the primary database crashed" not in surfaces["incidents.json"]


def test_an_unpublished_or_internal_review_never_reaches_the_status_page(
    catalog, django_capture_on_commit_callbacks
) -> None:
    p1 = resolved("P1", capture=django_capture_on_commit_callbacks)
    p3 = resolved("P3", capture=django_capture_on_commit_callbacks)
    internal = PostIncidentReview.objects.get(incident=p3)
    with pytest.raises(Conflict):
        review_publish(review=internal, actor=ACTOR)
    review_complete(review=internal, actor=ACTOR)
    body = Client(HTTP_HOST=TEST_HOST).get("/api/v2/incidents.json").json()["incidents"]
    statuses = {i["id"]: (i["status"], i["postmortem_body"]) for i in body}
    assert statuses[str(p1.pk)] == ("resolved", None)  # drafted, not published
    assert statuses[str(p3.pk)] == ("resolved", None)


def test_publishing_needs_a_summary_and_a_root_cause(
    catalog, django_capture_on_commit_callbacks
) -> None:
    incident = resolved("P2", capture=django_capture_on_commit_callbacks)
    review = PostIncidentReview.objects.get(incident=incident)
    review.summary, review.root_cause = "", ""
    review.save()
    with pytest.raises(ValidationFailed) as caught:
        review_publish(review=review, actor=ACTOR)
    assert set(caught.value.fields) == {"summary", "root_cause"}


def test_owners_are_reminded_before_the_deadline_once_and_when_overdue(
    catalog, django_capture_on_commit_callbacks
) -> None:
    owner = UserFactory(email="owner@example.com")
    incident = resolved("P1", commander=owner, capture=django_capture_on_commit_callbacks)
    review = PostIncidentReview.objects.get(incident=incident)
    mail.outbox.clear()

    assert reminders_send(now=review.due_at - timedelta(hours=30))["due_soon"] == 0
    soon = review.due_at - timedelta(hours=20)
    assert reminders_send(now=soon)["due_soon"] == 1
    assert reminders_send(now=soon + timedelta(minutes=1))["due_soon"] == 0  # once
    [reminder] = mail.outbox
    assert reminder.to == ["owner@example.com"]
    assert reminder.subject.startswith("[Test Tenant] Post-incident review due in 20 h")

    assert reminders_send(now=review.due_at + timedelta(hours=2))["overdue"] == 1
    assert "overdue" in mail.outbox[-1].subject
    assert reminders_send(now=review.due_at + timedelta(hours=3))["overdue"] == 0
    review_complete(review=review, actor=ACTOR)  # P1 reviews are public, but a draft is done too
    review.refresh_from_db()
    assert review.status == "completed"


def test_action_items_are_reminded_when_due(catalog, django_capture_on_commit_callbacks) -> None:
    owner = UserFactory(email="fixer@example.com")
    incident = resolved("P2", capture=django_capture_on_commit_callbacks)
    review = PostIncidentReview.objects.get(incident=incident)
    item = ActionItem.objects.create(
        review=review,
        title="Add failover drills",
        owner=owner,
        due_date=timezone.now().date() + timedelta(days=3),
        tracker_url="https://tracker.example.com/OPS-12",
    )
    mail.outbox.clear()
    now = timezone.now()
    assert reminders_send(now=now)["action_items"] == 0
    due = now + timedelta(days=3)
    assert reminders_send(now=due)["action_items"] >= 1
    [sent] = [m for m in mail.outbox if m.to == ["fixer@example.com"]]
    assert sent.subject == "[Test Tenant] Action item due: Add failover drills"
    assert "https://tracker.example.com/OPS-12" in sent.body
    item.refresh_from_db()
    assert item.reminded_at == due
    assert reminders_send(now=due)["action_items"] == 0


def _overdue_reviews(capture, *owners) -> list[PostIncidentReview]:
    reviews = []
    for owner in owners:
        incident = resolved("P1", commander=owner, capture=capture)
        reviews.append(PostIncidentReview.objects.get(incident=incident))
    return reviews


def test_a_refused_owner_neither_repeats_nor_stops_the_other_reminders(
    catalog, django_capture_on_commit_callbacks, smtp
) -> None:
    good = UserFactory(email="good@example.com")
    refused = UserFactory(email="gone@example.com")
    smtp.refuse["gone@example.com"] = "550 5.1.1 No such mailbox"
    # the refused owner's review comes first in one run and last in the next
    ours, theirs = _overdue_reviews(django_capture_on_commit_callbacks, refused, good)
    late = max(ours.due_at, theirs.due_at) + timedelta(hours=1)

    for minute in range(3):  # three ticks of the reminder job
        reminders_send(now=late + timedelta(minutes=minute))

    [sent] = smtp.to("good@example.com")
    assert "Post-incident review overdue" in sent["Subject"]
    assert smtp.to("gone@example.com") == []
    theirs.refresh_from_db()
    assert theirs.reminded_overdue_at == late and theirs.reminder_error == ""
    ours.refresh_from_db()
    assert "gone@example.com" in ours.reminder_error
    assert "550 5.1.1 No such mailbox" in ours.reminder_error
    # refused for good: recorded once, not tried again every minute
    failures = AuditEvent.objects.filter(
        action="postmortem.reminder_failed", object_id=str(ours.pk)
    )
    assert failures.count() == 1
    assert "550 5.1.1 No such mailbox" in failures.get().details["reason"]
    # staff see why on the review's page
    staff = Client(HTTP_HOST=TEST_HOST)
    staff.force_login(UserFactory(is_superuser=True))
    page = staff.get(f"/admin/postmortems/postincidentreview/{ours.pk}/change/")
    assert "550 5.1.1 No such mailbox" in page.content.decode()


def test_a_reminder_the_server_defers_goes_out_on_the_next_tick(
    catalog, django_capture_on_commit_callbacks, smtp
) -> None:
    owner = UserFactory(email="busy@example.com")
    [review] = _overdue_reviews(django_capture_on_commit_callbacks, owner)
    smtp.defer["busy@example.com"] = 1  # one "451 try again later", then accepted
    late = review.due_at + timedelta(hours=1)

    assert reminders_send(now=late)["overdue"] == 0
    review.refresh_from_db()
    assert review.reminded_overdue_at is None and "451" in review.reminder_error

    assert reminders_send(now=late + timedelta(minutes=1))["overdue"] == 1
    assert reminders_send(now=late + timedelta(minutes=2))["overdue"] == 0
    assert len(smtp.to("busy@example.com")) == 1
    review.refresh_from_db()
    assert review.reminded_overdue_at == late + timedelta(minutes=1)
    assert review.reminder_error == ""
