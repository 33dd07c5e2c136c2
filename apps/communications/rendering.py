"""Message templates: Django template syntax in a sandbox.

A template may use only `{{ placeholder|filter }}`, `{% if %}` and `{% for %}`, the
placeholders its kind offers (see `PLACEHOLDERS`) and the filters in `ALLOWED_FILTERS`.
`template_check` refuses anything else before a template is saved, naming the placeholder,
tag or filter. `required_placeholders` lists those used outside any `{% if %}`: a message
whose context leaves one of them empty cannot be approved. HTML templates autoescape.

`{{ started_at|local }}` renders a time in the recipient's zone with the zone named
("14:05 CET"); the recipient's zone is the context's `time_zone`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from django.template import Context, Engine, Library, Template, TemplateSyntaxError
from django.template.base import FilterExpression, Node, TextNode, VariableNode
from django.template.defaulttags import ForNode, IfNode

from apps.communications.choices import MessageKind

register = Library()


@register.filter
def local(value: Any, zone: str = "") -> str:
    """A datetime in the recipient's time zone, zone named: `2026-11-26 14:05 CET`."""
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    tz = ZoneInfo(zone or "UTC")
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


ALLOWED_FILTERS = frozenset(
    {
        "local",
        "default",
        "upper",
        "lower",
        "title",
        "capfirst",
        "truncatechars",
        "truncatewords",
        "join",
        "length",
        "pluralize",
        "yesno",
        "first",
        "last",
        "floatformat",
        "linebreaksbr",
    }
)
ALLOWED_NODES = (TextNode, VariableNode, IfNode, ForNode)

_INCIDENT = {
    "company",
    "incident",
    "services",
    "regions",
    "started_at",
    "impact_pct",
    "status",
    "status_page_url",
    "next_update_at",
    "severity",
}
_UPDATE = _INCIDENT | {"update", "eta", "root_cause", "what_you_can_do"}
_MAINTENANCE = {
    "company",
    "maintenance",
    "services",
    "regions",
    "window_start",
    "window_end",
    "expected_impact",
    "what_to_do",
    "contact_by",
    "details_url",
    "status_page_url",
}
_COMMON = {"recipient_name", "manage_url", "unsubscribe_url", "time_zone"}
PLACEHOLDERS: dict[str, frozenset[str]] = {
    kind: frozenset(names | _COMMON)
    for kind, names in {
        MessageKind.INITIAL_ALERT: _UPDATE,
        MessageKind.PROGRESS_UPDATE: _UPDATE,
        MessageKind.EXTENDED_OUTAGE: _UPDATE | {"known", "unknown", "update_interval"},
        MessageKind.RESOLUTION: _INCIDENT
        | {
            "update",
            "resolved_at",
            "what_happened",
            "what_we_fixed",
            "prevention",
            "sla_credit",
        },
        MessageKind.FALSE_ALARM: _INCIDENT,
        MessageKind.EXECUTIVE_NOTE: _UPDATE | {"executive_name"},
        MessageKind.POSTMORTEM_PUBLISHED: _INCIDENT | {"postmortem_url", "summary"},
        MessageKind.MAINTENANCE_NOTICE: _MAINTENANCE,
        MessageKind.MAINTENANCE_REMINDER: _MAINTENANCE | {"starts_in"},
        MessageKind.MAINTENANCE_STARTED: _MAINTENANCE,
        MessageKind.MAINTENANCE_COMPLETED: _MAINTENANCE,
        MessageKind.MAINTENANCE_OVERRUN: _MAINTENANCE | {"revised_end"},
        MessageKind.MAINTENANCE_RESCHEDULED: _MAINTENANCE | {"previous_start"},
        MessageKind.MAINTENANCE_CANCELLED: _MAINTENANCE | {"reason"},
    }.items()
}


@cache
def _engine(autoescape: bool) -> Engine:
    return Engine(
        libraries={"clarion": "apps.communications.rendering"},
        builtins=["apps.communications.rendering"],
        autoescape=autoescape,
        string_if_invalid="",
    )


class TemplateProblem(ValueError):
    """What is wrong with a template, in words for the person editing it."""


def _expressions(node: Node) -> Iterable[FilterExpression]:
    if isinstance(node, VariableNode):
        yield node.filter_expression
    elif isinstance(node, IfNode):
        for condition, _ in node.conditions_nodelists:
            yield from _condition_expressions(condition)
    elif isinstance(node, ForNode) and isinstance(node.sequence, FilterExpression):
        yield node.sequence


def _condition_expressions(condition: Any) -> Iterable[FilterExpression]:
    if condition is None:
        return
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        yield value
    for side in ("first", "second"):
        yield from _condition_expressions(getattr(condition, side, None))


def _root(expression: FilterExpression) -> str | None:
    var = expression.var
    lookups = getattr(var, "lookups", None)
    return lookups[0] if lookups else None


def _walk(
    nodelist: Any,
    loop_vars: frozenset[str],
    in_if: bool,
    found: list[tuple[str, bool]],
    problems: list[str],
) -> None:
    for node in nodelist:
        if not isinstance(node, ALLOWED_NODES):
            problems.append(
                f"'{node.token.contents.split()[0] if node.token else type(node).__name__}' "
                "is not allowed; use {{ placeholders }}, {% if %} and {% for %} only."
            )
            continue
        for expression in _expressions(node):
            for name, _ in expression.filters:
                filter_name = getattr(name, "__name__", str(name))
                if filter_name not in ALLOWED_FILTERS:
                    problems.append(f"The filter '{filter_name}' is not allowed.")
            root = _root(expression)
            if root is not None and root not in loop_vars:
                found.append((root, in_if or isinstance(node, IfNode | ForNode)))
        if isinstance(node, IfNode):
            for _, child in node.conditions_nodelists:
                _walk(child, loop_vars, True, found, problems)
        elif isinstance(node, ForNode):
            _walk(
                node.nodelist_loop,
                loop_vars | set(node.loopvars) | {"forloop"},
                True,
                found,
                problems,
            )
            _walk(node.nodelist_empty, loop_vars, True, found, problems)


def template_parse(source: str, *, kind: str, html: bool = False) -> tuple[Template, set[str]]:
    """Compile `source` for `kind`; return it with its required placeholders.

    Raises TemplateProblem naming every unknown placeholder, forbidden tag or filter."""
    try:
        template = _engine(html).from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"Template syntax error: {exc}") from exc
    found: list[tuple[str, bool]] = []
    problems: list[str] = []
    _walk(template.nodelist, frozenset(), False, found, problems)
    allowed = PLACEHOLDERS.get(kind, frozenset())
    unknown = sorted({name for name, _ in found if name not in allowed})
    if unknown:
        problems.append(
            f"Unknown placeholder(s): {', '.join(unknown)}. This kind offers: "
            f"{', '.join(sorted(allowed))}."
        )
    if problems:
        raise TemplateProblem(" ".join(dict.fromkeys(problems)))
    return template, {name for name, optional in found if not optional}


def template_check(source: str, *, kind: str, html: bool = False) -> None:
    template_parse(source, kind=kind, html=html)


def empty_placeholders(required: Iterable[str], context: Mapping[str, Any]) -> list[str]:
    """The required placeholders the context leaves empty (None, "" or an empty list)."""
    return sorted(name for name in required if context.get(name) in (None, "", [], ()))


def render(template: Template, context: Mapping[str, Any]) -> str:
    return template.render(Context(dict(context), autoescape=template.engine.autoescape))
