"""Reading a source's fixtures the way the hook and the worker do, and comparing the alerts
with what a person reading the payload would expect."""

from __future__ import annotations

from typing import Any

from apps.integrations.inbound.base import Envelope, NormalizedAlert, inbound_sources
from tests.integrations.conftest import load_fixture


def parsed(source: str, name: str) -> list[tuple[Envelope, NormalizedAlert | None]]:
    """(stored event, alert or None when ignored) for each event of the fixture."""
    data = load_fixture(source, name)
    plugin = inbound_sources[source]
    headers = data["headers"]
    envelopes = plugin.split(data["body"], headers)
    return [(e, None if e.ignored else plugin.parse(e.payload, headers)) for e in envelopes]


def check(source: str, name: str, expected: list[dict[str, Any]]) -> None:
    """Each event of the fixture against its expectation: `{"ignored": True}`, or the
    alert's status, dedup_key, title, severity, labels (a subset), started/ended (ISO) and
    a link it must carry."""
    got = parsed(source, name)
    assert len(got) == len(expected), f"{name}: {len(got)} events, expected {len(expected)}"
    for (envelope, alert), want in zip(got, expected, strict=True):
        assert envelope.event_key, name
        if want.get("ignored"):
            assert envelope.ignored and alert is None, name
            assert envelope.reason, name
            continue
        assert alert is not None, name
        assert alert.source == source
        assert alert.external_id == envelope.event_key
        assert alert.status == want["status"], name
        assert alert.dedup_key == want["dedup_key"], name
        assert alert.title == want["title"], name
        assert alert.severity_hint == want.get("severity"), name
        for label, value in want.get("labels", {}).items():
            assert alert.labels.get(label) == value, (name, label, dict(alert.labels))
        if "started" in want:
            assert alert.started_at is not None
            assert alert.started_at.isoformat().startswith(want["started"]), alert.started_at
        if "ended" in want:
            assert alert.ended_at is not None
            assert alert.ended_at.isoformat().startswith(want["ended"]), alert.ended_at
        if "link" in want:
            assert want["link"] in alert.links, alert.links
