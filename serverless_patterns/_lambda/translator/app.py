"""LegacyApiProxy translator: JSON routes of a REST API in front of an old HTTP/XML service.

API Gateway (REST API, Lambda proxy integration) sends every configured route here, e.g.
``GET /items/{id}``. The route's entry of ``TRANSLATOR_ROUTES`` (keyed by the event's
``httpMethod`` and ``resource``, then by ``ANY`` and ``resource``) says how to call the legacy
service and how to turn its answer into JSON:

* the legacy URL is ``LEGACY_BASE_URL`` + ``legacy_path``, whose ``{name}`` placeholders are the
  request's path parameters (URL-quoted, ``safe=""``; ``.`` and ``..`` are refused), followed by
  the request's query string parameters (repeated ones included);
* with a ``request_mapping`` (legacy method POST, PUT or PATCH), the request's JSON object body
  becomes the legacy request's ``application/x-www-form-urlencoded`` body: one field per mapping
  entry, its value read from the body at a path (a number or boolean as its JSON text, a list as
  repeated fields; a field that is missing or null is a 400 naming it). Without one, no request
  body is forwarded (POST, PUT and PATCH send an empty one);
* the legacy request carries ``X-Correlation-Id``: the caller's ``X-Correlation-Id`` header
  (1-128 printable ASCII characters) or else the API Gateway request id;
* a 2xx legacy answer (at most 5 MiB) is parsed by ``response_format`` (``xml``, ``json`` or
  ``form``), reshaped by ``response_mapping`` if the route has one and returned as JSON with the
  legacy status (204: an empty body). An empty legacy body is the document ``null``. Redirects
  are not followed (they make the answer invalid).

XML is parsed with the standard library's expat and no DTD at all: a DOCTYPE, entity
declarations and external entities make the answer invalid (no expansion, no file or network
access). The document ``<item id="42"><sku>A-1</sku></item>`` becomes ``{"item": {"@id": "42",
"sku": "A-1"}}``: attributes are ``@name``, a leaf element is its text (``null`` when empty),
repeated child elements are a list, the text of an element that also has attributes or children
is ``#text``. Names lose their namespace; text is stripped of surrounding whitespace. Every value
is a string: nothing is guessed.

A ``form`` answer is ``application/x-www-form-urlencoded`` (its Content-Type says so, or it is a
single line) or else ``key=value`` lines, taken literally; a repeated key is a list.

Mapping grammar (``response_mapping``: an object; ``request_mapping``: an object of form field
names to paths):

* a path: names separated by dots, read from the document (``"item.sku"``); a segment of digits
  indexes a list, and ``0`` also selects a single object (one element where a list could be);
  ``"."`` is the current node itself. A path that leads nowhere is ``null``;
* ``{"path": <path>, "type": "int" | "float" | "bool"}``: the value converted (``null`` stays
  ``null``; a value that does not convert makes the answer invalid);
* ``{"from": <path>, "each": <mapping value>}``: a list, ``each`` applied to every element of the
  list at ``from`` (a single object is a one-element list, ``null`` an empty list), its paths
  relative to the element;
* any other object: a nested output object, each value again of this grammar. (An object whose
  keys are exactly ``from`` and ``each``, or ``path`` and ``type``, is never a nested object.)

Errors are ``{"error": {"code", "message", "requestId"}}`` with the codes of
:data:`ERROR_STATUS` (``LegacyClientError`` has the legacy 4xx status). No stack trace, legacy
5xx body or network detail reaches the caller; the log has the detail.

Each request logs one line (route, legacy_status, outcome, status, latency_ms, legacy_latency_ms,
correlation_id) and publishes ``Requests`` (Count; dimensions ``route``, ``outcome`` and
Powertools' ``service``) and, when the legacy service was called, ``LegacyLatency``
(Milliseconds; dimensions ``route`` and ``service``). ``outcome`` is ``ok`` or the error code; an
unknown route is ``(unknown)``.

Configuration (read once per container; a bad one fails the initialization loudly):

* ``LEGACY_BASE_URL``: absolute http(s) URL, no credentials, query or fragment;
* ``LEGACY_TIMEOUT``: seconds (a number in (0, 900]) for the whole legacy exchange: connecting
  and the TLS handshake, then the wait for the answer and each read of its body, get only the
  time left (a DNS lookup does not: the resolver ignores socket timeouts). It must stay below
  API Gateway's integration timeout and the function's timeout;
* ``TRANSLATOR_ROUTES``: ``{"<METHOD> <resource>": {"legacy_path", "legacy_method",
  "response_format", "request_mapping", "response_mapping"}}`` (only ``legacy_path`` is
  required; ``legacy_method`` defaults to the route's method (an ``ANY`` route must name one),
  ``response_format`` to ``xml``, the mappings to ``null``). A ``legacy_path`` placeholder must
  be a (non-greedy) path parameter of the resource;
* ``POWERTOOLS_SERVICE_NAME`` and ``POWERTOOLS_METRICS_NAMESPACE``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import http
import http.client
import json
import math
import os
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn
from xml.parsers import expat

from aws_lambda_powertools import Logger, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from routes import (
    BODY_METHODS,
    MAX_ECHO,
    ROUTES_ENV,
    MappingError,
    PathSpec,
    Route,
    apply_spec,
    parse_routes,
    resolve,
)

BASE_URL_ENV = "LEGACY_BASE_URL"
TIMEOUT_ENV = "LEGACY_TIMEOUT"
SERVICE_ENV = "POWERTOOLS_SERVICE_NAME"
NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"

# Lambda's longest timeout; the construct keeps LEGACY_TIMEOUT below API Gateway's.
MAX_TIMEOUT = 900.0
# The largest legacy answer translated; of an error answer, only this much is read.
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_ERROR_BODY_BYTES = 64 * 1024
READ_CHUNK_BYTES = 64 * 1024
# XML nesting beyond this is refused (the JSON encoder recurses).
MAX_XML_DEPTH = 256
# The longest legacy error message passed on.
MAX_MESSAGE = 500
USER_AGENT = "serverless-patterns-legacy-translator/1.0"

ACCEPT = {
    "xml": "application/xml, text/xml;q=0.9, */*;q=0.1",
    "json": "application/json, */*;q=0.1",
    "form": "application/x-www-form-urlencoded, text/plain;q=0.9, */*;q=0.1",
}
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

CORRELATION_HEADER = "x-correlation-id"
CORRELATION_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")
# The route dimension of a request no route matches, so callers cannot mint dimensions.
UNKNOWN = "(unknown)"
# Separates a namespace URI from the local name in expat's element and attribute names.
NAMESPACE_SEPARATOR = "\x01"

ERROR_STATUS = {
    "BadRequest": 400,
    "NotFound": 404,
    "LegacyClientError": 400,  # the legacy 4xx status in fact
    "InternalError": 500,
    "LegacyServerError": 502,
    "LegacyUnavailable": 502,
    "LegacyResponseInvalid": 502,
    "LegacyTimeout": 504,
}


# --- legacy documents -------------------------------------------------------------------------


class InvalidDocumentError(ValueError):
    """A legacy body that cannot be parsed, or is refused (a DOCTYPE, an entity)."""


def _add_field(fields: dict[str, Any], name: str, value: Any) -> None:
    """Add a named value; a repeated name becomes a list (values themselves are never lists)."""
    if name not in fields:
        fields[name] = value
    elif isinstance(fields[name], list):
        fields[name].append(value)
    else:
        fields[name] = [fields[name], value]


class _Element:
    __slots__ = ("fields", "name", "segments")

    def __init__(self, name: str, attributes: dict[str, str]) -> None:
        self.name = name
        self.fields: dict[str, Any] = {
            f"@{_local(key)}": value for key, value in attributes.items()
        }
        # Text between child elements, one list of pieces per stretch.
        self.segments: list[list[str]] = [[]]

    def value(self) -> Any:
        stretches = ("".join(pieces).strip() for pieces in self.segments)
        text = " ".join(stretch for stretch in stretches if stretch)
        if not self.fields:
            return text or None
        if text:
            self.fields["#text"] = text
        return self.fields


def _local(name: str) -> str:
    return name.rpartition(NAMESPACE_SEPARATOR)[2]


def _refuse(reason: str) -> Any:
    def handler(*_: object) -> NoReturn:
        raise InvalidDocumentError(reason)

    return handler


def xml_to_dict(data: bytes) -> dict[str, Any]:
    """Parse an XML document safely into ``{root name: value}`` (see the module docstring).

    No DTD is processed: a DOCTYPE (with or without an internal subset), entity declarations
    and external entity references are refused before anything is expanded or fetched.
    """
    parser = expat.ParserCreate(namespace_separator=NAMESPACE_SEPARATOR)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse("DOCTYPE declarations are not allowed")
    parser.EntityDeclHandler = _refuse("entity declarations are not allowed")
    parser.UnparsedEntityDeclHandler = _refuse("entity declarations are not allowed")
    parser.NotationDeclHandler = _refuse("notation declarations are not allowed")
    parser.ExternalEntityRefHandler = _refuse("external entities are not allowed")
    stack: list[_Element] = []
    documents: list[dict[str, Any]] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        if len(stack) >= MAX_XML_DEPTH:
            raise InvalidDocumentError(f"XML nested deeper than {MAX_XML_DEPTH} elements")
        if stack:
            stack[-1].segments.append([])
        stack.append(_Element(_local(name), attributes))

    def end(_: str) -> None:
        element = stack.pop()
        if stack:
            _add_field(stack[-1].fields, element.name, element.value())
        else:
            documents.append({element.name: element.value()})

    def text(data: str) -> None:
        if stack:
            stack[-1].segments[-1].append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise InvalidDocumentError(f"malformed XML: {error}") from error
    return documents[0]


def _reject_constant(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:MAX_ECHO]} is out of range")
    return value


def parse_json(data: bytes) -> Any:
    try:
        return json.loads(data, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise InvalidDocumentError(f"malformed JSON: {error}") from error
    except ValueError as error:  # not UTF-8/16/32, NaN/Infinity, 1e400
        raise InvalidDocumentError(f"malformed JSON: {error}") from error
    except RecursionError as error:
        raise InvalidDocumentError("JSON nested too deeply") from error


def parse_form(data: bytes, content_type: str = "text/plain", charset: str | None = None) -> Any:
    """``application/x-www-form-urlencoded`` or ``key=value`` lines into a dict."""
    try:
        text = data.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError) as error:
        raise InvalidDocumentError(f"form data is not {charset or 'utf-8'} text") from error
    lines = [line for line in text.splitlines() if line.strip()]
    pairs: list[tuple[str, str]] = []
    if content_type == FORM_CONTENT_TYPE or len(lines) <= 1:
        pairs = urllib.parse.parse_qsl(text.strip(), keep_blank_values=True)
    else:
        for number, line in enumerate(lines, start=1):
            key, equals, value = line.partition("=")
            if not equals or not key.strip():
                raise InvalidDocumentError(f"form line {number} is not key=value")
            pairs.append((key.strip(), value.strip()))
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key:
            _add_field(fields, key, value)
    return fields


def parse_document(
    response_format: str, data: bytes, content_type: str = "", charset: str | None = None
) -> Any:
    """A legacy body as a JSON-able value; an empty body is None."""
    if not data.strip():
        return None
    if response_format == "xml":
        return xml_to_dict(data)
    if response_format == "json":
        return parse_json(data)
    return parse_form(data, content_type, charset)


def _text_of(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("#text")
    return value if isinstance(value, str) and value.strip() else None


def error_message(data: bytes, content_type: str = "", charset: str | None = None) -> str | None:
    """The message of a legacy error body: XML ``<message>`` (the root or one of its children),
    JSON ``message`` (or ``error.message``), form ``message``; None if it has none."""
    start = data.lstrip()[:1]
    try:
        if start == b"<":
            ((root, value),) = xml_to_dict(data).items()
            if root == "message":
                return _text_of(value)
            return _text_of(value.get("message")) if isinstance(value, dict) else None
        if start in (b"{", b"["):
            document = parse_json(data)
            if not isinstance(document, dict):
                return None
            error = document.get("error")
            nested = error.get("message") if isinstance(error, dict) else None
            return _text_of(document.get("message")) or _text_of(nested)
        if b"=" in data:
            return _text_of(parse_form(data, content_type, charset).get("message"))
    except InvalidDocumentError:
        pass
    return None


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TranslatorConfig:
    base_url: str
    timeout: float
    routes: dict[str, Route]


def _parse_base_url(raw: str | None) -> str:
    if raw is None or not raw.strip():
        raise ValueError(f"{BASE_URL_ENV} is not set: it must be the legacy service's http(s) URL")
    if any(char.isspace() for char in raw):
        raise ValueError(f"{BASE_URL_ENV} must not contain whitespace")
    try:
        parts = urllib.parse.urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise ValueError(f"{BASE_URL_ENV} is not a valid URL: {error}") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{BASE_URL_ENV} must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{BASE_URL_ENV} must not carry credentials")
    if parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise ValueError(f"{BASE_URL_ENV} must not have a query string or fragment")
    return raw.rstrip("/")


def _parse_timeout(raw: str | None) -> float:
    try:
        timeout = float(raw) if raw is not None else math.nan
    except ValueError:
        timeout = math.nan
    if not 0 < timeout <= MAX_TIMEOUT:  # False for NaN
        raise ValueError(f"{TIMEOUT_ENV} must be a number of seconds in (0, {MAX_TIMEOUT:g}]")
    return timeout


def load_config(environ: Mapping[str, str]) -> TranslatorConfig:
    """Parse and validate the translator's environment; raise ValueError saying what is wrong."""
    base_url = _parse_base_url(environ.get(BASE_URL_ENV))
    timeout = _parse_timeout(environ.get(TIMEOUT_ENV))
    raw_routes = environ.get(ROUTES_ENV)
    if raw_routes is None:
        raise ValueError(f"{ROUTES_ENV} is not set: it must be the JSON object of routes")
    try:
        parsed = json.loads(raw_routes)
    except json.JSONDecodeError as error:
        raise ValueError(f"{ROUTES_ENV} is not valid JSON: {error}") from error
    routes = parse_routes(parsed)
    if not environ.get(SERVICE_ENV, "").strip() or not environ.get(NAMESPACE_ENV, "").strip():
        raise ValueError(
            f"{SERVICE_ENV} and {NAMESPACE_ENV} must be set: they are the service dimension "
            "and the namespace of the Requests and LegacyLatency metrics"
        )
    return TranslatorConfig(base_url=base_url, timeout=timeout, routes=routes)


logger = Logger()
# No auto-patching: X-Ray's patch_all covers the AWS SDK and database clients, none of which
# this function uses (its legacy calls go through urllib, which patch_all leaves alone), and with
# active tracing it would import botocore's whole client stack just to patch it.
tracer = Tracer(auto_patch=False)

CONFIG = load_config(os.environ)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Certificate verification on; made on the first request rather than at import (loading
    the CA certificates takes ~25 ms) and shared by every request of the container."""
    return ssl.create_default_context()


# --- the legacy call --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    # ok or the error code.
    outcome: str
    # For the log only: what went wrong, in detail.
    detail: str | None = None
    message: str | None = None


class TranslatorError(Exception):
    """A request that ends in one of the documented error responses."""

    def __init__(
        self, code: str, message: str, *, status: int | None = None, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or ERROR_STATUS[code]
        self.detail = detail

    def reply(self, request_id: str) -> Reply:
        return error_reply(self.code, self.message, request_id, self.status, self.detail)


def error_reply(
    code: str,
    message: str,
    request_id: str,
    status: int | None = None,
    detail: str | None = None,
) -> Reply:
    body = {"error": {"code": code, "message": message, "requestId": request_id}}
    return Reply(
        status or ERROR_STATUS[code], json.dumps(body, ensure_ascii=False), code, detail, message
    )


def invalid(reason: str) -> TranslatorError:
    return TranslatorError(
        "LegacyResponseInvalid", f"the legacy service sent an invalid response: {reason}"
    )


class _Deadline:
    """The end of one legacy exchange: every socket wait is limited to the time left."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.sock: socket.socket | None = None

    def remaining(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete answer within {self.seconds:g} s")
        return left

    def attach(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.settimeout(self.remaining())

    def refresh(self) -> None:
        if self.sock is not None:
            self.sock.settimeout(self.remaining())


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, *, deadline: _Deadline | None = None, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.deadline = deadline

    def connect(self) -> None:
        if self.deadline is not None:
            self.timeout = self.deadline.remaining()
        super().connect()
        if self.deadline is not None:
            self.deadline.attach(self.sock)


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, *, deadline: _Deadline | None = None, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.deadline = deadline

    def connect(self) -> None:
        if self.deadline is not None:
            self.timeout = self.deadline.remaining()
        super().connect()  # includes the TLS handshake
        if self.deadline is not None:
            self.deadline.attach(self.sock)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPConnection, req, deadline=self.deadline)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__(context=tls_context())
        self.deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPSConnection, req, context=tls_context(), deadline=self.deadline)


class _EveryStatus(urllib.request.HTTPErrorProcessor):
    """Hand every response back as it is: no HTTPError, no redirect followed."""

    def http_response(
        self, request: urllib.request.Request, response: http.client.HTTPResponse
    ) -> http.client.HTTPResponse:
        return response

    https_response = http_response


@dataclass(frozen=True)
class LegacyResponse:
    status: int
    reason: str
    content_type: str
    charset: str | None
    body: bytes


def _read_body(response: http.client.HTTPResponse, deadline: _Deadline, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes of the body, each read within the deadline."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        deadline.refresh()
        chunk = response.read1(READ_CHUNK_BYTES)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[: limit + 1]


def _failure(error: BaseException, timeout: float) -> TranslatorError:
    """The error response of a legacy exchange that got no usable answer."""
    detail = f"{type(error).__name__}: {error}"
    cause = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(cause, TimeoutError):
        message = f"the legacy service did not answer within {timeout:g} s"
        return TranslatorError("LegacyTimeout", message, detail=detail)
    if isinstance(cause, socket.gaierror):
        what = "its name does not resolve"
    elif isinstance(cause, ssl.SSLError):
        what = "TLS handshake failed"
    elif isinstance(cause, ConnectionRefusedError):
        what = "connection refused"
    elif isinstance(cause, ConnectionError | http.client.IncompleteRead):
        what = "connection closed"
    elif isinstance(cause, http.client.HTTPException):
        return TranslatorError(
            "LegacyResponseInvalid",
            "the legacy service sent an invalid response: not a valid HTTP response",
            detail=detail,
        )
    elif isinstance(cause, OSError):
        what = "network error"
    else:
        raise error
    message = f"the legacy service is unavailable: {what}"
    return TranslatorError("LegacyUnavailable", message, detail=detail)


@tracer.capture_method(capture_response=False)
def call_legacy(request: urllib.request.Request) -> LegacyResponse:
    """One exchange with the legacy service within LEGACY_TIMEOUT; any HTTP status is returned.

    Raises TranslatorError when there is no usable answer (timeout, unreachable, too large).
    """
    deadline = _Deadline(CONFIG.timeout)
    opener = urllib.request.build_opener(
        _HTTPHandler(deadline), _HTTPSHandler(deadline), _EveryStatus()
    )
    try:
        response: http.client.HTTPResponse
        with opener.open(request, timeout=CONFIG.timeout) as response:
            status = response.status
            success = 200 <= status < 300
            limit = MAX_BODY_BYTES if success else MAX_ERROR_BODY_BYTES
            body = _read_body(response, deadline, limit)
            if len(body) > limit and success:
                raise invalid(f"larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB")
            return LegacyResponse(
                status=status,
                reason=response.reason,
                content_type=response.headers.get_content_type(),
                charset=response.headers.get_content_charset(),
                body=body[:limit],
            )
    except TranslatorError:
        raise
    except (OSError, http.client.HTTPException) as error:  # URLError is an OSError
        raise _failure(error, CONFIG.timeout) from error


# --- the request ------------------------------------------------------------------------------


@dataclass
class Exchange:
    """What one request learned about the legacy service, for its log line and metrics."""

    status: int | None = None
    latency_ms: float | None = None


def _string_map(raw: Any, lower: bool = False) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {
        key.lower() if lower else key: value
        for key, value in raw.items()
        if isinstance(key, str) and isinstance(value, str)
    }


def find_route(method: Any, resource: Any) -> Route | None:
    if not isinstance(method, str) or not isinstance(resource, str):
        return None
    return CONFIG.routes.get(f"{method} {resource}") or CONFIG.routes.get(f"ANY {resource}")


def legacy_url(route: Route, event: Mapping[str, Any]) -> str:
    parameters = _string_map(event.get("pathParameters"))
    path = route.legacy_path
    for name in route.placeholders:
        value = parameters.get(name)
        if value is None:
            raise TranslatorError("BadRequest", f"missing path parameter {name!r}")
        if value in (".", ".."):
            raise TranslatorError("BadRequest", f"path parameter {name!r} must not be {value!r}")
        path = path.replace(f"{{{name}}}", urllib.parse.quote(value, safe=""))
    pairs: list[tuple[str, str]] = []
    multi = event.get("multiValueQueryStringParameters")
    if isinstance(multi, dict):
        for key, values in multi.items():
            if isinstance(key, str) and isinstance(values, list):
                pairs.extend((key, value) for value in values if isinstance(value, str))
    else:
        pairs = list(_string_map(event.get("queryStringParameters")).items())
    query = urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
    return f"{CONFIG.base_url}{path}{'?' + query if query else ''}"


def parse_body(body: Any, is_base64: bool) -> dict[str, Any]:
    """The request's JSON object body (an empty body is ``{}``)."""
    if body is None:
        return {}
    if not isinstance(body, str):
        raise TranslatorError("BadRequest", "request body must be a JSON object")
    try:
        data = base64.b64decode(body, validate=True) if is_base64 else body.encode()
        text = data.decode()
    except (binascii.Error, UnicodeError) as error:
        raise TranslatorError("BadRequest", "request body is not UTF-8 encoded JSON") from error
    if not text.strip():
        return {}
    try:
        payload = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except ValueError as error:
        detail = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise TranslatorError("BadRequest", f"request body is not valid JSON: {detail}") from error
    except RecursionError as error:
        raise TranslatorError("BadRequest", "request body is nested too deeply") from error
    if not isinstance(payload, dict):
        raise TranslatorError("BadRequest", "request body must be a JSON object")
    return payload


def form_body(mapping: tuple[tuple[str, PathSpec], ...], payload: dict[str, Any]) -> bytes:
    """The legacy form fields read from the request's JSON body."""
    pairs: list[tuple[str, str]] = []
    missing: list[str] = []
    for name, spec in mapping:
        value = resolve(payload, spec.path)
        if value is None:
            missing.append(repr(spec.text))
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                pairs.append((name, item))
            elif isinstance(item, bool | int | float):
                pairs.append((name, json.dumps(item)))
            else:
                raise TranslatorError(
                    "BadRequest",
                    f"request body field {spec.text!r} must be a string, number or boolean "
                    "(or a list of them)",
                )
    if missing:
        raise TranslatorError(
            "BadRequest", f"request body is missing the field(s) {', '.join(missing)}"
        )
    return urllib.parse.urlencode(pairs).encode()


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def translate(
    route: Route, event: Mapping[str, Any], correlation_id: str, exchange: Exchange
) -> tuple[int, str]:
    """Call the legacy service for one request: the status and JSON body of the answer.

    Raises TranslatorError for every documented error response.
    """
    url = legacy_url(route, event)
    headers = {
        "Accept": ACCEPT[route.response_format],
        "User-Agent": USER_AGENT,
        "X-Correlation-Id": correlation_id,
    }
    data: bytes | None = None
    if route.request_mapping is not None:
        payload = parse_body(event.get("body"), event.get("isBase64Encoded") is True)
        data = form_body(route.request_mapping, payload)
        headers["Content-Type"] = FORM_CONTENT_TYPE
    elif route.legacy_method in BODY_METHODS:
        data = b""  # Content-Length: 0
    request = urllib.request.Request(url, data=data, method=route.legacy_method, headers=headers)

    start = time.perf_counter()
    try:
        legacy = call_legacy(request)
    finally:
        exchange.latency_ms = round((time.perf_counter() - start) * 1000, 1)
    exchange.status = status = legacy.status

    if 400 <= status < 500:
        message = error_message(legacy.body, legacy.content_type, legacy.charset)
        message = (message or legacy.reason or _phrase(status)).strip()[:MAX_MESSAGE]
        raise TranslatorError("LegacyClientError", message, status=status)
    if 500 <= status < 600:
        raise TranslatorError("LegacyServerError", f"the legacy service failed with HTTP {status}")
    if 300 <= status < 400:
        raise invalid(f"an unexpected redirect (HTTP {status})")
    if not 200 <= status < 300:
        raise invalid(f"an unexpected HTTP status {status}")
    if status == 204:
        return status, ""

    try:
        document = parse_document(
            route.response_format, legacy.body, legacy.content_type, legacy.charset
        )
    except InvalidDocumentError as error:
        raise invalid(str(error)) from error
    try:
        result = (
            document
            if route.response_mapping is None
            else apply_spec(route.response_mapping, document)
        )
    except MappingError as error:
        raise invalid(str(error)) from error
    try:
        return status, json.dumps(result, ensure_ascii=False)
    except RecursionError as error:
        raise invalid("nested too deeply") from error


def _correlation_id(candidate: Any, request_id: str) -> str:
    if isinstance(candidate, str) and CORRELATION_ID_PATTERN.fullmatch(candidate):
        return candidate
    return request_id


def answer(event: Mapping[str, Any], request_id: str, correlation_id: str) -> Reply:
    """Translate one request; log it and count it. Never raises."""
    start = time.perf_counter()
    route = find_route(event.get("httpMethod"), event.get("resource"))
    route_dimension = route.key if route is not None else UNKNOWN
    tracer.put_annotation(key="route", value=route_dimension)
    exchange = Exchange()
    try:
        if route is None:
            raise TranslatorError("NotFound", "no such route")
        status, body = translate(route, event, correlation_id, exchange)
        reply = Reply(status, body, "ok")
    except TranslatorError as error:
        reply = error.reply(request_id)
    except Exception:
        logger.exception("unexpected error while translating a request", route=route_dimension)
        reply = error_reply("InternalError", "internal error", request_id)
    latency_ms = round((time.perf_counter() - start) * 1000, 1)

    with single_metric(
        name="Requests",
        unit=MetricUnit.Count,
        value=1,
        default_dimensions={"route": route_dimension, "outcome": reply.outcome},
    ):
        pass
    if exchange.latency_ms is not None:
        with single_metric(
            name="LegacyLatency",
            unit=MetricUnit.Milliseconds,
            value=exchange.latency_ms,
            default_dimensions={"route": route_dimension},
        ):
            pass
    if reply.status >= 500:
        log = logger.error
    elif reply.status >= 400:
        log = logger.warning
    else:
        log = logger.info
    extra: dict[str, Any] = {}
    if reply.message is not None:
        extra["error"] = reply.message
    if reply.detail is not None:
        extra["detail"] = reply.detail
    log(
        "request translated",
        route=route_dimension,
        legacy_status=exchange.status,
        outcome=reply.outcome,
        status=reply.status,
        latency_ms=latency_ms,
        legacy_latency_ms=exchange.latency_ms,
        correlation_id=correlation_id,
        **extra,
    )
    return reply


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    fields: Mapping[str, Any] = event if isinstance(event, dict) else {}
    request_context = fields.get("requestContext")
    request_id = (
        request_context.get("requestId") if isinstance(request_context, dict) else None
    ) or context.aws_request_id
    headers = _string_map(fields.get("headers"), lower=True)
    correlation_id = _correlation_id(headers.get(CORRELATION_HEADER), request_id)
    logger.set_correlation_id(correlation_id)
    reply = answer(fields, request_id, correlation_id)
    return {
        "statusCode": reply.status,
        "headers": {"Content-Type": "application/json", "X-Correlation-Id": correlation_id},
        "body": reply.body,
    }
