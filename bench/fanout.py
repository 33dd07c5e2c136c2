"""E-mail fan-out of one P1 initial alert to N subscribers, through real workers.

    python bench/fanout.py [--subscribers 100000]

Real PostgreSQL and Redis (embedded unless DATABASE_URL / REDIS_URL are set; a scratch
database is created and dropped), one Celery worker with 2 processes, and a local SMTP sink
(aiosmtpd) on loopback that counts what each address receives. Clarion publishes one
approved P1 initial alert for e-mail and the clock runs until the sink has accepted every
delivery. The baseline, in the same run and against the same sink: plain smtplib over one
reused connection sending one EmailMessage built per recipient.

Prints one JSON line: {"subscribers", "publish_s", "total_s", "msgs_per_s",
"baseline_msgs_per_s", "ratio", "peak_worker_rss_mb", "duplicates", "missing"}.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psutil
from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _scratch import ROOT, free_port, scratch_database


class CountingSink:
    """Counts the messages each address receives; nothing else, to stay out of the way."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.last = 0.0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            for address in envelope.rcpt_tos:
                self.counts[address] += 1
            self.total += len(envelope.rcpt_tos)
            self.last = time.monotonic()
        return "250 OK"

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.total = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--timeout", type=int, default=900)
    args = parser.parse_args()

    sink = CountingSink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    worker: subprocess.Popen[bytes] | None = None
    with scratch_database(
        "fanout",
        DJANGO_SETTINGS_MODULE=os.environ.get("BENCH_SETTINGS", "config.settings.dev"),
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
    ) as env:
        try:
            result, worker = run(args, env, sink, smtp_port)
        finally:
            if worker is not None:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=60)
            controller.stop()
    print(json.dumps(result))


def seed(n: int) -> Any:
    from django.db import connection
    from django.utils import timezone

    from apps.incidents.demo import seed as seed_catalog
    from apps.incidents.services import incident_open
    from apps.subscribers.models import Customer, Subscriber, Subscription
    from apps.tenants.services import tenant_create

    tenant = tenant_create(slug="bench", name="Bench Cloud")
    connection.set_tenant(tenant)
    seed_catalog()
    customers = Customer.objects.bulk_create(
        Customer(name=f"Customer {i}", external_key=f"c{i}", tier="business")
        for i in range(max(1, n // 50))
    )
    now = timezone.now()
    batch = 10_000
    for start in range(0, n, batch):
        subscribers = Subscriber.objects.bulk_create(
            Subscriber(
                email=f"person{i}@example.com",
                name=f"Person {i}",
                customer=customers[i % len(customers)],
                confirmed_at=now,
                manage_token=f"token-{i:08d}-{start}",
            )
            for i in range(start, min(n, start + batch))
        )
        Subscription.objects.bulk_create(
            Subscription(
                subscriber=s,
                all_services=True,
                kinds=["incidents", "maintenance"],
                channels=["email"],
            )
            for s in subscribers
        )
    return incident_open(
        title="Payments failing",
        severity="P1",
        services={"payments": "major_outage"},
        body="We are investigating failed card payments.",
        actor="bench",
    )


def run(
    args: argparse.Namespace, env: dict[str, str], sink: CountingSink, smtp_port: int
) -> tuple[dict[str, Any], subprocess.Popen[bytes]]:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    n = args.subscribers
    incident = seed(n)

    # Baseline: one reused SMTP connection, one EmailMessage built per recipient.
    t0 = time.monotonic()
    with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
        for i in range(n):
            message = EmailMessage()
            message["From"] = "Clarion <notifications@localhost>"
            message["To"] = f"person{i}@example.com"
            message["Subject"] = "[P1] Payments failing"
            message.set_content(f"Hello Person {i},\n\nWe are investigating failed payments.")
            smtp.send_message(message)
    baseline_s = time.monotonic() - t0
    sink.reset()

    from config.celery import app as celery_app

    celery_app.control.purge()  # nothing left over from another run on this broker
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "fanout,send.email,retry,default",
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
            "--prefetch-multiplier",
            "1",
            "-O",
            "fair",
            "--hostname",
            "bench@%h",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    time.sleep(4)  # let the worker connect
    peak = {"rss": 0.0}
    stop = threading.Event()

    def watch_memory() -> None:
        parent = psutil.Process(worker.pid)
        while not stop.is_set():
            try:
                processes = [parent, *parent.children(recursive=True)]
                peak["rss"] = max(peak["rss"], *(p.memory_info().rss for p in processes))
            except psutil.Error:
                pass
            stop.wait(0.5)

    watcher = threading.Thread(target=watch_memory, daemon=True)
    watcher.start()

    from apps.communications.services import message_draft, message_publish

    message = message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=["email"], actor="bench"
    )
    t0 = time.monotonic()
    message_publish(message=message, actor="bench", approver=True)
    publish_s = time.monotonic() - t0
    deadline = t0 + args.timeout
    while sink.total < n and time.monotonic() < deadline:
        time.sleep(0.2)
    total_s = (sink.last or time.monotonic()) - t0
    time.sleep(3)  # anything sent twice would arrive now
    stop.set()
    watcher.join()
    received = sink.counts
    duplicates = sum(c - 1 for c in received.values() if c > 1)
    missing = sum(1 for i in range(n) if received[f"person{i}@example.com"] == 0)
    msgs_per_s = (n - missing) / total_s
    baseline_rate = n / baseline_s
    return {
        "subscribers": n,
        "publish_s": round(publish_s, 3),
        "total_s": round(total_s, 2),
        "msgs_per_s": round(msgs_per_s),
        "baseline_msgs_per_s": round(baseline_rate),
        "ratio": round(msgs_per_s / baseline_rate, 2),
        "peak_worker_rss_mb": round(peak["rss"] / 2**20, 1),
        "duplicates": duplicates,
        "missing": missing,
    }, worker


if __name__ == "__main__":
    main()
