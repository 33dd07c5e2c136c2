"""Demo data seeders. Each app lists its seeder's dotted path in `CLARION_DEMO_SEEDERS`;
`manage.py demo` runs them in order inside the demo tenant's schema. A seeder must be
idempotent: it adds what is missing and leaves the rest alone."""

from __future__ import annotations

from collections.abc import Callable

from apps.core.registry import Registry

demo_seeders: Registry[Callable[[], object]] = Registry("demo seeder")
