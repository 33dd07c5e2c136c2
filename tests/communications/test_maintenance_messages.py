"""What subscribers and staff hear about a maintenance window: the notice, reminders before
the start, started, completed, rescheduled, cancelled, and the overrun 30 minutes before the
planned end of a window still in progress."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.communications import delivery
from apps.communications.cadence import cadence_tick
from apps.communications.maintenance import cancellation_for_maintenance
from apps.communications.models import CadenceSettings, Delivery, Message, StaffAlert
from apps.communications.services import message_draft
from apps.core.events import DomainEvent
from apps.core.exceptions import Conflict, ValidationFailed
from apps.incidents.models import Region
from apps.incidents.services import (
    maintenance_cancel,
    maintenance_complete,
    maintenance_reschedule,
    maintenance_schedule,
    maintenance_start,
)
from tests.factories import CustomerFactory, SubscriberFactory, UserFactory
from tests.fakes_chat import start_fake_chat

ACTOR = "pytest"


@pytest.fixture
def audience(catalog):
    eu = CustomerFactory(region=Region.objects.get(code="eu"), time_zone="Europe/Paris")
    us = CustomerFactory(region=Region.objects.get(code="us"))
    return {
        "ada": SubscriberFactory(email="ada@example.com", name="Ada", customer=eu),
        "us": SubscriberFactory(email="us@example.com", customer=us),
        "no_maintenance": SubscriberFactory(
            email="quiet@example.com", customer=eu, subscription__kinds=["incidents"]
        ),
    }


def schedule(start, *, hours=2, actor=ACTOR):
    return maintenance_schedule(
        title="Database upgrade",
        services=["payments"],
        regions=["eu"],
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=hours),
        customer_action="Retry failed payments after the window.",
        actor=actor,
    )


def kinds(window) -> list[str]:
    return list(
        Message.objects.filter(maintenance=window).order_by("id").values_list("kind", flat=True)
    )


def send_all(message, smtp) -> None:
    delivery.fanout(message.pk)
    ids = list(Delivery.objects.filter(message=message).values_list("id", flat=True))
    delivery.send_batch(message.pk, "email", ids)


def text_of(mail) -> str:
    return mail.get_payload()[0].get_payload(decode=True).decode()


def test_scheduling_sends_the_notice_to_the_affected_region_in_local_time(
    audience, smtp, django_capture_on_commit_callbacks
) -> None:
    start = (timezone.now() + timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        window = schedule(start)
    notice = Message.objects.get(maintenance=window)
    assert notice.kind == "maintenance_notice"
    assert notice.state == "sending"  # maintenance needs no approval
    # The short texts say what and where too: a social post reaches every customer.
    assert notice.rendered["social"]["text"].startswith(
        "Test Tenant: maintenance on Payments in Europe "
    )
    send_all(notice, smtp)
    assert [m["To"] for m in smtp.accepted] == ["ada@example.com"]  # EU, wants maintenance
    text = text_of(smtp.accepted[0])
    local_start = start.astimezone(ZoneInfo("Europe/Paris"))
    assert f"Window: {local_start:%Y-%m-%d %H:%M} CET" in text
    assert "maintenance on Payments in Europe" in text  # the region is named
    assert "What to do: Retry failed payments after the window." in text


def test_reminders_go_out_72_24_and_1_hour_before_once_each(
    audience, django_capture_on_commit_callbacks
) -> None:
    start = timezone.now() + timedelta(hours=80)
    with django_capture_on_commit_callbacks(execute=True):
        window = schedule(start)
        for before in (timedelta(hours=73), timedelta(hours=71), timedelta(hours=70)):
            cadence_tick(now=start - before)  # 73 h: nothing yet; then the 72 h one, once
        cadence_tick(now=start - timedelta(hours=23, minutes=59))
        cadence_tick(now=start - timedelta(minutes=59))
        cadence_tick(now=start - timedelta(minutes=30))
    reminders = Message.objects.filter(maintenance=window, kind="maintenance_reminder")
    assert [m.context["starts_in"] for m in reminders.order_by("id")] == [
        "72 hours",
        "24 hours",
        "1 hour",
    ]
    assert all(m.state == "sending" for m in reminders)
    assert reminders.order_by("id").first().rendered["email"]["subject"] == (
        "[Reminder] Database upgrade starts in 72 hours"
    )


def test_the_reminder_hours_are_the_tenants_choice(
    audience, django_capture_on_commit_callbacks
) -> None:
    CadenceSettings.objects.create(maintenance_reminder_hours=[48, 2])
    start = timezone.now() + timedelta(hours=80)
    window = schedule(start)
    for hours in (72, 47, 24, 3):
        cadence_tick(now=start - timedelta(hours=hours))
    reminders = Message.objects.filter(maintenance=window, kind="maintenance_reminder")
    assert [m.context["starts_in"] for m in reminders] == ["48 hours"]
    cadence_tick(now=start - timedelta(hours=1, minutes=59))
    cadence_tick(now=start - timedelta(minutes=30))
    assert [m.context["starts_in"] for m in reminders.order_by("id")] == ["48 hours", "2 hours"]


def test_a_window_announced_late_skips_the_reminders_its_notice_made_pointless(
    audience, django_capture_on_commit_callbacks
) -> None:
    start = timezone.now() + timedelta(hours=3)
    with django_capture_on_commit_callbacks(execute=True):
        window = schedule(start)
    with django_capture_on_commit_callbacks(execute=True):
        cadence_tick(now=timezone.now() + timedelta(minutes=1))  # 72 h and 24 h are past
        cadence_tick(now=start - timedelta(minutes=59))
    assert kinds(window) == ["maintenance_notice", "maintenance_reminder"]
    assert Message.objects.get(kind="maintenance_reminder").context["starts_in"] == "1 hour"


def test_started_completed_and_rescheduled_are_announced(
    audience, smtp, django_capture_on_commit_callbacks
) -> None:
    start = (timezone.now() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    later = start + timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        window = schedule(start)
        maintenance_reschedule(
            window=window,
            scheduled_start=later,
            scheduled_end=later + timedelta(hours=2),
            actor=ACTOR,
        )
        maintenance_start(window=window, actor=ACTOR)
        maintenance_complete(window=window, actor=ACTOR)
    assert kinds(window) == [
        "maintenance_notice",
        "maintenance_rescheduled",
        "maintenance_started",
        "maintenance_completed",
    ]
    moved = Message.objects.get(kind="maintenance_rescheduled")
    send_all(moved, smtp)
    text = text_of(smtp.to("ada@example.com")[0])
    paris = ZoneInfo("Europe/Paris")
    assert (
        f"planned for {start.astimezone(paris):%Y-%m-%d %H:%M} CET moves to "
        f"{later.astimezone(paris):%Y-%m-%d %H:%M} CET" in text
    )


def test_a_cancelled_window_is_called_off_for_those_who_were_told(
    audience, smtp, django_capture_on_commit_callbacks
) -> None:
    start = (timezone.now() + timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        window = schedule(start)
    notice = Message.objects.get(maintenance=window)
    send_all(notice, smtp)
    late = SubscriberFactory(email="late@example.com", customer=audience["ada"].customer)
    smtp.accepted.clear()
    with django_capture_on_commit_callbacks(execute=True):
        maintenance_cancel(window=window, reason="We found a way to upgrade live.", actor=ACTOR)
    assert kinds(window) == ["maintenance_notice", "maintenance_cancelled"]
    cancelled = Message.objects.get(kind="maintenance_cancelled")
    assert cancelled.state == "sending"
    # The page and the banner drop the window by themselves; the rest hear it where told.
    assert "status_page" not in cancelled.channels and "in_app" not in cancelled.channels
    assert set(cancelled.channels) == set(notice.channels) - {"status_page", "in_app"}
    assert cancelled.rendered["email"]["subject"] == "[Cancelled] Database upgrade"
    send_all(cancelled, smtp)
    # Ada heard of the window; the US customer never did, nor did someone who subscribed
    # after the notice: telling them it is off would only confuse them.
    assert [m["To"] for m in smtp.accepted] == ["ada@example.com"]
    assert not Delivery.objects.filter(message=cancelled, subscriber=late).exists()
    text = text_of(smtp.accepted[0])
    paris = ZoneInfo("Europe/Paris")
    begin, end = start.astimezone(paris), (start + timedelta(hours=2)).astimezone(paris)
    assert (
        f"The maintenance on Payments in Europe planned for {begin:%Y-%m-%d %H:%M} CET to "
        f"{end:%Y-%m-%d %H:%M} CET is cancelled" in text
    )
    assert "We found a way to upgrade live." in text
    # The handler may run twice: one cancellation.
    event = DomainEvent(name="maintenance.cancelled", schema="", data={"window_id": window.pk})
    cancellation_for_maintenance(event)
    assert kinds(window) == ["maintenance_notice", "maintenance_cancelled"]


def test_cancelling_a_window_nobody_heard_of_sends_nothing_and_stops_what_waits(
    audience, django_capture_on_commit_callbacks
) -> None:
    start = timezone.now() + timedelta(days=4)
    window = schedule(start)  # without on-commit callbacks: no notice went out
    waiting = message_draft(
        kind="maintenance_reminder",
        maintenance=window,
        extra={"starts_in": "1 hour"},
        requires_approval=True,
        actor=ACTOR,
    )
    with django_capture_on_commit_callbacks(execute=True):
        maintenance_cancel(window=window, actor=ACTOR)
    waiting.refresh_from_db()
    assert waiting.state == "cancelled"
    assert kinds(window) == ["maintenance_reminder"]  # no cancellation: nobody was told
    assert not Delivery.objects.filter(message__maintenance=window).exists()


def test_reminders_follow_a_rescheduled_start(audience, django_capture_on_commit_callbacks):
    start = timezone.now() + timedelta(hours=30)
    window = schedule(start)
    cadence_tick(now=start - timedelta(hours=23))  # the 24 h reminder for the old start
    later = start + timedelta(days=4)
    maintenance_reschedule(
        window=window, scheduled_start=later, scheduled_end=later + timedelta(hours=1), actor=ACTOR
    )
    cadence_tick(now=start - timedelta(hours=22))  # the old start's points mean nothing now
    cadence_tick(now=later - timedelta(hours=23))
    starts = [
        m.context["window_start"]
        for m in Message.objects.filter(kind="maintenance_reminder").order_by("id")
    ]
    assert starts == [start.isoformat(), later.isoformat()]


# --- overrun ------------------------------------------------------------------------------


@pytest.fixture
def staff_slack(tenant_db):
    fake, server = start_fake_chat()
    CadenceSettings.objects.create(
        staff_slack_webhook_url=f"{fake.url}/services/T0/B0/staff",
        staff_emails=["ops@example.com"],
    )
    yield fake
    server.shutdown()


def test_a_window_still_running_30_minutes_before_its_end_overruns_once(
    audience, smtp, staff_slack, django_capture_on_commit_callbacks
) -> None:
    planner = UserFactory(email="planner@example.com", time_zone="Europe/Paris")
    start = timezone.now() + timedelta(minutes=5)
    window = schedule(start, hours=2, actor=planner)
    maintenance_start(window=window, actor=ACTOR)
    end = window.scheduled_end
    cadence_tick(now=end - timedelta(minutes=31))
    assert not StaffAlert.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        cadence_tick(now=end - timedelta(minutes=29))
        cadence_tick(now=end - timedelta(minutes=28))
    window.refresh_from_db()
    # 50% of the planned two hours, rounded up to the quarter hour
    assert end + timedelta(hours=1) <= window.scheduled_end < end + timedelta(hours=1, minutes=15)
    assert window.scheduled_end.minute % 15 == 0 and window.scheduled_end.second == 0
    overrun = Message.objects.get(maintenance=window, kind="maintenance_overrun")
    assert overrun.state == "sending"
    assert overrun.context["revised_end"] == window.scheduled_end.isoformat()
    send_all(overrun, smtp)
    paris_end = window.scheduled_end.astimezone(ZoneInfo("Europe/Paris"))
    assert f"New expected end: {paris_end:%Y-%m-%d %H:%M} CET" in text_of(
        smtp.to("ada@example.com")[0]
    )
    # Staff: the window's planner, the tenant's staff addresses and the staff channel
    [planner_mail] = smtp.to("planner@example.com")
    assert planner_mail["Subject"] == "[Overrun] Maintenance still in progress: Database upgrade"
    assert len(smtp.to("ops@example.com")) == 1
    [post] = staff_slack.received
    assert "still in progress" in post.json["text"]
    assert window.updates.filter(body__startswith="Still in progress 30 minutes").count() == 1


def test_a_completed_window_does_not_overrun(audience, staff_slack) -> None:
    window = schedule(timezone.now() + timedelta(minutes=5))
    maintenance_start(window=window, actor=ACTOR)
    maintenance_complete(window=window, actor=ACTOR)
    cadence_tick(now=window.scheduled_end - timedelta(minutes=20))
    assert not Message.objects.filter(kind="maintenance_overrun").exists()
    assert staff_slack.received == []


def test_rescheduling_refuses_a_started_window_and_a_past_start(audience) -> None:
    window = schedule(timezone.now() + timedelta(hours=5))
    with pytest.raises(ValidationFailed) as caught:
        maintenance_reschedule(
            window=window,
            scheduled_start=timezone.now() - timedelta(hours=1),
            scheduled_end=timezone.now() + timedelta(hours=1),
            actor=ACTOR,
        )
    assert "is in the past" in caught.value.fields["scheduled_start"][0]
    maintenance_start(window=window, actor=ACTOR)
    with pytest.raises(Conflict) as refused:
        maintenance_reschedule(
            window=window,
            scheduled_start=timezone.now() + timedelta(days=1),
            scheduled_end=timezone.now() + timedelta(days=1, hours=1),
            actor=ACTOR,
        )
    assert "extend it instead" in refused.value.message
