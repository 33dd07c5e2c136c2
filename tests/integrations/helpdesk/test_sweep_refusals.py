"""The per-tenant sweep starts help-desk work once: a help desk that refuses for good (revoked
credentials) is asked once until the settings are saved again, a transient failure is
retried by one chain that the sweep leaves alone, and a task finding another one at work on
the incident retries later instead of holding a worker. Real zenpy against the fake Zendesk.

Where the queue matters, tasks go to a private Redis and the worker is played by the test:
the session's real worker cannot see this test's uncommitted rows."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery.app.trace import build_tracer
from celery.signals import before_task_publish
from celery.utils import uuid
from django.db import connection, connections

from apps.incidents.models import Incident
from apps.integrations.models_support import HelpdeskAction, HelpdeskProblem
from apps.integrations.services.helpdesk import helpdesk_installation_save, helpdesk_lock_key
from apps.integrations.tasks_support import helpdesk_flag as helpdesk_flag_task
from apps.integrations.tasks_support import helpdesk_sweep
from config.celery import app as celery_app
from tests.factories import UserFactory
from tests.integrations.helpdesk.conftest import ACTOR, open_payments_incident
from tests.processes import RedisServer, private_broker

UNAUTHORIZED = (401, {}, {"error": "Couldn't authenticate you"})
UNAVAILABLE = (503, {}, {"error": "Service Unavailable"})
NOTHING = {"flag": 0, "close": 0}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis of this module's own as the broker: what these tests queue stays there."""
    with private_broker(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def queued(broker: RedisServer) -> Iterator[list[dict[str, Any]]]:
    """The help-desk flag tasks this test's thread sends: args, retries and queue."""
    sent: list[dict[str, Any]] = []
    thread = threading.get_ident()

    def record(sender: str, headers: dict[str, Any], body: Any, **kw: Any) -> None:
        if sender == "integrations.helpdesk_flag" and threading.get_ident() == thread:
            sent.append(
                {"args": list(body[0]), "retries": headers["retries"], "queue": kw["routing_key"]}
            )

    before_task_publish.connect(record, weak=False)
    try:
        yield sent
    finally:
        before_task_publish.disconnect(record)


def run_as_worker(incident_id: int, *, retries: int = 0) -> str:
    """One attempt of the flag task as a worker runs a message (not eagerly): a retry is
    sent to the broker, not run at once. Its state (RETRY) or its result."""
    task = helpdesk_flag_task
    tracer = build_tracer(task.name, task, eager=False, propagate=False, app=celery_app)
    task_id = uuid()
    request = {
        "id": task_id,
        "retries": retries,
        "headers": {"_schema_name": connection.schema_name},
        "delivery_info": {},
    }
    traced = tracer(task_id, [incident_id], {}, request)
    return str(traced.info.state if traced.info is not None else traced.retval)


def open_incident(capture: Any) -> Incident:
    """A P3 on Payments, published at once; the publish handler queues the flag task."""
    with capture(execute=True):
        return open_payments_incident(started_at=datetime.now(UTC) - timedelta(minutes=5))


def test_revoked_credentials_are_refused_once_and_five_sweeps_leave_it_there(
    zendesk, zendesk_installation, eager, tenant_client, django_capture_on_commit_callbacks
) -> None:
    zendesk.answers.extend([UNAUTHORIZED] * 50)  # the API token was revoked
    incident = open_incident(django_capture_on_commit_callbacks)
    assert [helpdesk_sweep() for _ in range(5)] == [NOTHING] * 5
    assert len(zendesk.writes("POST")) == 1
    refused = HelpdeskAction.objects.get(incident=incident, outcome="refused")
    assert refused.action == "problem_created" and "credentials refused" in refused.detail
    problem = HelpdeskProblem.objects.get(incident=incident)
    assert problem.refused_at is not None and "Zendesk answered 401" in problem.refusal
    # Staff see it once, with the reason, among the incident's help-desk actions.
    tenant_client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = tenant_client.get(f"/admin/incidents/incident/{incident.pk}/change/").content.decode()
    assert page.count("Refused (will not retry)") == 1
    assert "check the agent e-mail and the API token" in page


def test_saving_the_credentials_again_lets_the_next_sweep_try_again(
    zendesk, zendesk_installation, eager, django_capture_on_commit_callbacks
) -> None:
    ticket = zendesk.add_ticket("Payments fail", "card error at checkout")
    zendesk.answers.extend([UNAUTHORIZED] * 50)
    incident = open_incident(django_capture_on_commit_callbacks)
    assert helpdesk_sweep() == NOTHING
    zendesk.answers.clear()  # an admin pastes a new token
    helpdesk_installation_save(
        installation=zendesk_installation, secrets={"api_token": "zd-new-token"}, actor=ACTOR
    )
    assert helpdesk_sweep() == {"flag": 1, "close": 0}
    problem = HelpdeskProblem.objects.get(incident=incident)
    assert problem.flagged_at is not None and problem.refused_at is None
    assert zendesk.tickets[ticket]["problem_id"] == int(problem.external_id)
    assert len(zendesk.writes("POST")) == 2  # the refused one, the known-issue ticket
    auth = base64.b64decode(zendesk.writes("POST")[-1].auth[6:]).decode()
    assert auth == "agent@acme.example/token:zd-new-token"
    assert helpdesk_sweep() == NOTHING


def test_a_503_then_a_200_gets_there_with_one_chain(
    zendesk, zendesk_installation, queued, django_capture_on_commit_callbacks
) -> None:
    ticket = zendesk.add_ticket("Payments fail", "card error at checkout")
    zendesk.answers.append(UNAVAILABLE)
    incident = open_incident(django_capture_on_commit_callbacks)
    assert queued == [{"args": [incident.pk], "retries": 0, "queue": "integrations"}]
    assert run_as_worker(incident.pk) == "RETRY"  # the first attempt: 503
    assert queued[-1] == {"args": [incident.pk], "retries": 1, "queue": "retry"}
    # The minute ticks while the retry waits: no second chain.
    assert [helpdesk_sweep() for _ in range(5)] == [NOTHING] * 5
    assert len(queued) == 2
    assert run_as_worker(incident.pk, retries=1) == "flagged"
    problem = HelpdeskProblem.objects.get(incident=incident)
    assert zendesk.tickets[ticket]["problem_id"] == int(problem.external_id)
    assert len(zendesk.writes("POST")) == 2  # the 503, the known-issue ticket
    outcomes = HelpdeskAction.objects.filter(incident=incident, action="problem_created")
    assert sorted(outcomes.values_list("outcome", flat=True)) == ["failed", "ok"]
    assert helpdesk_sweep() == NOTHING
    assert len(queued) == 2


def test_a_task_finding_another_at_work_on_the_incident_retries_instead_of_waiting(
    zendesk, zendesk_installation, queued, django_capture_on_commit_callbacks
) -> None:
    incident = open_incident(django_capture_on_commit_callbacks)
    with connection.cursor() as cursor:  # a wait would fail the test, not hang it
        cursor.execute("SET LOCAL lock_timeout = '3s'")
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # another worker, busy with this incident
            cursor.execute(
                "SELECT pg_advisory_lock(hashtextextended(%s, 0))",
                [helpdesk_lock_key(incident.pk)],
            )
        started = time.monotonic()
        assert run_as_worker(incident.pk) == "RETRY"
        assert time.monotonic() - started < 1
    finally:
        other.close()  # ends its session, and the lock
    assert not zendesk.writes("POST")
    assert queued[-1] == {"args": [incident.pk], "retries": 1, "queue": "retry"}
    assert helpdesk_sweep() == NOTHING  # the retry is on it
    assert run_as_worker(incident.pk, retries=1) == "flagged"
    assert len(zendesk.writes("POST")) == 1
