"""The registry of inbound sources, filled at start-up, and each source's folder."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.incidents.choices import IncidentSource
from apps.integrations.choices import Source
from apps.integrations.inbound.base import inbound_sources, load_sources
from tests.integrations.conftest import INBOUND, fixture_files


def test_every_source_is_registered_under_its_hook_name() -> None:
    assert sorted(inbound_sources) == sorted(Source.values)
    assert set(Source.values) <= set(IncidentSource.values)  # incidents say who opened them


def test_a_source_registered_twice_stops_start_up() -> None:
    with pytest.raises(ImproperlyConfigured, match="alertmanager"):
        load_sources(["apps.integrations.inbound.alertmanager.source"])


def test_a_path_that_is_not_a_source_stops_start_up() -> None:
    with pytest.raises(ImproperlyConfigured):
        load_sources(["apps.integrations.inbound.base.TOLERANCE_SECONDS"])
    with pytest.raises(ImproperlyConfigured, match="cannot be imported"):
        load_sources(["apps.integrations.inbound.nagios.source"])


@pytest.mark.parametrize("source", Source.values)
def test_each_source_has_its_folder(source) -> None:
    folder = INBOUND / source
    for name in ("parse.py", "verify.py", "__init__.py"):
        assert (folder / name).is_file(), name
    assert len(fixture_files(source)) >= 2


def test_the_readme_explains_every_source() -> None:
    readme = (INBOUND / "README.md").read_text()
    for source in Source:
        assert f"/hooks/{source.value}/" in readme, source
