"""Write a tenant's public pages as static files, so that nginx or a CDN can serve the
status page while the application is down.

Layout under the export root: `<host>/index.html`, `<host>/api/v2/summary.json`, ...,
`<host>/incidents/<id>/index.html`, and the page's static assets under `<host>/static/`.
Files are replaced atomically (written aside, then renamed).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django_tenants.utils import tenant_context

from apps.statuspage import selectors, views
from apps.tenants.models import Tenant

STATIC_ASSETS = ("clarion/status.css", "clarion/status.js")


def _write(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(body)
    os.chmod(temp, 0o644)
    os.replace(temp, path)


def _target(root: Path, url_path: str) -> Path:
    relative = url_path.lstrip("/")
    if not relative or relative.endswith("/"):
        relative += "index.html"
    return root / relative


def export_tenant(tenant: Tenant, root: Path) -> list[Path]:
    """Render every public page of `tenant` into `root/<host>/`; return the files written."""
    host = f"{tenant.slug}.{settings.CLARION_BASE_DOMAIN}"
    base = root / host
    written: list[Path] = []
    with tenant_context(tenant):
        for url_path, build in views.BUILDERS.items():
            body, _ = build()
            target = _target(base, url_path)
            _write(target, body)
            written.append(target)
        for incident in selectors.public_incidents().only("pk")[:200]:
            body, content_type = views.build_incident(incident.pk)()
            if content_type != "not-found":
                target = _target(base, f"/incidents/{incident.pk}/")
                _write(target, body)
                written.append(target)
    for asset in STATIC_ASSETS:
        found = finders.find(asset)
        if found:
            target = base / settings.STATIC_URL.strip("/") / asset
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, target)
            written.append(target)
    return written
