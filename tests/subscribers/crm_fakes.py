"""Local fake Salesforce and HubSpot servers that the real client libraries talk to.

Each is a threaded `http.server` on 127.0.0.1 that keeps its records in memory, answers with
the providers' own response shapes, pages its results (two records a page, to exercise the
paging), checks the bearer token (401 with the provider's error body otherwise) and can be
told to fail the next matching requests (`fail_next`). Salesforce is served over https with
a certificate made for the test session (`make_certificate`).

Shapes:
- Salesforce REST `query` / `queryAll`: `{"totalSize", "done", "nextRecordsUrl", "records":
  [{"attributes": {"type", "url"}, <fields>}]}`; errors `[{"message", "errorCode"}]`.
- HubSpot CRM v3 `GET /crm/v3/objects/<type>` and `POST .../search`: `{"results": [{"id",
  "properties", "createdAt", "updatedAt", "archived", "associations"}], "paging": {"next":
  {"after", "link"}}}` (`"total"` in search answers); errors `{"status": "error", "message",
  "correlationId", "category"}`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import json
import re
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PAGE_SIZE = 2
UTC = dt.UTC


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and localhost): (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(value)


@dataclass
class Failure:
    status: int
    body: Any
    match: str  # a substring of the request path (with its query)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # answer normally, this many seconds late (status unused)


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int = 0


class _FakeServer:
    """What both fakes share: the server thread, the token, the queued failures, the log."""

    token = "fake-token"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures: list[Failure] = []
        self.requests: list[Logged] = []
        self.clock = dt.datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
        self.server: ThreadingHTTPServer | None = None
        self.url = ""

    def tick(self) -> dt.datetime:
        """The fake's clock: every change is five minutes after the previous one (more than
        the sync's overlap, so that a run re-reads only the record at its cursor)."""
        self.clock += dt.timedelta(minutes=5)
        return self.clock

    def fail_next(
        self,
        status: int,
        body: Any = None,
        *,
        times: int = 1,
        match: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        with self.lock:
            self.failures += [Failure(status, body, match, headers or {})] * times

    def slow_next(self, seconds: float, *, match: str = "") -> None:
        """Answer the next matching request `seconds` late (a client timeout)."""
        with self.lock:
            self.failures.append(Failure(0, None, match, delay=seconds))

    def _queued_failure(self, path: str) -> Failure | None:
        with self.lock:
            for position, failure in enumerate(self.failures):
                if failure.match in path:
                    return self.failures.pop(position)
        return None

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        raise NotImplementedError

    def unauthorized(self) -> tuple[int, Any]:
        raise NotImplementedError

    def start(self, context: ssl.SSLContext | None = None) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                logged = Logged(method, parts.path, parse_qs(parts.query), body)
                with fake.lock:
                    fake.requests.append(logged)
                headers: dict[str, str] = {}
                failure = fake._queued_failure(self.path)
                if failure is not None and failure.delay:
                    time.sleep(failure.delay)
                    failure = None
                if failure is not None:
                    status, answer, headers = failure.status, failure.body, failure.headers
                elif self.headers.get("Authorization") != f"Bearer {fake.token}":
                    status, answer = fake.unauthorized()
                else:
                    status, answer = fake.handle(method, parts.path, logged.query, body)
                logged.status = status
                self.send_response(status)
                data = b""
                if status != 204:  # No Content (an update answers so): no body, no length
                    data = json.dumps(answer, default=_json_default).encode()
                    self.send_header("Content-Type", "application/json;charset=UTF-8")
                    self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                """A client that timed out and left: nothing to report."""

        server = Server(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        scheme = "http"
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        self.server = server
        self.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def served(self, method: str = "", contains: str = "") -> list[Logged]:
        """The requests answered so far (optionally of one method, on paths containing
        `contains`)."""
        with self.lock:
            return [
                r
                for r in self.requests
                if (not method or r.method == method) and contains in r.path
            ]


# --- Salesforce ---------------------------------------------------------------------------

_SOQL = re.compile(r"SELECT (?P<fields>.+?) FROM (?P<sobject>\w+)(?: WHERE (?P<where>.+))?$")
_TERM = re.compile(r"(?P<field>\w+) (?P<op>>=|!=|=) (?P<value>.+)")

ACCOUNT_FIELDS = {
    "Id",
    "Name",
    "SystemModstamp",
    "IsDeleted",
    "Tier__c",
    "Region__c",
    "Monthly_Fee__c",
    "CurrencyIsoCode",
    "AccountNumber",
}
CONTACT_FIELDS = {
    "Id",
    "AccountId",
    "Email",
    "FirstName",
    "LastName",
    "SystemModstamp",
    "IsDeleted",
    "Status_Updates__c",
    "MobilePhone",
}


def soql_time(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class FakeSalesforce(_FakeServer):
    """Accounts and contacts of one org, answered to SOQL of the form
    `SELECT f, ... FROM Account|Contact [WHERE a AND b ...]` with terms `F >= <dateTime>`,
    `F = true|false|'text'|null`, `F != null`."""

    version = "59.0"

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, dict[str, dict[str, Any]]] = {"Account": {}, "Contact": {}}
        self.locators: dict[str, list[dict[str, Any]]] = {}
        self.ids = itertools.count(1)

    # --- the org -------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}5g{next(self.ids):010d}AAA"

    def account(self, name: str, **fields: Any) -> str:
        """Add an account (fields by API name) and return its 18-character id."""
        record_id = fields.pop("Id", None) or self._id("001")
        self.records["Account"][record_id] = {
            "Id": record_id,
            "Name": name,
            "IsDeleted": False,
            "SystemModstamp": self.tick(),
            **fields,
        }
        return record_id

    def contact(self, email: str | None, account_id: str | None = None, **fields: Any) -> str:
        record_id = fields.pop("Id", None) or self._id("003")
        self.records["Contact"][record_id] = {
            "Id": record_id,
            "AccountId": account_id,
            "Email": email,
            "FirstName": "",
            "LastName": "",
            "Status_Updates__c": True,
            "IsDeleted": False,
            "SystemModstamp": self.tick(),
            **fields,
        }
        return record_id

    def update(self, record_id: str, **fields: Any) -> None:
        for records in self.records.values():
            if record_id in records:
                records[record_id].update(fields, SystemModstamp=self.tick())

    def delete(self, record_id: str) -> None:
        """Move to the recycle bin (queryAll still finds it, with IsDeleted = true)."""
        self.update(record_id, IsDeleted=True)

    # --- the API -------------------------------------------------------------------------

    def unauthorized(self) -> tuple[int, Any]:
        return 401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]

    def _matches(self, record: dict[str, Any], term: str) -> bool:
        match = _TERM.fullmatch(term.strip().strip("()"))
        if match is None:
            raise ValueError(term)
        name, op, raw = match["field"], match["op"], match["value"].strip()
        value = record.get(name)
        if raw == "null":
            return (value is None) == (op == "=")
        if raw in ("true", "false"):
            return (value is True) == (raw == "true")
        if raw.startswith("'"):
            return value == raw.strip("'")
        wanted = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return value is not None and value >= wanted

    def _query(self, soql: str, *, include_deleted: bool) -> tuple[int, Any]:
        match = _SOQL.fullmatch(soql.strip())
        if match is None or match["sobject"] not in self.records:
            return 400, [{"message": f"unexpected query: {soql}", "errorCode": "MALFORMED_QUERY"}]
        sobject = match["sobject"]
        known = ACCOUNT_FIELDS if sobject == "Account" else CONTACT_FIELDS
        fields = [f.strip() for f in match["fields"].split(",")]
        terms = match["where"].split(" AND ") if match["where"] else []
        named = [m["field"] for t in terms if (m := _TERM.fullmatch(t.strip().strip("()")))]
        for name in fields + named:
            if name not in known:
                return 400, [
                    {
                        "message": f"\n{sobject}\n ^\nERROR at Row:1:Column:8\nNo such column "
                        f"'{name}' on entity '{sobject}'. If you are attempting to use a "
                        "custom field, be sure to append the '__c' after the custom field name.",
                        "errorCode": "INVALID_FIELD",
                    }
                ]
        rows = [
            r
            for _, r in sorted(self.records[sobject].items())
            if (include_deleted or not r["IsDeleted"]) and all(self._matches(r, t) for t in terms)
        ]
        records = [
            {
                "attributes": {
                    "type": sobject,
                    "url": f"/services/data/v{self.version}/sobjects/{sobject}/{r['Id']}",
                },
                **{
                    f: soql_time(r[f]) if isinstance(r.get(f), dt.datetime) else r.get(f)
                    for f in fields
                },
            }
            for r in rows
        ]
        locator = f"01gFAKE{uuid.uuid4().hex[:10]}"
        with self.lock:
            self.locators[locator] = records
        return 200, self._page(locator, 0)

    def _page(self, locator: str, offset: int) -> dict[str, Any]:
        records = self.locators[locator]
        end = offset + PAGE_SIZE
        page: dict[str, Any] = {
            "totalSize": len(records),
            "done": end >= len(records),
            "records": records[offset:end],
        }
        if end < len(records):
            page["nextRecordsUrl"] = f"/services/data/v{self.version}/query/{locator}-{end}"
        return page

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        base = f"/services/data/v{self.version}/"
        if path in (base + "query/", base + "queryAll/") and "q" in query:
            return self._query(query["q"][0], include_deleted=path.endswith("queryAll/"))
        more = re.fullmatch(re.escape(base) + r"query(?:All)?/(01gFAKE\w+)-(\d+)", path)
        if more and more[1] in self.locators:
            return 200, self._page(more[1], int(more[2]))
        return 404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]


# --- HubSpot ------------------------------------------------------------------------------


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeHubSpot(_FakeServer):
    """Companies and contacts of one HubSpot account (CRM v3): list pages (with
    associations and `archived`), and search on a modification-date property (`GTE`)."""

    token = "pat-na1-fake"

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, dict[str, dict[str, Any]]] = {"companies": {}, "contacts": {}}
        self.ids = itertools.count(1001)
        # What search answers report as `total` (None: the real count), to play an account
        # with more changes than a search may page through.
        self.search_total: int | None = None

    def company(self, name: str, **properties: Any) -> str:
        return self._add("companies", {"name": name, **properties})

    def contact(self, email: str | None, company_id: str | None = None, **properties: Any) -> str:
        record_id = self._add("contacts", {"email": email, "status_updates": "true", **properties})
        self.objects["contacts"][record_id]["companies"] = [company_id] if company_id else []
        return record_id

    def _add(self, object_type: str, properties: dict[str, Any]) -> str:
        record_id = str(next(self.ids))
        now = self.tick()
        self.objects[object_type][record_id] = {
            "id": record_id,
            "properties": {k: None if v is None else str(v) for k, v in properties.items()},
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
            "archivedAt": None,
        }
        return record_id

    def update(self, record_id: str, **properties: Any) -> None:
        for objects in self.objects.values():
            if record_id in objects:
                objects[record_id]["properties"].update(
                    {k: None if v is None else str(v) for k, v in properties.items()}
                )
                objects[record_id]["updatedAt"] = self.tick()

    def archive(self, record_id: str) -> None:
        for objects in self.objects.values():
            if record_id in objects:
                now = self.tick()
                objects[record_id].update(archived=True, archivedAt=now, updatedAt=now)

    # --- the API -------------------------------------------------------------------------

    def unauthorized(self) -> tuple[int, Any]:
        return 401, {
            "status": "error",
            "message": "Authentication credentials not found. This API supports OAuth 2.0 "
            "authentication and you can find more details at "
            "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "correlationId": str(uuid.uuid4()),
            "category": "INVALID_AUTHENTICATION",
        }

    def _render(
        self, object_type: str, obj: dict[str, Any], properties: list[str], associations: bool
    ) -> dict[str, Any]:
        modified = "hs_lastmodifieddate" if object_type == "companies" else "lastmodifieddate"
        props = {"hs_object_id": obj["id"], "createdate": _iso(obj["createdAt"])}
        props[modified] = _iso(obj["updatedAt"])
        for name in properties:
            if name not in props:
                props[name] = obj["properties"].get(name)
        if object_type == "contacts" and "associatedcompanyid" in properties:
            props["associatedcompanyid"] = (obj.get("companies") or [None])[0]
        rendered: dict[str, Any] = {
            "id": obj["id"],
            "properties": props,
            "createdAt": _iso(obj["createdAt"]),
            "updatedAt": _iso(obj["updatedAt"]),
            "archived": obj["archived"],
        }
        if obj["archived"]:
            rendered["archivedAt"] = _iso(obj["archivedAt"])
        if associations and obj.get("companies"):
            rendered["associations"] = {
                "companies": {
                    "results": [
                        {"id": company_id, "type": kind}
                        for company_id in obj["companies"]
                        for kind in ("contact_to_company", "contact_to_company_unlabeled")
                    ]
                }
            }
        return rendered

    def _paged(
        self, path: str, rows: list[dict[str, Any]], after: str | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        start = int(after or 0)
        end = start + PAGE_SIZE
        paging: dict[str, Any] = {}
        if end < len(rows):
            paging = {"next": {"after": str(end), "link": f"{self.url}{path}?after={end}"}}
        return rows[start:end], paging

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        listing = re.fullmatch(r"/crm/v3/objects/(companies|contacts)", path)
        if method == "GET" and listing:
            object_type = listing[1]
            # The client library sends Python's spelling (`True`); HubSpot reads any case.
            archived = query.get("archived", ["false"])[0].lower() == "true"
            properties = [p for v in query.get("properties", []) for p in v.split(",")]
            associations = "companies" in query.get("associations", [])
            rows = [
                o for _, o in sorted(self.objects[object_type].items()) if o["archived"] == archived
            ]
            page, paging = self._paged(path, rows, query.get("after", [None])[0])
            answer = {
                "results": [self._render(object_type, o, properties, associations) for o in page]
            }
            if paging:
                answer["paging"] = paging
            return 200, answer
        search = re.fullmatch(r"/crm/v3/objects/(companies|contacts)/search", path)
        if method == "POST" and search:
            object_type = search[1]
            rows = [o for _, o in sorted(self.objects[object_type].items()) if not o["archived"]]
            for group in body.get("filterGroups") or []:
                for term in group.get("filters") or []:
                    assert term["operator"] == "GTE", term
                    since = dt.datetime.fromtimestamp(int(term["value"]) / 1000, UTC)
                    rows = [o for o in rows if o["updatedAt"] >= since]
            page, paging = self._paged(path, rows, body.get("after"))
            answer = {
                "total": len(rows) if self.search_total is None else self.search_total,
                "results": [
                    self._render(object_type, o, body.get("properties") or [], False) for o in page
                ],
            }
            if paging:
                answer["paging"] = paging
            return 200, answer
        return 404, {"status": "error", "message": "Not found", "category": "OBJECT_NOT_FOUND"}
