"""`make run`: everything Clarion needs, in the foreground, stopped together by Ctrl-C.

Starts the embedded PostgreSQL and Redis when DATABASE_URL / REDIS_URL are unset, migrates
every schema, seeds the demo tenant, then runs the web server, one Celery worker and Celery
beat. `CLARION_PORT` (default 8000) and `CLARION_BIND` (default 127.0.0.1) move the server.
Without `EMAIL_URL` (environment or `.env`), e-mail goes to a local mailbox that keeps each
message in `.clarion/mail/` and prints a line for it (config/mailsink.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from config import embedded, mailsink
from config.celery_queues import QUEUE_NAMES

STOP_GRACE_SECONDS = 15


def _spawn(args: list[str]) -> subprocess.Popen[bytes]:
    # Each child leads its own process group so that stopping it also stops what it forked
    # (runserver's autoreloader, the worker's pool).
    return subprocess.Popen([sys.executable, *args], start_new_session=True)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    for child in children:  # a grandchild may outlive its group leader
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    mailbox = _mailbox()
    started: embedded.Started | None = None
    try:
        started = embedded.bootstrap()
        return _serve(mailbox)
    finally:
        if mailbox is not None:
            mailbox.stop()
        # Only what this launcher started: embedded servers another `make run` (or a test
        # run) started and still uses stay up.
        root = embedded.embedded_dir()
        if started is not None and started.started_redis:
            embedded.stop_redis(root)
        if started is not None and started.started_postgres:
            embedded.stop_postgres(root)
        print("Stopped.", flush=True)


def _mailbox() -> mailsink.Sink | None:
    """The demo's e-mail, when no EMAIL_URL is configured: a local SMTP server that every
    child inherits through the environment (development settings only)."""
    if os.environ["DJANGO_SETTINGS_MODULE"] != "config.settings.dev":
        return None
    dotenv = embedded.BASE_DIR / ".env"
    configured = dotenv.exists() and any(
        line.strip().startswith("EMAIL_URL=") for line in dotenv.read_text().splitlines()
    )
    if os.environ.get("EMAIL_URL") or configured:
        return None
    sink = mailsink.start(embedded.embedded_dir() / "mail")
    os.environ["EMAIL_URL"] = sink.url
    return sink


def _serve(mailbox: mailsink.Sink | None = None) -> int:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    call_command("demo")

    port = os.environ.get("CLARION_PORT", "8000")
    bind = os.environ.get("CLARION_BIND", "127.0.0.1")
    children = [
        _spawn(["manage.py", "runserver", f"{bind}:{port}"]),
        _spawn(
            [
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                ",".join(QUEUE_NAMES),
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
                "--hostname",
                "clarion@%h",
            ]
        ),
        _spawn(["-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"]),
    ]
    print(
        f"\nClarion is starting on port {port}: web, worker and beat. Ctrl-C stops everything.\n"
        f"  Platform admin: http://localhost:{port}/admin/ (create an operator with "
        "`.venv/bin/python manage.py createsuperuser`)\n",
        flush=True,
    )
    if mailbox is not None:
        print(
            f"  E-mail (no EMAIL_URL set): each message is kept in {mailbox.directory}/ as an "
            ".eml file and listed here as a `mail ...` line.\n",
            flush=True,
        )

    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    try:
        while not stopping:
            for name, child in zip(("web", "worker", "beat"), children, strict=True):
                if child.poll() is not None:
                    print(
                        f"{name} exited with {child.returncode}; stopping the rest.",
                        file=sys.stderr,
                    )
                    exit_code = child.returncode or 1
                    stopping = True
            time.sleep(0.2)
    finally:
        print("\nStopping Clarion...", flush=True)
        _stop(children)
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
