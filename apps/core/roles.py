"""The three staff roles every tenant starts with, as Django groups.

Grants are `app_label.codename` patterns; they are re-applied after every migration of a
tenant schema, so a new app's permissions reach the roles without a data migration.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from django.contrib.auth.models import Group, Permission

from apps.core.tenancy import current_schema

RESPONDER = "Responder"
APPROVER = "Communications approver"
VIEWER = "Viewer"

# Administration of people and keys stays with tenant admins (superusers).
_NEVER = ("accounts.*", "auth.*", "core.*apikey", "admin.*", "sessions.*", "contenttypes.*")
_READ = ("*.view_*",)

ROLE_GRANTS: dict[str, tuple[str, ...]] = {
    VIEWER: _READ,
    RESPONDER: (*_READ, "incidents.*"),
    APPROVER: (*_READ, "incidents.*", "communications.*", "postmortems.*", "subscribers.*"),
}


def _granted(patterns: tuple[str, ...], name: str) -> bool:
    if any(fnmatchcase(name, p) for p in _NEVER):
        return False
    return any(fnmatchcase(name, p) for p in patterns)


def roles_sync() -> None:
    """Create the role groups in the current tenant schema and (re)apply their grants."""
    if current_schema() == "public":
        return
    perms = list(Permission.objects.select_related("content_type"))
    for role, patterns in ROLE_GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = [
            p for p in perms if _granted(patterns, f"{p.content_type.app_label}.{p.codename}")
        ]
        group.permissions.set(wanted)
