"""The management API's OpenAPI description as a test oracle, shared by every app's API
tests: `CheckedClient` checks each exchange against the served description (status
documented, body valid, no undocumented field), and records which documented responses it
produced so that a round-trip test can assert every one of them is reachable."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpResponse
from jsonschema import Draft202012Validator
from rest_framework.test import APIClient

from tests.conftest import TEST_HOST

_DOCUMENT: dict[str, Any] = {}


def _json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema object as JSON Schema: `nullable` becomes a null alternative, and
    an object with declared properties accepts no others, so an undocumented field fails."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _json_schema(schema) for name, schema in value.items()}
        elif key in ("enum", "required", "default", "example"):
            out[key] = value
        else:
            out[key] = _json_schema(value)
    if out.get("type") == "object" and "properties" in out:
        out.setdefault("additionalProperties", False)
    if out.pop("nullable", False):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def openapi() -> dict[str, Any]:
    """The served description (/api/v1/schema/), fetched once."""
    if not _DOCUMENT:
        response = APIClient(HTTP_HOST=TEST_HOST).get("/api/v1/schema/", {"format": "json"})
        assert response.status_code == 200
        _DOCUMENT.update(response.json())
        _DOCUMENT["x-json-schema-components"] = {
            "schemas": {
                name: _json_schema(schema)
                for name, schema in _DOCUMENT["components"]["schemas"].items()
            }
        }
    return _DOCUMENT


def _validate(instance: Any, schema: dict[str, Any], document: dict[str, Any]) -> None:
    root = {**_json_schema(schema), "components": document["x-json-schema-components"]}
    Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
        instance
    )


def _path_template(document: dict[str, Any], path: str) -> str | None:
    """The documented path that `path` is an instance of (the most specific one)."""
    matches = []
    for template in document["paths"]:
        parts = re.split(r"(\{[^}]+\})", template)
        pattern = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        if re.fullmatch(pattern, path):
            matches.append(template)
    return min(matches, key=lambda t: t.count("{"), default=None)


Exchange = tuple[str, str, str]  # path template, method, status


def check_exchange(
    method: str, path: str, data: Any, content_type: str, response: HttpResponse
) -> Exchange:
    """Fail unless the response's status is documented for the operation and its body
    validates against the documented schema (and, for a success, the request body against
    the documented request)."""
    document = openapi()
    template = _path_template(document, path)
    assert template is not None, f"{method} {path}: the path is not in the OpenAPI description"
    operation = document["paths"][template].get(method.lower())
    assert operation is not None, f"{method} {template} is not documented"
    code = str(response.status_code)
    assert code in operation["responses"], (
        f"{method} {path} answered {code}, documented are {sorted(operation['responses'])}: "
        f"{response.content[:500]!r}"
    )
    content = operation["responses"][code].get("content")
    if content is None:
        assert not response.content, f"{method} {path}: {code} is documented without a body"
    else:
        documented = content["application/json"]["schema"]
        _validate(json.loads(response.content), documented, document)
    body = json.loads(data) if data and content_type.startswith("application/json") else None
    if response.status_code < 300 and body not in (None, {}):
        assert "requestBody" in operation, f"{method} {template} documents no request body"
        request_schema = operation["requestBody"]["content"]["application/json"]["schema"]
        _validate(body, request_schema, document)
    return template, method.lower(), code


class CheckedClient(APIClient):
    """An API client (JSON bodies) whose every exchange is checked against the OpenAPI
    description; `seen` records which documented responses it produced."""

    def __init__(self, host: str = TEST_HOST, key: str | None = None) -> None:
        super().__init__(HTTP_HOST=host)
        if key is not None:
            self.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        self.seen: set[Exchange] = set()

    def generic(
        self, method, path, data="", content_type="application/octet-stream", secure=False, **extra
    ):
        openapi()  # fetched before this request, which may be on another tenant's host
        response = super().generic(method, path, data, content_type, secure, **extra)
        self.seen.add(check_exchange(method, urlsplit(path).path, data, content_type, response))
        return response

    def post(self, path, data=None, format="json", **extra):
        return super().post(path, data, format=format, **extra)

    def patch(self, path, data=None, format="json", **extra):
        return super().patch(path, data, format=format, **extra)

    def delete(self, path, data=None, format="json", **extra):
        return super().delete(path, data, format=format, **extra)


def resource(template: str) -> str:
    """The first path segment under /api/v1/ ("" for the API root): which app answers."""
    return template.removeprefix("/api/v1/").split("/", 1)[0]


def management_operations(
    document: dict[str, Any], *, resources: Iterable[str] | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """(path template, method, operation) of everything documented under /api/v1/, or only
    under the given `resources` (first path segments, "" for the root): each app's round
    trip covers its own."""
    wanted = set(resources) if resources is not None else None

    def owned(template: str, operation: dict[str, Any]) -> bool:
        if wanted is None:
            return True
        if resource(template) not in wanted:
            return False
        # Another app may nest under this resource (e.g. an incident's messages): its tag says.
        tags = set(operation.get("tags", []))
        return not tags or resource(template) == "" or bool(tags & wanted)

    return [
        (template, method, operation)
        for template, item in document["paths"].items()
        if template.startswith("/api/v1/")
        for method, operation in item.items()
        if owned(template, operation)
    ]


def call(client: APIClient, method: str, path: str, body: Any = None) -> Any:
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, body)


def fill(value: Any, world: dict[str, Any]) -> Any:
    """`value` with `{name}` placeholders replaced from `world` (a lone placeholder keeps the
    value's type, so ids stay numbers)."""
    if isinstance(value, dict):
        return {k: fill(v, world) for k, v in value.items()}
    if isinstance(value, str):
        lone = re.fullmatch(r"\{(\w+)\}", value)
        return world[lone.group(1)] if lone else value.format(**world)
    return value


def _id(case: Any) -> str:
    return f"{case[0].upper()} {case[1]}" if isinstance(case, tuple) else f"GET {case}"
