"""Approved credits reach Salesforce however it behaves: each credit on its own, retried on
the `retry` queue for hours, caught up by the per-tenant sweep after an outage, pushed
again when its amount changes. Through simple-salesforce against the local fake org."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from celery.signals import task_retry
from celery.utils.time import get_exponential_backoff_interval
from django.db.models import F
from django.test import Client, override_settings

from apps.core.exceptions import TransientError
from apps.core.periodic import tenant_jobs
from apps.postmortems.models import SlaCredit
from apps.postmortems.salesforce import credits_push_salesforce
from apps.postmortems.services import credits_approve, credits_compute
from apps.postmortems.tasks import push_credits
from apps.subscribers.services.crm import crm_connection_create
from tests.conftest import TEST_HOST
from tests.factories import CustomerFactory, UserFactory
from tests.postmortems.conftest import past_incident

ACTOR = "pytest"
JUNE = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
TASKS = "/sobjects/Task"
SWEEP = "apps.postmortems.periodic.salesforce_credits"  # a per-tenant periodic job
DOWN = [{"errorCode": "SERVER_UNAVAILABLE", "message": "Salesforce is down for maintenance"}]
REFUSED = [
    {
        "errorCode": "FIELD_INTEGRITY_EXCEPTION",
        "message": "Related To ID: id value of incorrect type: 0015g00000WRONGAAA",
        "fields": ["WhatId"],
    }
]


@pytest.fixture
def connected(salesforce, tenant_db) -> None:
    with override_settings(DEBUG=True):  # the instance URL names this machine
        crm_connection_create(
            provider="salesforce",
            base_url=salesforce.url,
            credentials={"access_token": salesforce.token},
            actor=ACTOR,
        )


def customer(name: str, account: str) -> None:
    CustomerFactory(
        name=name,
        tier="business",
        monthly_fee=Decimal("2500"),
        currency="USD",
        salesforce_account_id=account,
    )


@pytest.fixture
def approved(catalog, policy) -> list[SlaCredit]:
    """Two approved credits of USD 250, for Globex and Initech (both on Salesforce)."""
    customer("Globex", "0015g00000GLOBXAAA")
    customer("Initech", "0015g00000INITCAAA")
    incident = past_incident(
        start=JUNE, end=JUNE + timedelta(hours=1), services={"payments": "major_outage"}
    )
    credits = credits_compute(incident=incident, actor=ACTOR)
    credits_approve(credits=credits, actor=ACTOR)
    return sorted(credits, key=lambda c: c.pk)


def later(minutes: float = 16) -> None:
    """Time passes: what was tried (or queued) was so `minutes` ago."""
    SlaCredit.objects.filter(salesforce_attempted_at__isnull=False).update(
        salesforce_attempted_at=F("salesforce_attempted_at") - timedelta(minutes=minutes)
    )


def task_posts(salesforce) -> int:
    return len(salesforce.served("POST", TASKS))


def test_credits_not_pushed_while_salesforce_was_down_are_pushed_by_the_sweep_once_it_is_up(
    connected, salesforce, approved, eager
) -> None:
    ids = [c.pk for c in approved]
    salesforce.fail_next(503, DOWN, times=50, match=TASKS)
    with pytest.raises(TransientError):  # what the task retries, until it gives up
        credits_push_salesforce(credit_ids=ids)
    for credit in SlaCredit.objects.filter(pk__in=ids):
        assert credit.salesforce_task_id == ""
        assert (
            "503" in credit.salesforce_error and "down for maintenance" in credit.salesforce_error
        )

    salesforce.failures.clear()  # Salesforce is back
    sweep = tenant_jobs[SWEEP]  # runs on every tenant tick
    assert sweep() == 0  # tried a moment ago: not again within the interval
    assert salesforce.tasks == []
    later()
    assert sweep() == 2  # queued (here: run at once)
    assert sorted(t["WhatId"] for t in salesforce.tasks) == [
        "0015g00000GLOBXAAA",
        "0015g00000INITCAAA",
    ]
    for credit in SlaCredit.objects.filter(pk__in=ids):
        assert credit.salesforce_task_id in {t["Id"] for t in salesforce.tasks}
        assert credit.salesforce_pushed_amount == credit.amount == Decimal("250.00")
        assert credit.salesforce_error == ""
    later()
    assert sweep() == 0  # all in Salesforce: nothing more
    assert len(salesforce.tasks) == 2


def test_a_refused_credit_keeps_its_reason_and_the_others_are_pushed(
    connected, salesforce, approved, eager
) -> None:
    first, second = approved
    salesforce.fail_next(400, REFUSED, match=TASKS)  # the first credit's Task
    assert push_credits.delay([first.pk, second.pk]).get() == {"pushed": 1, "refused": 1}
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.salesforce_refused and first.salesforce_task_id == ""
    assert "FIELD_INTEGRITY_EXCEPTION" in first.salesforce_error
    assert "incorrect type" in first.salesforce_error
    [task] = salesforce.tasks
    assert (
        second.salesforce_task_id == task["Id"]
        and task["WhatId"] == second.customer.salesforce_account_id
    )

    posts = task_posts(salesforce)
    sweep = tenant_jobs[SWEEP]
    for _ in range(3):  # tick after tick, interval after interval
        later()
        assert sweep() == 0
    assert credits_push_salesforce(credit_ids=[first.pk]) == {"pushed": 0}  # a redelivery
    assert task_posts(salesforce) == posts  # Salesforce was not asked again

    # Someone fixed the account in Salesforce and pushes the credit again from the admin.
    admin = Client(HTTP_HOST=TEST_HOST)
    admin.force_login(UserFactory(is_superuser=True))
    response = admin.post(
        "/admin/postmortems/slacredit/",
        {"action": "push_to_salesforce", "_selected_action": [str(first.pk)]},
        follow=True,
    )
    assert "1 credit(s) queued for Salesforce" in response.content.decode()
    assert credits_push_salesforce(credit_ids=[first.pk]) == {"pushed": 1}  # the queued task
    first.refresh_from_db()
    assert not first.salesforce_refused and first.salesforce_error == ""
    assert first.salesforce_task_id in {t["Id"] for t in salesforce.tasks}


def test_a_credit_that_grew_after_it_was_pushed_is_pushed_again(
    connected, salesforce, catalog, policy, eager
) -> None:
    customer("Globex", "0015g00000GLOBXAAA")
    outage = past_incident(start=JUNE, end=None, services={"payments": "major_outage"})
    # An extended outage: the credit is pre-approved, and grows as the outage goes on.
    [credit] = credits_compute(
        incident=outage, now=JUNE + timedelta(hours=1), pre_approve=True, actor=ACTOR
    )
    assert push_credits.delay([credit.pk]).get() == {"pushed": 1}
    [task] = salesforce.tasks
    assert task["Subject"] == "SLA credit USD 250.00 (June 2026)"

    [credit] = credits_compute(
        incident=outage, now=JUNE + timedelta(hours=12), pre_approve=True, actor=ACTOR
    )
    assert credit.amount == Decimal("625.00")
    assert push_credits.delay([credit.pk]).get() == {"pushed": 1}
    assert [task] == salesforce.tasks  # the same Task, updated: never two to add up
    assert task["Subject"] == "SLA credit USD 625.00 (June 2026)"
    assert "the Task said USD 250.00 before" in task["Description"]
    credit.refresh_from_db()
    assert credit.salesforce_pushed_amount == Decimal("625.00")
    assert credit.salesforce_task_id == task["Id"]
    assert push_credits.delay([credit.pk]).get() == {"pushed": 0}  # as it is: nothing

    # Someone deleted the Task in Salesforce; the outage goes on and the credit grows again.
    salesforce.tasks.clear()
    [credit] = credits_compute(
        incident=outage, now=JUNE + timedelta(days=3), pre_approve=True, actor=ACTOR
    )
    assert push_credits.delay([credit.pk]).get() == {"pushed": 1}
    [again] = salesforce.tasks
    assert again["Subject"] == f"SLA credit USD {credit.amount} (June 2026)"
    credit.refresh_from_db()
    assert credit.salesforce_task_id == again["Id"] != task["Id"]


def test_salesforce_down_is_retried_for_hours_on_the_retry_queue(
    connected, salesforce, approved, eager
) -> None:
    retried: list[tuple[Any, Any]] = []

    def record(sender: Any, request: Any, reason: Any, **_: Any) -> None:
        retried.append((reason.sig.options.get("queue"), reason.when))

    salesforce.fail_next(503, DOWN, times=3, match=TASKS)
    task_retry.connect(record, weak=False)
    try:
        result = push_credits.delay([c.pk for c in approved]).get()
    finally:
        task_retry.disconnect(record)
    assert result == {"pushed": 2}
    assert [queue for queue, _ in retried] == ["retry"] * 3
    # Backoff with full jitter: the longest it keeps trying before the sweep takes over.
    longest = sum(
        get_exponential_backoff_interval(
            factor=int(push_credits.retry_backoff),
            retries=n,
            maximum=push_credits.retry_backoff_max,
            full_jitter=False,
        )
        for n in range(push_credits.max_retries)
    )
    assert longest >= 4 * 3600
    assert push_credits.max_retries <= 12  # bounded
