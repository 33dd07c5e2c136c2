from django.contrib.auth.models import Group

from apps.core.roles import APPROVER, RESPONDER, VIEWER


def _perms(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_every_tenant_starts_with_the_three_roles(tenant_db) -> None:
    viewer, responder, approver = _perms(VIEWER), _perms(RESPONDER), _perms(APPROVER)
    assert "core.view_auditevent" in viewer
    assert all(p.split(".")[1].startswith("view_") for p in viewer)
    assert viewer <= responder <= approver


def test_roles_never_manage_people_or_api_keys(tenant_db) -> None:
    for role in (VIEWER, RESPONDER, APPROVER):
        granted = _perms(role)
        assert not {p for p in granted if p.startswith(("accounts.", "auth."))}
        assert "core.view_apikey" not in granted and "core.add_apikey" not in granted
