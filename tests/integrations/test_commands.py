"""`manage.py integration_create SLUG SOURCE [--name NAME] [--secret SECRET]`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from apps.integrations.models import Integration


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("integration_create", *args, stdout=out)
    connection.set_schema_to_public()
    return out.getvalue().splitlines()


def test_it_prints_token_and_secret_and_the_hook_path_alone_on_the_last_line(tenant) -> None:
    lines = run("test", "alertmanager", "--name", "Prod Alertmanager")
    connection.set_tenant(tenant)
    integration = Integration.objects.get()
    assert integration.name == "Prod Alertmanager"
    assert lines[-1] == f"/hooks/alertmanager/{integration.token}/"
    assert f"token:  {integration.token}" in lines
    assert f"secret: {integration.secret}" in lines
    assert any("Bearer" in line for line in lines)


def test_a_vendor_secret_can_be_given(tenant) -> None:
    lines = run("test", "pagerduty", "--secret", "pd-secret-123")
    connection.set_tenant(tenant)
    assert Integration.objects.get().secret == "pd-secret-123"
    assert lines[-1].startswith("/hooks/pagerduty/")


def test_without_the_vendor_secret_it_says_where_to_paste_it(tenant) -> None:
    lines = run("test", "sentry")
    assert "secret: (none yet" in "\n".join(lines)
    assert any("Client Secret" in line for line in lines)


def test_a_second_integration_for_the_same_tool_is_refused(tenant) -> None:
    run("test", "grafana")
    with pytest.raises(CommandError, match="already has a Grafana integration"):
        run("test", "grafana")


def test_unknown_tenant_and_source_are_clear_errors(tenant) -> None:
    with pytest.raises(CommandError, match="No tenant with the slug 'nope'"):
        run("nope", "alertmanager")
    with pytest.raises(CommandError, match=r"Unknown source 'nagios'.*alertmanager"):
        run("test", "nagios")
