"""Static export: the page keeps being served by nginx or a CDN when the app is down."""

import json
import time

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from apps.incidents.services import incident_post_update


def test_export_writes_every_public_page(world, tmp_path, capsys) -> None:
    call_command("statuspage_export", str(tmp_path), "--tenant", "test")
    site = tmp_path / "test.localhost"
    summary = json.loads((site / "api/v2/summary.json").read_text())
    assert summary["status"]["indicator"] == "critical"
    assert "Payments failing" in (site / "index.html").read_text()
    assert (site / f"incidents/{world['p1'].pk}/index.html").exists()
    assert not (site / f"incidents/{world['triage'].pk}/index.html").exists()
    for name in ("history.atom", "history.rss", "maintenance.ics", "static/clarion/status.css"):
        assert (site / name).stat().st_size > 0
    everything = "".join(p.read_text() for p in site.rglob("*") if p.is_file())
    assert "SECRET" not in everything
    assert "test: " in capsys.readouterr().out


def test_export_of_an_unknown_tenant_is_refused(tmp_path, db) -> None:
    with pytest.raises(CommandError, match="No tenant with the slug 'ghost'"):
        call_command("statuspage_export", str(tmp_path), "--tenant", "ghost")


@pytest.mark.worker
def test_a_change_refreshes_the_export_through_a_worker(
    idle_worker, world, tmp_path, django_capture_on_commit_callbacks
) -> None:
    index = tmp_path / "test.localhost" / "index.html"
    with override_settings(CLARION_STATUS_EXPORT_DIR=str(tmp_path)):
        with django_capture_on_commit_callbacks(execute=True):
            incident_post_update(incident=world["p1"], body="More news.", actor="t")
        deadline = time.monotonic() + 30
        while not index.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    # The worker has its own connection, so it sees only committed data; the page exists.
    assert "Test Tenant" in index.read_text()
