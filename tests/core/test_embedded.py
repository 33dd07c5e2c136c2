"""The embedded servers a new user gets: start, reuse, stop, nothing left behind."""

import os
import subprocess
import sys

import psycopg
import redis

from config import embedded


def test_redis_starts_is_reused_and_stops(tmp_path) -> None:
    url, started = embedded.start_redis(tmp_path)
    try:
        assert started and url.startswith("unix://")
        assert redis.Redis.from_url(url).ping()
        assert embedded.start_redis(tmp_path) == (url, False)  # a second start reuses it
    finally:
        assert embedded.stop_redis(tmp_path)
    assert not embedded.redis_running(tmp_path)
    assert not embedded.stop_redis(tmp_path)  # nothing left to stop


def test_postgres_starts_creates_the_database_and_stops(tmp_path) -> None:
    url, started = embedded.start_postgres(tmp_path)
    try:
        assert started
        with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
            assert conn.execute("select current_database()").fetchone() == ("clarion",)
        assert embedded.start_postgres(tmp_path) == (url, False)
    finally:
        assert embedded.stop_postgres(tmp_path)
    assert not embedded.postgres_running(tmp_path)


def test_long_checkout_paths_get_a_short_socket_path(tmp_path) -> None:
    deep = tmp_path / ("x" * 120)
    assert len(str(embedded.redis_socket(deep))) < 108


def test_make_stop_command_stops_what_runs(tmp_path) -> None:
    embedded.start_redis(tmp_path)
    env = {**os.environ, "CLARION_EMBEDDED_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "config.embedded", "stop"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=embedded.BASE_DIR,
    ).stdout
    assert "stopped redis" in out
    assert not embedded.redis_running(tmp_path)
