"""What every benchmark needs: real servers, a throw-away database, free ports, servers.

    with scratch_database("fanout") as env:   # env: the variables child processes need
        ...

starts the embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set, creates
a scratch database (dropped at the end, as are the embedded servers this started), points
this process and its children at it, and gives the cache its own key prefix.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import conninfo, sql

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config import embedded  # noqa: E402


@contextmanager
def scratch_database(name: str, **extra_env: str) -> Iterator[dict[str, str]]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    os.environ["DEBUG"] = "false"
    started = embedded.bootstrap()
    scratch = f"clarion_bench_{name}_{os.getpid()}"
    admin = conninfo.conninfo_to_dict(
        started.database_url.replace("postgres://", "postgresql://", 1)
    )
    admin["dbname"] = "postgres"
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    env = {
        "DATABASE_URL": urlsplit(started.database_url)._replace(path=f"/{scratch}").geturl(),
        "CACHE_KEY_PREFIX": scratch,
        "LOG_LEVEL": "WARNING",
        **extra_env,
    }
    os.environ.update(env)
    try:
        yield {**os.environ, **env}
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
            )
        root = embedded.embedded_dir()
        if started.started_redis:
            embedded.stop_redis(root)
        if started.started_postgres:
            embedded.stop_postgres(root)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, host: str, timeout: float = 60) -> bytes:
    """GET `url` with `Host: host` until it answers; return the body."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            request = urllib.request.Request(url, headers={"Host": host})
            with urllib.request.urlopen(request, timeout=5) as response:
                return bytes(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
