"""Status page throughput and latency under load, against a bare Django baseline.

    python bench/statuspage.py [--duration 10] [--connections 50]

Starts Clarion under gunicorn (2 workers, gthread) on real PostgreSQL and Redis (embedded
unless DATABASE_URL / REDIS_URL are set; a scratch database is created and dropped) with
the demo tenant, and a bare Django app (no middleware, no database) that returns bytes of
the same size as `/` under the same gunicorn settings. wrk (Debian's package; 2 threads)
drives `/`, `/api/v2/summary.json` and the baseline, then `/` again while an incident
update is posted every second; a poller measures how long each update took to appear.

Prints one JSON line: {"page_rps", "summary_rps", "baseline_rps", "page_ratio",
"summary_ratio", "page_p99_ms", "summary_p99_ms", "churn_page_p99_ms", "churn_stale_max_s"}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _scratch import ROOT, free_port, scratch_database, wait_http

GUNICORN = [
    "-w",
    "2",
    "-k",
    "gthread",
    "--threads",
    "8",
    "--backlog",
    "2048",
    "--log-level",
    "warning",
    "--keep-alive",
    "5",
]
HOST = "acme.localhost"


def wrk(url: str, host: str, duration: int, connections: int) -> tuple[float, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-H",
            f"Host: {host}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out).groups()  # type: ignore[union-attr]
    p99_ms = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses\n{out}")
    return rps, p99_ms


def gunicorn(app: str, port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app, "-b", f"127.0.0.1:{port}", *GUNICORN],
        env=env,
        cwd=cwd,
        start_new_session=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: `apt-get install wrk` (Debian's package).")

    servers: list[subprocess.Popen[bytes]] = []
    with scratch_database(
        "statuspage",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="bench-" + "x" * 50,
        SECURE_SSL_REDIRECT="false",
        EMAIL_URL="consolemail://",  # production needs one; nothing is mailed here
        DEFAULT_FROM_EMAIL="Bench <bench@localhost>",
    ) as env:
        try:
            result = run(args, env, servers)
        finally:
            for server in servers:
                os.killpg(server.pid, 15)
                server.wait(timeout=30)
    print(json.dumps(result))


def run(
    args: argparse.Namespace, env: dict[str, str], servers: list[subprocess.Popen[bytes]]
) -> dict[str, float]:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    call_command("demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("collectstatic", interactive=False, verbosity=0)  # the manifest production needs

    port = free_port()
    servers.append(gunicorn("config.wsgi:application", port, env, ROOT))
    page = wait_http(f"http://127.0.0.1:{port}/", HOST)
    wait_http(f"http://127.0.0.1:{port}/api/v2/summary.json", HOST)

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "body.html").write_bytes(page)
        base_port = free_port()
        base_env = {
            **env,
            "BASELINE_BODY": str(Path(tmp) / "body.html"),
            "DJANGO_SETTINGS_MODULE": "_baseline_app",
        }
        servers.append(
            gunicorn("_baseline_app:application", base_port, base_env, Path(__file__).parent)
        )
        assert wait_http(f"http://127.0.0.1:{base_port}/", HOST) == page

        d, c = args.duration, args.connections
        for url in (
            f"http://127.0.0.1:{base_port}/",
            f"http://127.0.0.1:{port}/",
            f"http://127.0.0.1:{port}/api/v2/summary.json",
        ):
            wrk(url, HOST, 2, c)  # warm-up: imports, connections, first renders
        baseline_rps, _ = wrk(f"http://127.0.0.1:{base_port}/", HOST, d, c)
        page_rps, page_p99 = wrk(f"http://127.0.0.1:{port}/", HOST, d, c)
        summary_rps, summary_p99 = wrk(f"http://127.0.0.1:{port}/api/v2/summary.json", HOST, d, c)
        churn_p99, stale_max = churn(port, d, c)
    return {
        "page_rps": round(page_rps),
        "summary_rps": round(summary_rps),
        "baseline_rps": round(baseline_rps),
        "page_ratio": round(page_rps / baseline_rps, 2),
        "summary_ratio": round(summary_rps / baseline_rps, 2),
        "page_p99_ms": round(page_p99, 2),
        "summary_p99_ms": round(summary_p99, 2),
        "churn_page_p99_ms": round(churn_p99, 2),
        "churn_stale_max_s": round(stale_max, 3),
    }


def churn(port: int, duration: int, connections: int) -> tuple[float, float]:
    """wrk on `/` while a new update is posted every second; returns (p99 ms, max staleness)."""
    from django_tenants.utils import tenant_context

    from apps.incidents.services import incident_open, incident_post_update
    from apps.tenants.models import Tenant

    tenant = Tenant.objects.get(slug="acme")
    with tenant_context(tenant):
        incident = incident_open(
            title="Bench: elevated API errors",
            severity="P2",
            services={"api": "partial_outage"},
            body="We are investigating.",
            actor="bench",
        )
    stale: list[float] = []
    stop = threading.Event()

    def post_updates() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            marker = f"bench-update-{n}-{time.monotonic_ns()}"
            with tenant_context(tenant):
                incident_post_update(incident=incident, body=f"Progress {marker}", actor="bench")
            posted = time.monotonic()
            while marker.encode() not in wait_http(f"http://127.0.0.1:{port}/", HOST):
                if time.monotonic() - posted > 30:
                    break
                time.sleep(0.02)
            stale.append(time.monotonic() - posted)
            stop.wait(max(0.0, 1.0 - (time.monotonic() - posted)))

    poster = threading.Thread(target=post_updates)
    poster.start()
    try:
        _, p99 = wrk(f"http://127.0.0.1:{port}/", HOST, duration, connections)
    finally:
        stop.set()
        poster.join()
    return p99, max(stale)


if __name__ == "__main__":
    main()
