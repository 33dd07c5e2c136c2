"""pytest plugin: give the test suite its database and Redis before Django is set up.

With DATABASE_URL / REDIS_URL set, those servers are used. Otherwise embedded servers are
started under `.clarion/test` (apart from `make run`'s) and the ones started here are stopped
when the run ends, so `make test` leaves nothing running.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from config import embedded

_started: embedded.Started | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: list[str]) -> None:
    global _started
    os.environ.setdefault("CLARION_EMBEDDED_DIR", str(embedded.BASE_DIR / ".clarion" / "test"))
    _started = embedded.bootstrap()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _started is None or hasattr(config, "workerinput"):
        return
    root = embedded.embedded_dir()
    if _started.started_redis:
        embedded.stop_redis(root)
    if _started.started_postgres:
        embedded.stop_postgres(root)
