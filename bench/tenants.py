"""Tenant provisioning: cloning the template schema versus running every migration.

    python bench/tenants.py [--tenants 50]

Runs against a scratch database on the embedded PostgreSQL (or DATABASE_URL's server),
alternating one cloned and one migrated tenant so that both see the same machine load.
Prints one JSON line: {"tenants", "per_tenant_s", "baseline_per_tenant_s", "speedup", ...}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _scratch import scratch_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=50)
    args = parser.parse_args()

    with scratch_database("tenants"):
        result = _run(args.tenants)
    print(json.dumps(result))


def _run(n: int) -> dict[str, object]:
    import django
    from django.core.management import call_command
    from django.test.utils import override_settings

    django.setup()
    from apps.tenants.services import template_ensure, tenant_create

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    t0 = time.perf_counter()
    template_ensure()
    template_s = time.perf_counter() - t0

    cloned: list[float] = []
    migrated: list[float] = []
    for i in range(n):
        t0 = time.perf_counter()
        tenant_create(slug=f"clone-{i}", name=f"Clone {i}")
        cloned.append(time.perf_counter() - t0)
        with override_settings(TENANT_CREATION_FAKES_MIGRATIONS=False):
            t0 = time.perf_counter()
            tenant_create(slug=f"migrate-{i}", name=f"Migrate {i}")
            migrated.append(time.perf_counter() - t0)
    per_tenant = statistics.mean(cloned)
    baseline = statistics.mean(migrated)
    return {
        "tenants": n,
        "per_tenant_s": round(per_tenant, 4),
        "baseline_per_tenant_s": round(baseline, 4),
        "speedup": round(baseline / per_tenant, 2),
        "per_tenant_p95_s": round(sorted(cloned)[int(0.95 * (n - 1))], 4),
        "template_once_s": round(template_s, 3),
    }


if __name__ == "__main__":
    main()
