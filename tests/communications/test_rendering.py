"""The template sandbox: what a tenant may write, and what a message must fill."""

from datetime import UTC, datetime

import pytest

from apps.communications.defaults import default_templates
from apps.communications.rendering import (
    TemplateProblem,
    empty_placeholders,
    render,
    template_check,
    template_parse,
)


@pytest.mark.parametrize(("kind", "channel", "part", "source"), default_templates())
def test_every_seeded_template_is_valid_for_its_kind(kind, channel, part, source) -> None:
    template_check(source, kind=kind, html=part == "html")


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("Hello {{ secret_key }}", "Unknown placeholder(s): secret_key"),
        ("{% load clarion %}x", "'load' is not allowed"),
        ('{% include "x.html" %}', "'include' is not allowed"),
        ("{% now 'Y' %}", "'now' is not allowed"),
        ("{{ incident.title|safe }}", "The filter 'safe' is not allowed"),
        ("{% if %}", "Template syntax error"),
    ],
)
def test_the_sandbox_names_what_is_not_allowed(source: str, fragment: str) -> None:
    with pytest.raises(TemplateProblem) as caught:
        template_check(source, kind="initial_alert")
    assert fragment in str(caught.value)


def test_placeholders_are_per_kind() -> None:
    template_check("{{ window_start }}", kind="maintenance_notice")
    with pytest.raises(TemplateProblem, match="Unknown placeholder"):
        template_check("{{ window_start }}", kind="initial_alert")


def test_required_placeholders_are_those_outside_ifs() -> None:
    _, required = template_parse(
        "{{ incident.title }} {% if eta %}ETA {{ eta }}{% endif %}"
        "{% for s in services %}{{ s }}{% endfor %}",
        kind="progress_update",
    )
    assert required == {"incident"}
    assert empty_placeholders(
        {"incident", "update"}, {"incident": {"title": "x"}, "update": ""}
    ) == ["update"]


def test_times_render_in_the_recipients_zone_with_the_zone_named() -> None:
    template, _ = template_parse("Since {{ started_at|local:time_zone }}", kind="initial_alert")
    when = datetime(2026, 11, 26, 13, 5, tzinfo=UTC)
    assert render(template, {"started_at": when, "time_zone": "Europe/Paris"}) == (
        "Since 2026-11-26 14:05 CET"
    )
    assert render(template, {"started_at": when, "time_zone": "America/New_York"}) == (
        "Since 2026-11-26 08:05 EST"
    )


def test_html_templates_escape_values() -> None:
    template, _ = template_parse("<p>{{ incident.title }}</p>", kind="initial_alert", html=True)
    assert render(template, {"incident": {"title": "<script>x</script>"}}) == (
        "<p>&lt;script&gt;x&lt;/script&gt;</p>"
    )
