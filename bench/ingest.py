"""Alert ingestion under a storm: webhook accept latency, idempotency and processing time.

    python bench/ingest.py [--requests 10000] [--connections 50] [--groups 100]
                           [--matched 80] [--duplicates 0.2] [--threads 4]
                           [--baseline-requests 3000] [--worker-after-send]

Starts Clarion under gunicorn (2 workers, gthread) and one real Celery worker (`-c 2`, queues
integrations, default, retry) on real PostgreSQL and Redis (embedded unless DATABASE_URL /
REDIS_URL are set; a scratch database is created and dropped), with one tenant, its
Alertmanager integration and one routing rule per matched alert group (the other groups go
to the inbox). Then `--connections` keep-alive connections send `--requests` Alertmanager
webhooks, one alert each, over `--groups` groups, where a `--duplicates` share are exact
redeliveries of webhooks sent earlier (some still in flight), and the database is polled
until every stored event is processed. Baseline, in the same run: `--baseline-requests`
webhooks of the same kind through plain Django (the same application without its fast
paths, so the whole middleware stack) on a second gunicorn with the same settings.

Prints one JSON line: {"sent", "accepted_p50_ms", "accepted_p99_ms", "processed_s",
"incidents_opened", "duplicates_stored", "rps", "baseline_p99_ms", "baseline_rps",
"rps_ratio", "target_met"}; targets: p99 accept under 100 ms, no duplicate stored, one
incident per matched group, everything processed within 60 s of the last request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from _scratch import ROOT, free_port, scratch_database, wait_http

GUNICORN = [
    "-w",
    "2",
    "-k",
    "gthread",
    "--backlog",
    "2048",
    "--log-level",
    "warning",
    "--keep-alive",
    "30",
]
WORKER = [
    "worker",
    "-Q",
    "integrations,default,retry",
    "-c",
    "2",
    "--prefetch-multiplier",
    "8",
    "--without-heartbeat",
    "--without-gossip",
    "--without-mingle",
    "--loglevel",
    "WARNING",
]
# Clarion's application with the hooks' fast path in front (see apps/integrations/fastpath.py).
WSGI_APP = "config.wsgi:application"
# The baseline: the same application without the fast paths (every hook through Django).
BASELINE_WSGI_APP = "config.wsgi:django_application"
SLUG = "bench"
HOST = f"{SLUG}.localhost"
P99_TARGET_MS = 100.0
WARMUP_ROUNDS = 4
PROCESSED_TARGET_S = 60.0


def _lower_priority(nice: int) -> None:
    """In the child, before exec: niceness `nice`, for the whole of its new session. Linux
    (with autogroup, the default) shares the CPU fairly between sessions whatever their
    processes' niceness, so the session's own niceness is set too."""
    os.nice(nice)
    try:
        with open("/proc/self/autogroup", "w") as autogroup:
            autogroup.write(str(nice))
    except OSError:
        pass  # no autogroup here: the processes' niceness is what counts


def spawn(args: list[str], env: dict[str, str], *, nice: int = 0) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        env=env,
        cwd=ROOT,
        stdout=sys.stderr,  # this script's stdout is its one JSON line
        start_new_session=True,
        preexec_fn=(lambda: _lower_priority(nice)) if nice else None,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """A graceful stop of the main process (gunicorn's arbiter, Celery's main process: they
    stop their own children, so no task is cut off mid-way), then whatever of its session is
    left, by force."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with contextlib.suppress(ProcessLookupError):  # the session may be gone already
        os.killpg(process.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--matched", type=int, default=80, help="groups a routing rule matches")
    parser.add_argument("--duplicates", type=float, default=0.2, help="share of redeliveries")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--baseline-requests",
        type=int,
        default=3000,
        help="webhooks sent through plain Django (no fast path) for the baseline",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="threads per gunicorn worker (CPU-bound requests: more threads than a few only "
        "queue on the GIL and lengthen the tail)",
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=19,
        help="the worker's niceness: it shares the cores with the web server here (separate "
        "machines in production), and accepting a storm comes first",
    )
    parser.add_argument(
        "--worker-after-send",
        action="store_true",
        help="start the worker after the last request (measures the accept path alone)",
    )
    args = parser.parse_args()
    if not 0 < args.matched <= args.groups:
        sys.exit("--matched must be between 1 and --groups.")

    processes: list[subprocess.Popen[bytes]] = []
    with scratch_database(
        "ingest",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="bench-" + "x" * 50,
        SECURE_SSL_REDIRECT="false",
        EMAIL_URL="consolemail://",  # production needs one; nothing is mailed here
        DEFAULT_FROM_EMAIL="Bench <bench@localhost>",
    ) as env:
        try:
            result = run(args, env, processes)
        finally:
            for process in processes:
                stop(process)
    print(json.dumps(result))


@dataclass(frozen=True)
class Plan:
    bodies: list[bytes]  # one per unique webhook
    order: list[int]  # indexes into bodies, in sending order (duplicates included)


def plan(args: argparse.Namespace, *, total: int, prefix: str = "bench") -> Plan:
    """Unique webhooks spread over the groups, shuffled, with redeliveries of earlier ones
    mixed in at random positions."""
    rng = random.Random(args.seed)
    duplicates = round(total * args.duplicates)
    unique = total - duplicates
    bodies = []
    for n in range(unique):
        group = n % args.groups
        service = f"svc-{group}" if group < args.matched else f"unrouted-{group}"
        alert = {
            "status": "firing",
            "labels": {
                "alertname": f"BenchAlert{group}",
                "service": service,
                "instance": f"host-{n // args.groups}",
                "severity": "critical",
            },
            "annotations": {"summary": f"Error rate high on {service}"},
            "startsAt": "2026-11-26T18:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.bench:9090/graph",
            "fingerprint": f"{prefix}-{group:03d}-{n:06d}",
        }
        body = {
            "receiver": "clarion",
            "status": "firing",
            "alerts": [alert],
            "groupLabels": {"alertname": f"BenchAlert{group}"},
            "commonLabels": alert["labels"],
            "commonAnnotations": alert["annotations"],
            "externalURL": "http://alertmanager.bench:9093",
            "version": "4",
            "groupKey": f'{{}}:{{alertname="BenchAlert{group}"}}',
            "truncatedAlerts": 0,
        }
        bodies.append(json.dumps(body).encode())
    fresh = list(range(unique))
    rng.shuffle(fresh)
    order: list[int] = []
    sent: list[int] = []
    dup_left = duplicates
    for position in range(total):
        left = total - position
        if sent and dup_left and (not fresh or rng.random() < dup_left / left):
            order.append(rng.choice(sent[-2000:]))  # a recent one: often still in flight
            dup_left -= 1
        else:
            index = fresh.pop()
            order.append(index)
            sent.append(index)
    return Plan(bodies=bodies, order=order)


def send(
    port: int, headers: dict[str, str], work: Plan, connections: int
) -> tuple[list[float], int, float, float]:
    """Send every planned webhook over `connections` keep-alive connections (asyncio, raw
    HTTP/1.1: the sender must not eat the CPU the server needs); returns the latencies (ms)
    of 202 answers, the number of other answers, when the first one (after the warm-up)
    began and when the last one ended."""
    token = headers.pop("_token")

    def request(body: bytes, fields: dict[str, str]) -> bytes:
        head = "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        return (
            f"POST /hooks/alertmanager/{token}/ HTTP/1.1\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    requests = [request(body, headers) for body in work.bodies]
    # Warm-up, not counted: a wrong secret is refused (401, nothing stored) once the
    # integration is found, so each server thread opens its database connection and each
    # process learns the host and the integration, as in any server that ran a while.
    warmup = request(work.bodies[0], {**headers, "Authorization": "Bearer warm-up"})
    return asyncio.run(_send_all(port, requests, work.order, connections, warmup))


async def _send_all(
    port: int, requests: list[bytes], order: list[int], connections: int, warmup: bytes
) -> tuple[list[float], int, float, float]:
    cursor = iter(order)
    latencies: list[float] = []
    failures = 0
    last_done = 0.0

    # Connect one after the other, so that both gunicorn workers accept their share (a
    # burst of connects can all land on one worker, and keep-alive keeps them there).
    opened = []
    for _ in range(connections):
        opened.append(await asyncio.open_connection("127.0.0.1", port))
        await asyncio.sleep(0.005)
    for _ in range(WARMUP_ROUNDS):
        for _reader, writer in opened:
            writer.write(warmup)
        for reader, _writer in opened:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line[15:])
                for line in head.split(b"\r\n")
                if line[:15].lower() == b"content-length:"
            )
            await reader.readexactly(length)
    ready = iter(opened)
    first_began = time.monotonic()

    async def connection() -> None:
        nonlocal failures, last_done
        reader, writer = next(ready)
        for index in cursor:
            began = time.perf_counter()
            writer.write(requests[index])
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                status = 0
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            elapsed = (time.perf_counter() - began) * 1000
            if status == 202:
                latencies.append(elapsed)
            else:
                failures += 1
            last_done = time.monotonic()
        writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return latencies, failures, first_began, last_done


def percentiles(latencies: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    if not latencies:
        return float("nan"), float("nan")
    latencies = sorted(latencies)
    return statistics.median(latencies), latencies[
        min(len(latencies) - 1, int(len(latencies) * 0.99))
    ]


def run(
    args: argparse.Namespace, env: dict[str, str], processes: list[subprocess.Popen[bytes]]
) -> dict[str, object]:
    import django
    from django.core.management import call_command

    django.setup()
    from django_tenants.utils import tenant_context

    from apps.incidents.models import Incident, Service
    from apps.integrations.choices import EventStatus
    from apps.integrations.models import InboundEvent, RoutingRule
    from apps.integrations.services import integration_create
    from apps.tenants.services import tenant_create
    from config.celery import app

    call_command("migrate_schemas", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    tenant = tenant_create(slug=SLUG, name="Bench", actor="bench")
    with tenant_context(tenant):
        integration, secret = integration_create(source="alertmanager", actor="bench")
        for group in range(args.matched):
            service = Service.objects.create(slug=f"svc-{group}", name=f"Service {group}")
            rule = RoutingRule.objects.create(
                name=f"Group {group}", matchers={"service": f"svc-{group}"}, position=group
            )
            rule.services.add(service)

    def serve(wsgi_app: str) -> int:
        port = free_port()
        command = ["gunicorn", wsgi_app, "-b", f"127.0.0.1:{port}", *GUNICORN]
        processes.append(spawn([*command, "--threads", str(args.threads)], env))
        wait_http(f"http://127.0.0.1:{port}/", HOST)  # the tenant's status page
        return port

    port = serve(WSGI_APP)
    late = args.worker_after_send
    worker = ["celery", "-A", "config", *WORKER]
    if not late:
        processes.append(spawn(worker, env, nice=args.worker_nice))
    deadline = time.monotonic() + 60
    while not late and not app.control.ping(timeout=1.0):
        if time.monotonic() > deadline:
            raise RuntimeError("the Celery worker did not start within 60 s")

    work = plan(args, total=args.requests)
    unique = len(work.bodies)
    headers = {
        "Host": HOST,
        "Content-Type": "application/json",
        "Authorization": f"Bearer {secret}",
        "User-Agent": "Alertmanager/0.27.0",
    }
    latencies, failures, began, last_done = send(
        port, {**headers, "_token": integration.token}, work, args.connections
    )
    sending_s = last_done - began
    if late:
        processes.append(spawn(worker, env, nice=args.worker_nice))

    with tenant_context(tenant):
        waited_until = last_done + PROCESSED_TARGET_S * 3
        while True:
            pending = InboundEvent.objects.filter(status=EventStatus.RECEIVED).count()
            if pending == 0 or time.monotonic() > waited_until:
                break
            time.sleep(0.2)
        processed_s = time.monotonic() - last_done
        stored = InboundEvent.objects.count()
        incidents = Incident.objects.count()
        by_status = dict(
            InboundEvent.objects.values_list("status").annotate(n=django.db.models.Count("id"))
        )
    p50, p99 = percentiles(latencies)
    duplicates_stored = stored - unique

    # Baseline: the same kind of storm through plain Django (the whole middleware stack, no
    # fast path), on the same server settings, once the first storm is processed.
    base_work = plan(args, total=args.baseline_requests, prefix="base")
    base_port = serve(BASELINE_WSGI_APP)
    base_latencies, base_failures, base_began, base_done = send(
        base_port, {**headers, "_token": integration.token}, base_work, args.connections
    )
    base_p50, base_p99 = percentiles(base_latencies)
    rps = len(work.order) / sending_s
    base_rps = len(base_work.order) / (base_done - base_began)
    result: dict[str, object] = {
        "sent": len(work.order),
        "accepted_p50_ms": round(p50, 2),
        "accepted_p99_ms": round(p99, 2),
        "processed_s": round(processed_s, 2) if pending == 0 else None,
        "incidents_opened": incidents,
        "duplicates_stored": duplicates_stored,
        "rps": round(rps),
        "baseline_p99_ms": round(base_p99, 2),
        "baseline_rps": round(base_rps),
        "rps_ratio": round(rps / base_rps, 2),
    }
    result["target_met"] = bool(
        failures == 0
        and p99 < P99_TARGET_MS
        and duplicates_stored == 0
        and incidents == args.matched
        and pending == 0
        and processed_s <= PROCESSED_TARGET_S
    )
    print(
        f"unique={unique} stored={stored} statuses={by_status} non_202={failures} "
        f"sending_s={sending_s:.1f} baseline_p50_ms={base_p50:.1f} "
        f"baseline_non_202={base_failures}",
        file=sys.stderr,
    )
    return result


if __name__ == "__main__":
    main()
