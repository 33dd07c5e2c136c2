"""The WSGI fast path: cached pages served before Django, one render per change."""

from datetime import timedelta

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory
from django.utils import timezone

from apps.statuspage import store
from apps.statuspage.fastpath import StatusPageFastPath


class CountingDjango:
    """Django's own WSGI handler, counting the requests that reach it."""

    def __init__(self) -> None:
        self.handler = WSGIHandler()
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.handler(environ, start_response)


@pytest.fixture
def app(tenant_db):
    # As Django's test client does: keep the test's transaction open across requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    inner = CountingDjango()
    yield StatusPageFastPath(inner), inner
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def call(app, path="/api/v2/summary.json", host="test.localhost", **headers):
    environ = RequestFactory().get(path, HTTP_HOST=host, **headers).environ
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"] = status
        seen["headers"] = dict(response_headers)

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body


def test_after_one_django_render_the_fast_path_answers_alone(app, world) -> None:
    fast, django = app
    status, _, first = call(fast)
    assert status.startswith("200") and django.calls == 1
    for _ in range(5):
        status, headers, body = call(fast)
        assert status.startswith("200") and body == first
    assert django.calls == 1
    assert headers["Access-Control-Allow-Origin"] == "*" and headers["ETag"]


def test_fast_path_answers_304(app, world) -> None:
    fast, django = app
    _, headers, _ = call(fast)
    status, _, body = call(fast, HTTP_IF_NONE_MATCH=headers["ETag"])
    assert status.startswith("304") and body == b""
    assert django.calls == 1  # the 304 came from the fast path


def test_a_change_is_rendered_once_while_others_get_the_previous_bytes(app, world) -> None:
    fast, django = app
    call(fast)
    call(fast)
    store.version_bump("test")
    for entry_key in list(fast._entries):  # let the next request check the version now
        fast._entries[entry_key] = (fast._entries[entry_key][0], 0.0)
    call(fast)  # the first request after the change goes to Django, which renders
    assert django.calls == 2
    for _ in range(3):
        call(fast)
    assert django.calls == 2  # nobody else renders it again


def test_unknown_hosts_and_other_paths_go_to_django(app, world) -> None:
    fast, django = app
    status, _, _ = call(fast, host="ghost.localhost")
    assert status.startswith("404") and django.calls == 1
    call(fast, path="/history/")
    call(fast, path="/history/")
    assert django.calls == 3


def test_a_new_day_renders_the_home_page_once_and_nothing_else(app, world, monkeypatch) -> None:
    fast, django = app
    _, _, first = call(fast, path="/")
    call(fast)  # the JSON summary, which does not move with the clock
    assert django.calls == 2
    tomorrow = timezone.now() + timedelta(days=1)
    with monkeypatch.context() as m:
        m.setattr(timezone, "now", lambda: tomorrow)
        for entry_key in list(fast._entries):  # let the next request check now
            fast._entries[entry_key] = (fast._entries[entry_key][0], 0.0)
        call(fast, path="/")  # the new day's bars: rendered by Django, once
        assert django.calls == 3
        for _ in range(3):
            _, _, body = call(fast, path="/")
            call(fast)
        assert django.calls == 3
    assert body != first
