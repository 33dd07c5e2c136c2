import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from apps.core.events import emit, subscribe, unsubscribe
from apps.core.tenancy import current_schema


@pytest.fixture
def received():
    got: list[tuple[str, dict, str]] = []

    def handler(event) -> None:
        got.append((event.name, event.data, current_schema()))

    subscribe("test.happened", handler)
    yield got
    unsubscribe("test.happened", handler)


def test_events_are_dispatched_after_commit_in_the_emitting_schema(
    tenant_db, received, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        emit("test.happened", thing_id=7)
        assert received == []  # nothing before the commit
        transaction.get_connection().set_schema_to_public()
    assert received == [("test.happened", {"thing_id": 7}, "test")]


def test_nothing_is_dispatched_when_the_transaction_rolls_back(
    tenant_db, received, django_capture_on_commit_callbacks
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        emit("test.happened", thing_id=8)
        raise RuntimeError("the use-case failed")
    assert callbacks == [] and received == []


def test_a_failing_handler_does_not_stop_the_others(
    tenant_db, django_capture_on_commit_callbacks
) -> None:
    after: list[dict] = []

    def broken(event) -> None:
        raise ValueError("boom")

    def recorder(event) -> None:
        after.append(event.data)

    subscribe("test.failing", broken)  # runs first
    subscribe("test.failing", recorder)
    try:
        with django_capture_on_commit_callbacks(execute=True), schema_context("test"):
            emit("test.failing", thing_id=9)
    finally:
        unsubscribe("test.failing", broken)
        unsubscribe("test.failing", recorder)
    assert after == [{"thing_id": 9}]
