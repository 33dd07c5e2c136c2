"""Routing rules: what an alert is about, from its labels."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.integrations.models import validate_matchers
from apps.integrations.routing import matches, route_alert
from tests.integrations.conftest import add_rule


@pytest.mark.parametrize(
    ("matchers", "labels", "expected"),
    [
        ({}, {"service": "api"}, True),
        ({"service": "api"}, {"service": "api", "region": "eu"}, True),
        ({"service": "api"}, {"service": "api-gw"}, False),
        ({"service": "api", "region": "eu"}, {"service": "api"}, False),
        ({"service": "~api(-gw)?"}, {"service": "api-gw"}, True),
        ({"service": "~api"}, {"service": "api-gw"}, False),  # the whole value must match
        ({"env": "~|prod"}, {}, True),  # a missing label is the empty string
    ],
)
def test_matchers(matchers, labels, expected) -> None:
    assert matches(matchers, labels) is expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["service", "api"], "JSON object"),
        ({"service": 1}, "must be a string"),
        ({"service": "~(api"}, "not valid"),
        ({"": "api"}, "label name"),
    ],
)
def test_matchers_that_cannot_work_are_refused_with_a_reason(value, message) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_matchers(value)


def test_the_first_enabled_matching_rule_by_position_decides(catalog, alertmanager) -> None:
    integration, _ = alertmanager
    disabled = add_rule("Off", {"service": "api"}, ["checkout"], position=1)
    disabled.enabled = False
    disabled.save()
    add_rule("Later", {"service": "api"}, ["payments"], position=20)
    add_rule("First", {"service": "~a.*"}, ["api"], position=10, severity="P2", regions=["us"])
    route = route_alert(integration=integration, labels={"service": "api", "region": "eu"})
    assert route is not None
    assert route.rule_name == "First"
    assert dict(route.services) == {"api": "major_outage"}
    assert route.regions == ("us",)  # the rule's regions win over the label
    assert route.severity == "P2"


def test_the_region_label_is_used_only_when_it_names_a_region(catalog, alertmanager) -> None:
    integration, _ = alertmanager
    add_rule("API", {"service": "api"}, ["api"])
    known = route_alert(integration=integration, labels={"service": "api", "region": "eu"})
    unknown = route_alert(integration=integration, labels={"service": "api", "region": "mars"})
    assert known is not None and known.regions == ("eu",)
    assert unknown is not None and unknown.regions == ()


def test_no_rule_means_no_route(catalog, alertmanager) -> None:
    integration, _ = alertmanager
    assert route_alert(integration=integration, labels={"service": "api"}) is None
