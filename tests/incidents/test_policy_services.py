"""Editing the severity policy and the tenant-wide timers: checked and audited."""

from datetime import timedelta

import pytest

from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.incidents.models import PolicySettings, SeverityPolicy
from apps.incidents.services import policy_settings_update, severity_policy_update

ACTOR = "pytest"


def test_a_policy_edit_is_audited_with_what_changed(tenant_db) -> None:
    p2 = SeverityPolicy.objects.get(level="P2")
    severity_policy_update(
        policy=p2,
        changes={"update_interval": timedelta(minutes=45), "channels": ["email", "status_page"]},
        actor=ACTOR,
    )
    p2.refresh_from_db()
    assert p2.update_interval == timedelta(minutes=45)
    [entry] = AuditEvent.objects.filter(action="severity_policy.changed")
    assert (entry.object_id, entry.actor_label) == (str(p2.pk), ACTOR)
    assert entry.details["update_interval"] == {"old": "1:00:00", "new": "0:45:00"}
    assert entry.details["channels"]["new"] == ["email", "status_page"]
    assert set(entry.details) == {"update_interval", "channels"}

    severity_policy_update(
        policy=p2, changes={"update_interval": timedelta(minutes=45)}, actor=ACTOR
    )
    assert AuditEvent.objects.filter(action="severity_policy.changed").count() == 1  # no change


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"update_interval": timedelta(0)},
            "update_interval",
            "Give a duration longer than zero, e.g. 00:30:00.",
        ),
        (
            {"target_resolution": -timedelta(hours=1)},
            "target_resolution",
            "Give a duration longer than zero, e.g. 00:30:00.",
        ),
        ({"name": " "}, "name", "Give the level a name, e.g. 'P1 Critical'."),
        (
            {"postmortem_deadline": None},
            "postmortem_deadline",
            "Give a deadline, or set the post-mortem to none.",
        ),
        ({"channels": ["pigeon"]}, "channels", "Unknown channel(s): pigeon; use "),
        ({"level": "P4"}, "level", "Not an editable setting; use name, "),
    ],
    ids=["zero-interval", "negative-target", "blank-name", "no-deadline", "channel", "level"],
)
def test_a_policy_edit_that_would_break_the_clocks_is_refused(
    tenant_db, changes, field, message
) -> None:
    p1 = SeverityPolicy.objects.get(level="P1")
    with pytest.raises(ValidationFailed) as caught:
        severity_policy_update(policy=p1, changes=changes, actor=ACTOR)
    assert caught.value.message == "The P1 policy cannot be saved."
    assert caught.value.fields[field][0].startswith(message)
    p1.refresh_from_db()
    assert (p1.level, p1.update_interval) == ("P1", timedelta(minutes=30))
    assert not AuditEvent.objects.filter(action="severity_policy.changed").exists()


def test_a_timer_edit_is_checked_and_audited(tenant_db) -> None:
    with pytest.raises(ValidationFailed) as caught:
        policy_settings_update(
            changes={"extended_update_interval": timedelta(0), "traffic_profile": {"mon": []}},
            actor=ACTOR,
        )
    assert caught.value.fields["extended_update_interval"] == [
        "Give a duration longer than zero, e.g. 00:30:00."
    ]
    assert caught.value.fields["traffic_profile"][0].startswith("The traffic profile needs")

    policy_settings_update(changes={"assessment_due": timedelta(minutes=10)}, actor=ACTOR)

    assert PolicySettings.objects.get().assessment_due == timedelta(minutes=10)
    [entry] = AuditEvent.objects.filter(action="policy_settings.changed")
    assert entry.details == {"assessment_due": {"old": "0:15:00", "new": "0:10:00"}}
