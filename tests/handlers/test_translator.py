"""Tests for the LegacyApiProxy translator (``serverless_patterns/_lambda/translator/app.py``).

The real handler calls a real legacy service on 127.0.0.1 (a ThreadingHTTPServer in a background
thread) that answers XML, JSON, forms and every failure the translator maps: 4xx, 5xx, a slow
and a dripping answer, malformed XML, a billion-laughs DTD, external entities, redirects, an
oversized body. Events are API Gateway REST proxy events. Metrics are Powertools EMF documents on
stdout, parsed back from the captured output. Nothing leaves the machine: the one name that does
not resolve ends in ``.invalid`` (RFC 2606) and is answered here instead of by a DNS server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any
from xml.sax.saxutils import escape

import pytest
from aws_lambda_powertools import Logger

from tests.handlers.support import (
    LAMBDA_REQUEST_ID,
    NAMESPACE,
    PACKAGE_LAMBDA,
    FakeLambdaContext,
    NoRequestLog,
    answer_invalid_names_offline,
    api_gateway_event,
    captured_logs,
    closed_local_port,
    create_service_logger,
    emf_documents,
    load_handler,
    send_body,
    serve_http,
    set_handler_env,
    unset_proxies,
)

SERVICE = "legacy-translator-test"
HANDLER_PATH = PACKAGE_LAMBDA / "translator" / "app.py"
ROUTES_PATH = PACKAGE_LAMBDA / "translator" / "routes.py"
MODULE_NAME = "translator_app_under_test"
API_REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
CONTEXT = FakeLambdaContext("legacy-translator", aws_request_id=LAMBDA_REQUEST_ID)
# Long enough that a normal exchange never hits it on a loaded 2-core machine (0.5 s did: a
# plain answer took 0.78 s once while other suites ran), short enough to keep timeouts quick.
LEGACY_TIMEOUT = 1.0
SLOW_SECONDS = 2.5
JSON_HEADERS = {"Content-Type": "application/json", "X-Correlation-Id": API_REQUEST_ID}

# --- the legacy service -----------------------------------------------------------------------

ITEMS = [
    ("42", "A-1", "Bolt", "12"),
    ("43", "A-2", "Nut", "0"),
    ("44", "B-7", "Washer", "250"),
]
ITEM_XML = b'<item id="42"><sku>A-1</sku><name>Bolt</name><stock>12</stock></item>'
NOT_FOUND_XML = b"<error><message>no such item</message></error>"
SERVER_SECRET = "ORA-00942 at db-7.internal:1521"
LOLZ_XML = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "%s">\n' % (n, (b"&lol%d;" % (n - 1) if n > 2 else b"&lol;") * 10)
        for n in range(2, 10)
    )
    + b"]>\n<lolz>&lol9;</lolz>"
)
XXE_XML = (
    b'<?xml version="1.0"?>\n<!DOCTYPE item [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b"<item><sku>&xxe;</sku></item>"
)
MALFORMED_XML = b"<item><sku>A-1</sku><name>Bolt</item>"
STATS_JSON = {
    "summary": {"total": "3", "value": 1234.5, "currency": "EUR"},
    "warehouses": [{"code": "W1", "open": "yes"}, {"code": "W2", "open": False}],
}
FORM_LINES = b"sku=A-1\nname=Bolt and Nut\nstock = 12\nnote=a=b&c\n"
FORM_URLENCODED = b"sku=A-1&name=Big+Bolt%21&tag=a&tag=b&empty="
HUGE_BYTES = 5 * 1024 * 1024 + 1
DRIP_CHUNKS = 25
DRIP_SECONDS = 0.1
# Paths the legacy service was asked for, in order.
REQUESTED: list[str] = []


def items_xml(limit: int) -> bytes:
    items = "".join(
        f'<item id="{id_}"><sku>{sku}</sku><name>{name}</name><stock>{stock}</stock></item>'
        for id_, sku, name, stock in ITEMS[:limit]
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<items count="{limit}">{items}</items>'.encode()
    )


class LegacyHandler(NoRequestLog, BaseHTTPRequestHandler):
    """The old service: one behaviour per path."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        REQUESTED.append(self.path)
        # The translator may give up on a slow answer and close the connection first.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route()

    def _route(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        path = url.path
        if path == "/inventory/item/42":
            self._send(200, ITEM_XML, "application/xml")
        elif path.startswith("/inventory/item/"):
            self._send(404, NOT_FOUND_XML, "application/xml")
        elif path == "/inventory/items":
            self._send(200, items_xml(int(query.get("limit", ["3"])[0])), "text/xml")
        elif path == "/inventory/stats":
            self._send(200, json.dumps(STATS_JSON).encode(), "application/json")
        elif path == "/inventory/item-lines":
            self._send(200, FORM_LINES, "text/plain")
        elif path == "/inventory/item-form":
            self._send(200, FORM_URLENCODED, "application/x-www-form-urlencoded")
        elif path == "/orders" and self.command == "POST":
            self._echo_form()
        elif path.startswith("/echo/"):
            self._echo_json()
        elif path.startswith("/cases/"):
            self._case(path.removeprefix("/cases/"))
        else:
            self._send(404, b"Not Found", "text/plain")

    def _case(self, case: str) -> None:
        if case == "conflict":
            self._send(409, b"<message>sku already exists</message>", "application/xml")
        elif case == "rejected":
            body = json.dumps({"message": "quantity must be positive", "code": 17}).encode()
            self._send(422, body, "application/json")
        elif case == "locked":
            self._send(423, b"<html><body>Locked</body></html>", "text/html")
        elif case == "verbose":
            self._send(400, b"<error><message>" + b"x" * 600 + b"</message></error>", "text/xml")
        elif case == "crash":
            body = f"<error><message>{SERVER_SECRET}</message></error>".encode()
            self._send(500, body, "application/xml")
        elif case == "unavailable":
            self._send(503, b"Service Unavailable", "text/plain")
        elif case == "slow":
            time.sleep(SLOW_SECONDS)
            self._send(200, ITEM_XML, "application/xml")
        elif case == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(DRIP_CHUNKS * 5))
            self.end_headers()
            for _ in range(DRIP_CHUNKS):
                self.wfile.write(b"<a/> ")
                self.wfile.flush()
                time.sleep(DRIP_SECONDS)
        elif case == "malformed":
            self._send(200, MALFORMED_XML, "application/xml")
        elif case == "lolz":
            self._send(200, LOLZ_XML, "application/xml")
        elif case == "xxe":
            self._send(200, XXE_XML, "application/xml")
        elif case == "external-dtd":
            dtd = f"http://{self.headers['Host']}/evil.dtd"
            self._send(200, f'<!DOCTYPE item SYSTEM "{dtd}"><item/>'.encode(), "application/xml")
        elif case == "redirect":
            self._send(302, b"", "text/plain", location="/inventory/item/42")
        elif case == "huge":
            self._send(200, b"<a>" + b"x" * (HUGE_BYTES - 7) + b"</a>", "application/xml")
        elif case == "not-a-number":
            self._send(200, b"<item><stock>twelve</stock></item>", "application/xml")
        elif case == "empty":
            self._send(200, b"", "application/xml")
        elif case == "no-content":
            self._send(204, b"", "application/xml")
        else:
            self._send(404, b"Not Found", "text/plain")

    def _echo_form(self) -> None:
        """201 with the form fields received, as XML (a repeated field, repeated elements)."""
        length = int(self.headers.get("Content-Length", "0"))
        fields = urllib.parse.parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
        elements = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields)
        body = (
            '<order status="created">'
            f"<correlationId>{escape(self.headers.get('X-Correlation-Id', ''))}</correlationId>"
            f"<contentType>{escape(self.headers.get('Content-Type', ''))}</contentType>"
            f"<fields>{elements}</fields>"
            "</order>"
        )
        self._send(201, body.encode(), "application/xml")

    def _echo_json(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = {
            "method": self.command,
            "path": self.path,
            "correlationId": self.headers.get("X-Correlation-Id"),
            "accept": self.headers.get("Accept"),
            "contentLength": self.headers.get("Content-Length"),
            "body": self.rfile.read(length).decode(),
        }
        self._send(200, json.dumps(body).encode(), "application/json")

    def _send(
        self, status: int, body: bytes, content_type: str, location: str | None = None
    ) -> None:
        send_body(self, status, body, content_type, location)


@pytest.fixture(scope="module")
def legacy() -> Iterator[str]:
    """Base URL of the legacy service, served for the whole module."""
    # The slow handlers outlive their client; the server never waits for them.
    with serve_http(LegacyHandler, thread_name="legacy-service") as url:
        yield url


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A local port nothing listens on."""
    return closed_local_port()


# --- the translator ---------------------------------------------------------------------------


def route(legacy_path: str, **overrides: Any) -> dict[str, Any]:
    """A route entry with every key, as the construct writes it."""
    return {
        "legacy_path": legacy_path,
        "legacy_method": "GET",
        "response_format": "xml",
        "request_mapping": None,
        "response_mapping": None,
        **overrides,
    }


ROUTES: dict[str, Any] = {
    "GET /items/{id}": route(
        "/inventory/item/{id}",
        response_mapping={
            "id": "item.@id",
            "sku": "item.sku",
            "name": "item.name",
            "stock": {"path": "item.stock", "type": "int"},
            "stockText": "item.stock",
            "color": "item.color",
        },
    ),
    "GET /raw/items/{id}": route("/inventory/item/{id}"),
    "GET /items": route(
        "/inventory/items",
        response_mapping={
            "count": {"path": "items.@count", "type": "int"},
            "first": {"sku": "items.item.0.sku", "name": "items.item.0.name"},
            "items": {
                "from": "items.item",
                "each": {"id": "@id", "sku": "sku", "stock": {"path": "stock", "type": "int"}},
            },
        },
    ),
    "GET /stats": route(
        "/inventory/stats",
        response_format="json",
        response_mapping={
            "total": {"path": "summary.total", "type": "int"},
            "value": {"path": "summary.value", "type": "float"},
            "currency": "summary.currency",
            "warehouses": {
                "from": "warehouses",
                "each": {"code": "code", "open": {"path": "open", "type": "bool"}},
            },
        },
    ),
    "GET /items/{id}/lines": route("/inventory/item-lines", response_format="form"),
    "GET /items/{id}/form": route("/inventory/item-form", response_format="form"),
    "POST /orders": route(
        "/orders",
        legacy_method="POST",
        request_mapping={
            "sku": "item.sku",
            "quantity": "quantity",
            "customer": "customer.name",
            "express": "express",
            "tag": "tags",
        },
        response_mapping={
            "status": "order.@status",
            "received": "order.fields",
            "correlationId": "order.correlationId",
            "contentType": "order.contentType",
        },
    ),
    "GET /cases/{case}": route("/cases/{case}"),
    "GET /typed": route(
        "/cases/not-a-number", response_mapping={"stock": {"path": "item.stock", "type": "int"}}
    ),
    "GET /echo/{shelf}/{id}": route("/echo/shelf/{shelf}/item/{id}", response_format="json"),
    "ANY /anything": route("/echo/anything", legacy_method="POST", response_format="json"),
}


def api_event(
    method: str,
    resource: str,
    *,
    path_parameters: dict[str, str] | None = None,
    query: list[tuple[str, str]] | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST API Lambda proxy integration event."""
    path = resource
    for name, value in (path_parameters or {}).items():
        path = path.replace(f"{{{name}}}", value)
    multi: dict[str, list[str]] = {}
    for key, value in query or []:
        multi.setdefault(key, []).append(value)
    return api_gateway_event(
        method,
        resource,
        path,
        request_id=API_REQUEST_ID,
        headers=headers,
        query={k: v[-1] for k, v in multi.items()} if multi else None,
        multi_value_query=multi or None,
        path_parameters=path_parameters,
        body=body,
        base64_encoded=False,
    )


def get(resource: str, **path_parameters: str) -> dict[str, Any]:
    return api_event("GET", resource, path_parameters=path_parameters or None)


def case(name: str) -> dict[str, Any]:
    return get("/cases/{case}", case=name)


def post_order(body: str | None, **kwargs: Any) -> dict[str, Any]:
    return api_event("POST", "/orders", body=body, **kwargs)


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "requestId": API_REQUEST_ID}}


def invalid(reason: str) -> dict[str, Any]:
    return error("LegacyResponseInvalid", f"the legacy service sent an invalid response: {reason}")


@pytest.fixture(scope="module", autouse=True)
def service_logger() -> Logger:
    """The service's Powertools logger, created before any ``capsys`` capture."""
    return create_service_logger(SERVICE)


def set_environment(monkeypatch: pytest.MonkeyPatch, legacy: str) -> None:
    set_handler_env(monkeypatch, SERVICE, credentials=False)
    monkeypatch.setenv("LEGACY_BASE_URL", legacy)
    monkeypatch.setenv("LEGACY_TIMEOUT", str(LEGACY_TIMEOUT))
    monkeypatch.setenv("TRANSLATOR_ROUTES", json.dumps(ROUTES))
    unset_proxies(monkeypatch)


def load_module(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Load the handler module from its file, as Lambda would, with the current environment.

    Its folder is on the import path, as the function's code root is in Lambda, so that
    ``app.py`` imports its sibling ``routes.py``.
    """
    # In sys.modules as an import would put it; gone afterwards.
    monkeypatch.syspath_prepend(str(HANDLER_PATH.parent))
    monkeypatch.delitem(sys.modules, "routes", raising=False)
    return load_handler(HANDLER_PATH, MODULE_NAME, monkeypatch=monkeypatch)


def load_routes() -> ModuleType:
    """The route table module (``routes.py``) on its own, as LegacyApiProxy loads it."""
    return load_handler(ROUTES_PATH, "translator_routes_under_test", register_while_loading=True)


@pytest.fixture(autouse=True)
def translator_env(monkeypatch: pytest.MonkeyPatch, legacy: str) -> None:
    set_environment(monkeypatch, legacy)


@pytest.fixture(scope="module")
def app(legacy: str) -> Iterator[ModuleType]:
    """The handler module with the test configuration, loaded once for the module."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        set_environment(monkeypatch, legacy)
        yield load_module(monkeypatch)


@pytest.fixture
def load_app(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """Load a fresh handler module with extra environment variables set."""

    def load(**environ: str) -> ModuleType:
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        return load_module(monkeypatch)

    return load


Call = Callable[[dict[str, Any]], tuple[int, dict[str, str], Any]]


def call_handler(app: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """Run the handler on an API Gateway event: status, headers and the decoded body."""
    response = app.handler(event, CONTEXT)
    assert set(response) == {"statusCode", "headers", "body"}
    assert isinstance(response["body"], str)
    body = json.loads(response["body"]) if response["body"] else None
    return response["statusCode"], response["headers"], body


@pytest.fixture
def call(app: ModuleType) -> Call:
    return lambda event: call_handler(app, event)


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    """The records the service's logger emits during the test."""
    with captured_logs(SERVICE) as records:
        yield records


# --- translated answers -----------------------------------------------------------------------


def test_item_is_translated_by_its_response_mapping(call: Call) -> None:
    status, headers, body = call(get("/items/{id}", id="42"))

    assert (status, headers, body) == (
        200,
        JSON_HEADERS,
        {
            "id": "42",
            "sku": "A-1",
            "name": "Bolt",
            "stock": 12,
            "stockText": "12",
            "color": None,
        },
    )


def test_without_a_response_mapping_the_converted_document_is_returned(call: Call) -> None:
    status, _, body = call(get("/raw/items/{id}", id="42"))

    assert (status, body) == (
        200,
        {"item": {"@id": "42", "sku": "A-1", "name": "Bolt", "stock": "12"}},
    )


def test_item_list_is_mapped_with_from_and_each(call: Call) -> None:
    status, _, body = call(get("/items"))

    assert (status, body) == (
        200,
        {
            "count": 3,
            "first": {"sku": "A-1", "name": "Bolt"},
            "items": [
                {"id": "42", "sku": "A-1", "stock": 12},
                {"id": "43", "sku": "A-2", "stock": 0},
                {"id": "44", "sku": "B-7", "stock": 250},
            ],
        },
    )


def test_a_single_element_is_a_one_element_list_and_index_0(call: Call) -> None:
    status, _, body = call(api_event("GET", "/items", query=[("limit", "1")]))

    assert (status, body) == (
        200,
        {
            "count": 1,
            "first": {"sku": "A-1", "name": "Bolt"},
            "items": [{"id": "42", "sku": "A-1", "stock": 12}],
        },
    )


def test_json_answer_is_mapped_with_declared_types_only(call: Call) -> None:
    status, _, body = call(get("/stats"))

    assert (status, body) == (
        200,
        {
            "total": 3,
            "value": 1234.5,
            "currency": "EUR",
            "warehouses": [{"code": "W1", "open": True}, {"code": "W2", "open": False}],
        },
    )


def test_key_value_lines_answer_becomes_an_object(call: Call) -> None:
    status, _, body = call(get("/items/{id}/lines", id="42"))

    assert (status, body) == (
        200,
        {"sku": "A-1", "name": "Bolt and Nut", "stock": "12", "note": "a=b&c"},
    )


def test_urlencoded_answer_becomes_an_object_with_repeated_keys_as_lists(call: Call) -> None:
    status, _, body = call(get("/items/{id}/form", id="42"))

    assert (status, body) == (
        200,
        {"sku": "A-1", "name": "Big Bolt!", "tag": ["a", "b"], "empty": ""},
    )


def test_path_parameters_are_quoted_and_the_query_string_passed_through(call: Call) -> None:
    event = api_event(
        "GET",
        "/echo/{shelf}/{id}",
        path_parameters={"shelf": "a b/c?d", "id": "%41&x=1"},
        query=[("tag", "a"), ("tag", "b c"), ("q", "ä&=")],
    )

    status, headers, body = call(event)

    assert (status, headers) == (200, JSON_HEADERS)
    assert body == {
        "method": "GET",
        "path": "/echo/shelf/a%20b%2Fc%3Fd/item/%2541%26x%3D1?tag=a&tag=b%20c&q=%C3%A4%26%3D",
        "correlationId": API_REQUEST_ID,
        "accept": "application/json, */*;q=0.1",
        "contentLength": None,
        "body": "",
    }


@pytest.mark.parametrize("value", [".", ".."])
def test_dot_path_parameters_are_refused(call: Call, value: str) -> None:
    requested = len(REQUESTED)

    status, _, body = call(
        api_event("GET", "/echo/{shelf}/{id}", path_parameters={"shelf": value, "id": "1"})
    )

    assert (status, body) == (
        400,
        error("BadRequest", f"path parameter 'shelf' must not be {value!r}"),
    )
    assert len(REQUESTED) == requested


def test_caller_correlation_id_is_forwarded_and_returned(call: Call) -> None:
    event = api_event("GET", "/echo/{shelf}/{id}", path_parameters={"shelf": "s", "id": "1"})
    event["headers"] = {"x-correlation-id": "order-7f3a"}

    status, headers, body = call(event)

    assert (status, headers["X-Correlation-Id"], body["correlationId"]) == (
        200,
        "order-7f3a",
        "order-7f3a",
    )


def test_unusable_correlation_id_falls_back_to_the_request_id(call: Call) -> None:
    event = api_event("GET", "/echo/{shelf}/{id}", path_parameters={"shelf": "s", "id": "1"})
    event["headers"] = {"X-Correlation-Id": "two words"}

    status, headers, body = call(event)

    assert (status, headers["X-Correlation-Id"], body["correlationId"]) == (
        200,
        API_REQUEST_ID,
        API_REQUEST_ID,
    )


def test_any_route_matches_every_method_and_a_bodyless_post_sends_length_0(call: Call) -> None:
    status, _, body = call(api_event("DELETE", "/anything"))

    assert status == 200
    assert (body["method"], body["path"], body["contentLength"], body["body"]) == (
        "POST",
        "/echo/anything",
        "0",
        "",
    )


def test_empty_legacy_answer_is_null_and_204_has_no_body(call: Call) -> None:
    assert call(case("empty")) == (200, JSON_HEADERS, None)
    assert call(case("no-content")) == (204, JSON_HEADERS, None)


# --- request mapping --------------------------------------------------------------------------


def test_post_body_becomes_the_legacy_form_fields(call: Call) -> None:
    order = {
        "item": {"sku": "A-1", "color": "red"},
        "quantity": 3,
        "customer": {"name": "Ada Lovelace & Co"},
        "express": True,
        "tags": ["gift", "fragile"],
        "ignored": {"deep": 1},
    }
    event = post_order(json.dumps(order), headers={"X-Correlation-Id": "order-1"})

    status, headers, body = call(event)

    assert (status, headers["X-Correlation-Id"]) == (201, "order-1")
    assert body == {
        "status": "created",
        "received": {
            "sku": "A-1",
            "quantity": "3",
            "customer": "Ada Lovelace & Co",
            "express": "true",
            "tag": ["gift", "fragile"],
        },
        "correlationId": "order-1",
        "contentType": "application/x-www-form-urlencoded",
    }


def test_missing_mapped_fields_are_a_400_naming_them(call: Call) -> None:
    requested = len(REQUESTED)
    order = {"item": {"sku": "A-1"}, "quantity": 3, "express": None, "tags": []}

    status, _, body = call(post_order(json.dumps(order)))

    assert (status, body) == (
        400,
        error("BadRequest", "request body is missing the field(s) 'customer.name', 'express'"),
    )
    assert len(REQUESTED) == requested


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[1, 2]", "request body must be a JSON object"),
        ('"order"', "request body must be a JSON object"),
        ("{", "request body is not valid JSON: Expecting property name enclosed in double quotes"),
        ('{"quantity": NaN}', "request body is not valid JSON: NaN is not valid JSON"),
        (
            json.dumps(
                {
                    "item": {"sku": {"code": "A-1"}},
                    "quantity": 1,
                    "customer": {"name": "Ada"},
                    "express": False,
                    "tags": [],
                }
            ),
            "request body field 'item.sku' must be a string, number or boolean (or a list of them)",
        ),
    ],
)
def test_bad_request_bodies_are_a_400(call: Call, raw: str, message: str) -> None:
    status, _, body = call(post_order(raw))

    assert (status, body) == (400, error("BadRequest", message))


# --- legacy errors ----------------------------------------------------------------------------


def test_legacy_404_passes_through_with_its_xml_message(call: Call) -> None:
    status, headers, body = call(get("/items/{id}", id="7"))

    assert (status, headers, body) == (
        404,
        JSON_HEADERS,
        error("LegacyClientError", "no such item"),
    )


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("conflict", 409, "sku already exists"),
        ("rejected", 422, "quantity must be positive"),
        ("locked", 423, "Locked"),
        ("verbose", 400, "x" * 500),
    ],
)
def test_legacy_4xx_passes_through_with_its_message_or_reason(
    call: Call, name: str, status: int, message: str
) -> None:
    assert call(case(name)) == (status, JSON_HEADERS, error("LegacyClientError", message))


@pytest.mark.parametrize(("name", "legacy_status"), [("crash", 500), ("unavailable", 503)])
def test_legacy_5xx_is_a_502_without_its_body(call: Call, name: str, legacy_status: int) -> None:
    status, headers, body = call(case(name))

    assert (status, headers, body) == (
        502,
        JSON_HEADERS,
        error("LegacyServerError", f"the legacy service failed with HTTP {legacy_status}"),
    )
    assert SERVER_SECRET not in json.dumps(body)


@pytest.mark.parametrize("name", ["slow", "drip"])
def test_legacy_slower_than_its_timeout_is_a_504_within_the_timeout(call: Call, name: str) -> None:
    start = time.perf_counter()
    status, headers, body = call(case(name))
    elapsed = time.perf_counter() - start

    assert (status, headers, body) == (
        504,
        JSON_HEADERS,
        error("LegacyTimeout", f"the legacy service did not answer within {LEGACY_TIMEOUT:g} s"),
    )
    assert LEGACY_TIMEOUT <= elapsed < LEGACY_TIMEOUT + 0.5


def test_malformed_xml_is_an_invalid_response(call: Call) -> None:
    assert call(case("malformed")) == (
        502,
        JSON_HEADERS,
        invalid("malformed XML: mismatched tag: line 1, column 32"),
    )


def test_billion_laughs_is_refused_quickly_without_expansion(call: Call) -> None:
    start = time.perf_counter()
    status, headers, body = call(case("lolz"))
    elapsed = time.perf_counter() - start

    assert (status, headers, body) == (
        502,
        JSON_HEADERS,
        invalid("DOCTYPE declarations are not allowed"),
    )
    assert elapsed < 1.0
    assert "lol" not in json.dumps(body)


def test_external_entity_is_refused_and_never_read(call: Call) -> None:
    status, _, body = call(case("xxe"))

    assert (status, body) == (502, invalid("DOCTYPE declarations are not allowed"))
    passwd = Path("/etc/passwd")
    text = json.dumps(body)
    assert "root:" not in text
    if passwd.exists():
        assert passwd.read_text().splitlines()[0] not in text


def test_external_dtd_is_refused_and_never_fetched(call: Call) -> None:
    status, _, body = call(case("external-dtd"))

    assert (status, body) == (502, invalid("DOCTYPE declarations are not allowed"))
    assert "/evil.dtd" not in REQUESTED


def test_redirect_is_not_followed(call: Call) -> None:
    requested = len(REQUESTED)

    status, _, body = call(case("redirect"))

    assert (status, body) == (502, invalid("an unexpected redirect (HTTP 302)"))
    assert REQUESTED[requested:] == ["/cases/redirect"]


def test_answer_over_5_mib_is_an_invalid_response(call: Call) -> None:
    assert call(case("huge")) == (502, JSON_HEADERS, invalid("larger than 5 MiB"))


def test_value_that_does_not_convert_to_its_declared_type_is_an_invalid_response(
    call: Call,
) -> None:
    assert call(get("/typed")) == (
        502,
        JSON_HEADERS,
        invalid("'item.stock' is not an int: 'twelve'"),
    )


def test_refused_connection_is_legacy_unavailable(
    load_app: Callable[..., ModuleType], closed_port: int
) -> None:
    app = load_app(LEGACY_BASE_URL=f"http://127.0.0.1:{closed_port}")

    assert call_handler(app, get("/items/{id}", id="42")) == (
        502,
        JSON_HEADERS,
        error("LegacyUnavailable", "the legacy service is unavailable: connection refused"),
    )


def test_unresolvable_name_is_legacy_unavailable(
    load_app: Callable[..., ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    answer_invalid_names_offline(monkeypatch)
    app = load_app(LEGACY_BASE_URL="https://legacy.invalid/api")

    assert call_handler(app, get("/items/{id}", id="42")) == (
        502,
        JSON_HEADERS,
        error("LegacyUnavailable", "the legacy service is unavailable: its name does not resolve"),
    )


def test_tls_to_a_plain_http_server_is_legacy_unavailable(
    load_app: Callable[..., ModuleType], legacy: str
) -> None:
    app = load_app(LEGACY_BASE_URL=legacy.replace("http://", "https://"))

    assert call_handler(app, get("/items/{id}", id="42")) == (
        502,
        JSON_HEADERS,
        error("LegacyUnavailable", "the legacy service is unavailable: TLS handshake failed"),
    )


def test_unknown_route_is_a_404(call: Call) -> None:
    requested = len(REQUESTED)

    assert call(get("/secret/admin")) == (404, JSON_HEADERS, error("NotFound", "no such route"))
    assert call(api_event("DELETE", "/items/{id}", path_parameters={"id": "42"})) == (
        404,
        JSON_HEADERS,
        error("NotFound", "no such route"),
    )
    assert len(REQUESTED) == requested


def test_unexpected_failure_is_a_generic_500(
    app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: Any) -> Any:
        raise RuntimeError("secret internals at /var/task/app.py")

    monkeypatch.setattr(app, "apply_spec", explode)

    status, headers, body = call_handler(app, get("/items/{id}", id="42"))

    assert (status, headers, body) == (500, JSON_HEADERS, error("InternalError", "internal error"))


# --- metrics and logs -------------------------------------------------------------------------


def metric_document(name: str, unit: str, dimensions: dict[str, str], value: float) -> Any:
    return {
        "_aws": {
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[*dimensions, "service"]],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }
            ]
        },
        **dimensions,
        "service": SERVICE,
        name: [value],
    }


def run_mixed_requests(call: Call) -> None:
    """ok, a legacy 404, an unknown route (no legacy call) and a bad body (no legacy call)."""
    call(get("/items/{id}", id="42"))
    call(get("/items/{id}", id="7"))
    call(get("/nowhere"))
    call(post_order("[]"))


def test_requests_and_legacy_latency_metrics_per_route_and_outcome(
    call: Call, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    run_mixed_requests(call)
    documents = emf_documents(capsys.readouterr().out)

    latencies = [doc["LegacyLatency"][0] for doc in documents if "LegacyLatency" in doc]
    assert len(latencies) == 2
    assert all(isinstance(value, float) and value > 0 for value in latencies)
    item = {"route": "GET /items/{id}"}
    assert documents == [
        metric_document("Requests", "Count", {**item, "outcome": "ok"}, 1.0),
        metric_document("LegacyLatency", "Milliseconds", item, latencies[0]),
        metric_document("Requests", "Count", {**item, "outcome": "LegacyClientError"}, 1.0),
        metric_document("LegacyLatency", "Milliseconds", item, latencies[1]),
        metric_document("Requests", "Count", {"route": "(unknown)", "outcome": "NotFound"}, 1.0),
        metric_document(
            "Requests", "Count", {"route": "POST /orders", "outcome": "BadRequest"}, 1.0
        ),
    ]


def test_one_structured_log_line_per_request(
    call: Call, log_records: list[logging.LogRecord]
) -> None:
    run_mixed_requests(call)

    fields = ("route", "legacy_status", "outcome", "status", "correlation_id")
    lines = [
        (record.levelname, tuple(record.__dict__[key] for key in fields))
        for record in log_records
        if record.getMessage() == "request translated"
    ]
    assert lines == [
        ("INFO", ("GET /items/{id}", 200, "ok", 200, API_REQUEST_ID)),
        ("WARNING", ("GET /items/{id}", 404, "LegacyClientError", 404, API_REQUEST_ID)),
        ("WARNING", ("(unknown)", None, "NotFound", 404, API_REQUEST_ID)),
        ("WARNING", ("POST /orders", None, "BadRequest", 400, API_REQUEST_ID)),
    ]
    translated = [r for r in log_records if r.getMessage() == "request translated"]
    assert isinstance(translated[0].__dict__["latency_ms"], float)
    assert isinstance(translated[0].__dict__["legacy_latency_ms"], float)
    assert translated[2].__dict__["legacy_latency_ms"] is None
    assert translated[1].__dict__["error"] == "no such item"


def test_legacy_failure_detail_is_logged_not_returned(
    load_app: Callable[..., ModuleType],
    closed_port: int,
    log_records: list[logging.LogRecord],
) -> None:
    app = load_app(LEGACY_BASE_URL=f"http://127.0.0.1:{closed_port}")

    _, _, body = call_handler(app, get("/items/{id}", id="42"))

    (record,) = [r for r in log_records if r.getMessage() == "request translated"]
    assert record.levelname == "ERROR"
    assert "Connection refused" in record.__dict__["detail"]
    assert "Errno" not in json.dumps(body)


# --- XML conversion ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (ITEM_XML, {"item": {"@id": "42", "sku": "A-1", "name": "Bolt", "stock": "12"}}),
        (b"<a><b>1</b><b>2</b><c/><b>3</b></a>", {"a": {"b": ["1", "2", "3"], "c": None}}),
        (b"<a><b><c>1</c></b><b/></a>", {"a": {"b": [{"c": "1"}, None]}}),
        (b'<price currency="EUR">12.50</price>', {"price": {"@currency": "EUR", "#text": "12.50"}}),
        (
            b"<p>Hello <b>world</b>, again\n</p>",
            {"p": {"b": "world", "#text": "Hello , again"}},
        ),
        (b"<name>\n   Bolt  \n</name>", {"name": "Bolt"}),
        (b"<e/>", {"e": None}),
        (b"<t>a &amp; b &lt;c&gt; &#65;<![CDATA[<raw>]]></t>", {"t": "a & b <c> A<raw>"}),
        (
            b'<s:Envelope xmlns:s="urn:soap" xmlns:i="urn:inv"><s:Body>'
            b'<i:item i:id="9"><i:sku>Z</i:sku></i:item></s:Body></s:Envelope>',
            {"Envelope": {"Body": {"item": {"@id": "9", "sku": "Z"}}}},
        ),
        ('<?xml version="1.0" encoding="ISO-8859-1"?><n>Ä</n>'.encode("latin-1"), {"n": "Ä"}),
        (b"<?xml-stylesheet href='x.xsl'?><!-- c --><a>1<!-- c --></a>", {"a": "1"}),
    ],
)
def test_xml_to_dict(app: ModuleType, xml: bytes, expected: Any) -> None:
    assert app.xml_to_dict(xml) == expected


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (LOLZ_XML, "DOCTYPE declarations are not allowed"),
        (XXE_XML, "DOCTYPE declarations are not allowed"),
        (
            b'<!DOCTYPE a SYSTEM "http://127.0.0.1:1/a.dtd"><a/>',
            "DOCTYPE declarations are not allowed",
        ),
        (b"<!DOCTYPE a><a/>", "DOCTYPE declarations are not allowed"),
        (
            b'<!DOCTYPE a [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><a/>',
            "DOCTYPE declarations are not allowed",
        ),
        (b"<a>&xxe;</a>", "malformed XML: undefined entity: line 1, column 3"),
        (b"<a><b></a>", "malformed XML: mismatched tag: line 1, column 8"),
        (b"<a/><b/>", "malformed XML: junk after document element: line 1, column 4"),
        (b"not xml", "malformed XML: syntax error: line 1, column 0"),
        (b"<a>" * 257, "XML nested deeper than 256 elements"),
    ],
)
def test_xml_to_dict_refuses_dtds_entities_and_malformed_documents(
    app: ModuleType, xml: bytes, reason: str
) -> None:
    with pytest.raises(app.InvalidDocumentError) as raised:
        app.xml_to_dict(xml)

    assert str(raised.value) == reason


def test_xml_to_dict_accepts_256_levels(app: ModuleType) -> None:
    document = app.xml_to_dict(b"<a>" * 256 + b"x" + b"</a>" * 256)

    for _ in range(255):
        document = document["a"]
    assert document == {"a": "x"}


@pytest.mark.parametrize(
    ("data", "content_type", "expected"),
    [
        (b"a=1&b=x+y&b=%C3%A4", "text/plain", {"a": "1", "b": ["x y", "ä"]}),
        (b"a=1\nb = two words \n\nc=", "text/plain", {"a": "1", "b": "two words", "c": ""}),
        (b"a=1\nb=2", "application/x-www-form-urlencoded", {"a": "1\nb=2"}),
    ],
)
def test_parse_form(app: ModuleType, data: bytes, content_type: str, expected: Any) -> None:
    assert app.parse_form(data, content_type) == expected


def test_parse_form_refuses_a_line_that_is_not_key_value(app: ModuleType) -> None:
    with pytest.raises(app.InvalidDocumentError, match=r"^form line 2 is not key=value$"):
        app.parse_form(b"a=1\nnonsense\n")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"<error><code>7</code><message> no such item </message></error>", "no such item"),
        (b"<message>gone</message>", "gone"),
        (b'<fault><message lang="en">bad sku</message></fault>', "bad sku"),
        (b"<error><detail><message>deep</message></detail></error>", None),
        (b'{"message": "too many"}', "too many"),
        (b'{"error": {"message": "nested"}}', "nested"),
        (b'{"message": 42}', None),
        (b"message=try+later&code=9", "try later"),
        (b"<html><body>Not Found</body></html>", None),
        (b"<!DOCTYPE html><html/>", None),
        (b"", None),
    ],
)
def test_error_message(app: ModuleType, data: bytes, expected: str | None) -> None:
    assert app.error_message(data) == expected


# --- mapping ----------------------------------------------------------------------------------


DOCUMENT = {
    "order": {
        "@id": "o-1",
        "total": "12.50",
        "paid": "yes",
        "line": [
            {"sku": "A-1", "qty": "2"},
            {"sku": "B-7", "qty": "1"},
        ],
        "note": {"@lang": "en", "#text": "leave at door"},
        "tag": "gift",
    }
}


def mapped(app: ModuleType, mapping: dict[str, Any], document: Any = DOCUMENT) -> Any:
    """The mapping applied by the route table module the handler itself imported."""
    routes = sys.modules["routes"]
    assert app.apply_spec is routes.apply_spec
    return routes.apply_spec(routes.compile_mapping(mapping, "test"), document)


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"id": "order.@id", "total": "order.total"}, {"id": "o-1", "total": "12.50"}),
        ({"missing": "order.nothing.here", "deep": "order.@id.x"}, {"missing": None, "deep": None}),
        (
            {"second": "order.line.1.sku", "third": "order.line.2.sku"},
            {"second": "B-7", "third": None},
        ),
        ({"tag": "order.tag.0", "tag1": "order.tag.1"}, {"tag": "gift", "tag1": None}),
        (
            {"note": "order.note.#text", "lang": "order.note.@lang"},
            {"note": "leave at door", "lang": "en"},
        ),
        ({"whole": "order.note"}, {"whole": {"@lang": "en", "#text": "leave at door"}}),
        (
            {
                "total": {"path": "order.total", "type": "float"},
                "paid": {"path": "order.paid", "type": "bool"},
                "none": {"path": "order.missing", "type": "int"},
            },
            {"total": 12.5, "paid": True, "none": None},
        ),
        (
            {
                "lines": {
                    "from": "order.line",
                    "each": {"sku": "sku", "qty": {"path": "qty", "type": "int"}},
                }
            },
            {"lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}]},
        ),
        ({"tags": {"from": "order.tag", "each": "."}}, {"tags": ["gift"]}),
        ({"none": {"from": "order.nothing", "each": {"x": "x"}}}, {"none": []}),
        (
            {"summary": {"id": "order.@id", "first": {"sku": "order.line.0.sku"}}},
            {"summary": {"id": "o-1", "first": {"sku": "A-1"}}},
        ),
        (
            {"from": "order.@id", "path": "order.total"},
            {"from": "o-1", "path": "12.50"},
        ),
    ],
)
def test_response_mapping(app: ModuleType, mapping: dict[str, Any], expected: Any) -> None:
    assert mapped(app, mapping) == expected


@pytest.mark.parametrize(
    ("type_", "values", "expected"),
    [
        ("int", ["12", " -3 ", 7, 4.0], [12, -3, 7, 4]),
        ("float", ["1.5", "-2", ".5", "1e3", 3], [1.5, -2.0, 0.5, 1000.0, 3.0]),
        ("bool", ["true", "FALSE", "1", "no", True, 0], [True, False, True, False, True, False]),
    ],
)
def test_typed_values(app: ModuleType, type_: str, values: list[Any], expected: list[Any]) -> None:
    mapping = {"v": {"from": ".", "each": {"path": ".", "type": type_}}}

    assert mapped(app, mapping, values) == {"v": expected}


@pytest.mark.parametrize(
    ("type_", "value", "message"),
    [
        ("int", "1.5", "'.' is not an int: '1.5'"),
        ("int", True, "'.' is not an int: a bool"),
        ("float", "nan", "'.' is not a float: 'nan'"),
        ("float", "1e400", "'.' is not a float: '1e400'"),
        ("bool", "maybe", "'.' is not a bool: 'maybe'"),
        ("bool", {"a": "1"}, "'.' is not a bool: a dict"),
    ],
)
def test_values_that_do_not_convert_are_refused(
    app: ModuleType, type_: str, value: Any, message: str
) -> None:
    with pytest.raises(sys.modules["routes"].MappingError) as raised:
        mapped(app, {"v": {"path": ".", "type": type_}}, value)

    assert str(raised.value) == message


# --- configuration ----------------------------------------------------------------------------


def test_routes_that_are_not_json_fail_the_module_load(
    load_app: Callable[..., ModuleType],
) -> None:
    with pytest.raises(
        ValueError,
        match=r"^TRANSLATOR_ROUTES is not valid JSON: Expecting value: line 1 column 1 \(char 0\)$",
    ):
        load_app(TRANSLATOR_ROUTES="not json")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LEGACY_BASE_URL": ""}, "LEGACY_BASE_URL is not set"),
        ({"LEGACY_BASE_URL": "ftp://legacy.example"}, "LEGACY_BASE_URL must be an absolute http"),
        ({"LEGACY_BASE_URL": "https://legacy.example/?a=1"}, "must not have a query string"),
        ({"LEGACY_BASE_URL": "https://u:p@legacy.example"}, "must not carry credentials"),
        ({"LEGACY_TIMEOUT": "0"}, "LEGACY_TIMEOUT must be a number of seconds in (0, 900]"),
        ({"LEGACY_TIMEOUT": "nan"}, "LEGACY_TIMEOUT must be a number of seconds in (0, 900]"),
        ({"LEGACY_TIMEOUT": "soon"}, "LEGACY_TIMEOUT must be a number of seconds in (0, 900]"),
        ({"TRANSLATOR_ROUTES": "{}"}, "TRANSLATOR_ROUTES must be a non-empty JSON object"),
        (
            {"TRANSLATOR_ROUTES": json.dumps({"FETCH /a": route("/a")})},
            "TRANSLATOR_ROUTES['FETCH /a']: a route key must be '<METHOD> <resource path>'",
        ),
        (
            {"TRANSLATOR_ROUTES": json.dumps({"GET /a": {**route("/a"), "timeout": 3}})},
            "TRANSLATOR_ROUTES['GET /a'] has unknown keys ['timeout']",
        ),
        (
            {"TRANSLATOR_ROUTES": json.dumps({"GET /a": route("a?x=1")})},
            "TRANSLATOR_ROUTES['GET /a'].legacy_path must be a path starting with '/'",
        ),
        (
            {"TRANSLATOR_ROUTES": json.dumps({"GET /a/{id}": route("/b/{sku}")})},
            "TRANSLATOR_ROUTES['GET /a/{id}'].legacy_path placeholders ['sku'] are not path "
            "parameters",
        ),
        (
            {"TRANSLATOR_ROUTES": json.dumps({"GET /a/{proxy+}": route("/b/{proxy}")})},
            "greedy {name+} parameters cannot be placeholders",
        ),
        (
            {"TRANSLATOR_ROUTES": json.dumps({"ANY /a": {"legacy_path": "/a"}})},
            "TRANSLATOR_ROUTES['ANY /a'].legacy_method must be one of",
        ),
        (
            {"TRANSLATOR_ROUTES": json.dumps({"GET /a": route("/a", response_format="soap")})},
            "TRANSLATOR_ROUTES['GET /a'].response_format must be one of ['xml', 'json', 'form']",
        ),
        (
            {"TRANSLATOR_ROUTES": json.dumps({"GET /a": route("/a", request_mapping={"a": "a"})})},
            "TRANSLATOR_ROUTES['GET /a'].request_mapping needs a legacy_method with a body",
        ),
        (
            {
                "TRANSLATOR_ROUTES": json.dumps(
                    {"POST /a": route("/a", legacy_method="POST", request_mapping={"a": "b..c"})}
                )
            },
            "TRANSLATOR_ROUTES['POST /a'].request_mapping.a must be a path",
        ),
        (
            {"TRANSLATOR_ROUTES": json.dumps({"GET /a": route("/a", response_mapping={})})},
            "TRANSLATOR_ROUTES['GET /a'].response_mapping must be a non-empty JSON object",
        ),
        (
            {
                "TRANSLATOR_ROUTES": json.dumps(
                    {"GET /a": route("/a", response_mapping={"n": {"path": "a", "type": "date"}})}
                )
            },
            "TRANSLATOR_ROUTES['GET /a'].response_mapping.n.type must be one of",
        ),
        (
            {
                "TRANSLATOR_ROUTES": json.dumps(
                    {"GET /a": route("/a", response_mapping={"n": {"from": "a", "each": 3}})}
                )
            },
            "TRANSLATOR_ROUTES['GET /a'].response_mapping.n.each must be a path string",
        ),
        (
            {"POWERTOOLS_METRICS_NAMESPACE": ""},
            "POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE must be set",
        ),
    ],
)
def test_invalid_configuration_is_rejected_with_a_clear_message(
    app: ModuleType, legacy: str, environ: dict[str, str], message: str
) -> None:
    valid = {
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
        "LEGACY_BASE_URL": legacy,
        "LEGACY_TIMEOUT": "0.5",
        "TRANSLATOR_ROUTES": json.dumps(ROUTES),
    }

    with pytest.raises(ValueError, match=re.escape(message)):
        app.load_config({**valid, **environ})


def test_configuration_defaults(app: ModuleType) -> None:
    config = app.load_config(
        {
            "POWERTOOLS_SERVICE_NAME": SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            "LEGACY_BASE_URL": "https://legacy.example/api/",
            "LEGACY_TIMEOUT": "25",
            "TRANSLATOR_ROUTES": json.dumps({"PUT /a/{id}": {"legacy_path": "/b/{id}"}}),
        }
    )

    (only,) = config.routes.values()
    assert (config.base_url, config.timeout) == ("https://legacy.example/api", 25.0)
    assert (only.legacy_method, only.response_format, only.placeholders) == ("PUT", "xml", ("id",))
    assert (only.request_mapping, only.response_mapping) == (None, None)
