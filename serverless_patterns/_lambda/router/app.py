"""CommandRouter handler: one entry point that dispatches named, versioned commands to receivers.

The function sits behind a REST API (Lambda proxy integration) and may also be invoked directly.
Each command has one or more versions; each version is a receiver function, invoked synchronously
(its JSON result is returned) or asynchronously (the command is only accepted).

HTTP (API Gateway REST proxy events):

* ``POST /commands/{name}``: the JSON object body is the command's payload (an empty body is
  ``{}``); the version comes from the ``X-Command-Version`` header, else the ``version`` query
  parameter, else the command's default;
* ``GET /commands``: ``200 {"commands": {<name>: {"versions": [...], "default": <version>}}}``.

Responses carry ``Content-Type: application/json`` and ``X-Correlation-Id``: the request's
``X-Correlation-Id`` header (1-128 printable ASCII characters) or else its request id.

Direct invocation: ``{"command": <name>, "version": <version, optional>, "payload": {...}
(optional), "correlationId": <optional>}`` returns ``{"statusCode": <n>, "body": {...}}``.

Every receiver gets ``{"command", "version", "payload", "correlationId"}``. Outcomes:

* 200 ``{"result": <receiver result>, "requestId"}`` (synchronous receiver);
* 202 ``{"accepted": true, "requestId"}`` (asynchronous receiver, ``InvocationType=Event``);
* errors: ``{"error": {"code", "message", "requestId"}}`` with the codes of :data:`ERROR_CODES`.
  A receiver's own error surfaces as its ``errorType`` only: never its message or stack trace.

Each dispatch logs one line (command, version, outcome, status, latency_ms, correlation_id) and
publishes a ``Dispatches`` (Count) metric with the dimensions ``command``, ``version``,
``outcome`` (``ok``, ``accepted`` or the error code) and Powertools' ``service``. A command or
version that is not configured is ``(unknown)`` there, so callers cannot mint new dimensions.

Configuration (read once per container; a bad one fails the initialization loudly):

* ``COMMAND_ROUTES``: ``{"commands": {<name>: {"default": <version>, "versions": {<version>:
  {"function": <function ARN or name>, "async": <bool, default false>}}}}}``;
* ``ROUTER_SYNC_PAYLOAD_LIMIT`` / ``ROUTER_ASYNC_PAYLOAD_LIMIT``: the largest receiver event, in
  bytes of its JSON encoding, of a synchronous / asynchronous command (default 6291456 /
  1048576, Lambda's own invocation payload quotas);
* ``POWERTOOLS_SERVICE_NAME`` and ``POWERTOOLS_METRICS_NAMESPACE``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from aws_lambda_powertools import Logger, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

ROUTES_ENV = "COMMAND_ROUTES"
SYNC_LIMIT_ENV = "ROUTER_SYNC_PAYLOAD_LIMIT"
ASYNC_LIMIT_ENV = "ROUTER_ASYNC_PAYLOAD_LIMIT"
SERVICE_ENV = "POWERTOOLS_SERVICE_NAME"
NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"

# Lambda's invocation payload quotas: 6 MB synchronous, 1 MB asynchronous.
DEFAULT_SYNC_LIMIT = 6 * 1024 * 1024
DEFAULT_ASYNC_LIMIT = 1024 * 1024

# Command and version names: URL path segments, header values and metric dimension values.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ROUTES_KEYS = frozenset({"commands"})
COMMAND_KEYS = frozenset({"default", "versions"})
VERSION_KEYS = frozenset({"function", "async"})

VERSION_HEADER = "x-command-version"
CORRELATION_HEADER = "x-correlation-id"
VERSION_QUERY = "version"
# A caller's correlation id is kept only if it is 1-128 printable ASCII characters, no spaces.
CORRELATION_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")
# A receiver's errorType is shown only if it looks like one (e.g. "Runtime.ExitError").
ERROR_TYPE_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}")
# Lambda answers an oversized Invoke with the unmodeled RequestEntityTooLargeException (its
# model names RequestTooLargeException and SerializedRequestEntityTooLargeException).
TOO_LARGE_ERROR_CODES = frozenset(
    {
        "RequestEntityTooLargeException",
        "RequestTooLargeException",
        "SerializedRequestEntityTooLargeException",
    }
)
THROTTLED_ERROR_CODES = frozenset({"TooManyRequestsException"})
TIMEOUT_ERROR_TYPE = "Sandbox.Timedout"
TIMEOUT_MESSAGE = "Task timed out"
# How much of a caller's input is echoed in an error message.
MAX_ECHO = 64

COMMANDS_RESOURCE = "/commands"
COMMAND_RESOURCE = "/commands/{name}"
# The dimension value of a command or version that is not configured.
UNKNOWN = "(unknown)"

ERROR_CODES = {
    "BadRequest": 400,
    "NotFound": 404,
    "UnknownCommand": 404,
    "UnknownVersion": 404,
    "MethodNotAllowed": 405,
    "PayloadTooLarge": 413,
    "Throttled": 429,
    "InternalError": 500,
    "ReceiverFailed": 502,
    "ReceiverTimedOut": 504,
}


@dataclass(frozen=True)
class Route:
    command: str
    version: str
    function: str
    is_async: bool


@dataclass(frozen=True)
class Command:
    name: str
    default: str
    versions: dict[str, Route]


@dataclass(frozen=True)
class RouterConfig:
    commands: dict[str, Command]
    sync_limit: int
    async_limit: int


@dataclass(frozen=True)
class Reply:
    """A response before its encoding: an HTTP response or a direct invocation's result."""

    status: int
    body: dict[str, Any]
    # ok, accepted or the error code.
    outcome: str
    headers: dict[str, str] = field(default_factory=dict)


class RouterError(Exception):
    """A request that ends in one of the documented error responses."""

    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = ERROR_CODES[code]
        self.message = message
        self.headers = headers or {}

    def reply(self, request_id: str) -> Reply:
        return error_reply(self.code, self.message, request_id, self.headers)


def error_reply(
    code: str, message: str, request_id: str, headers: dict[str, str] | None = None
) -> Reply:
    body = {"error": {"code": code, "message": message, "requestId": request_id}}
    return Reply(ERROR_CODES[code], body, code, headers or {})


def _echo(value: str) -> str:
    """A caller's value, quoted and shortened, for an error message."""
    return repr(value if len(value) <= MAX_ECHO else value[:MAX_ECHO] + "...")


def _parse_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ValueError(
            f"{where} must be 1-64 characters of letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return value


def _check_keys(raw: Any, allowed: frozenset[str], where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a JSON object")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}; allowed: {sorted(allowed)}")
    return raw


def _parse_command(name: str, raw: Any) -> Command:
    where = f"{ROUTES_ENV} command {name!r}"
    raw = _check_keys(raw, COMMAND_KEYS, where)
    raw_versions = raw.get("versions")
    if not isinstance(raw_versions, dict) or not raw_versions:
        raise ValueError(f"{where}: versions must be a non-empty JSON object")
    versions: dict[str, Route] = {}
    for version, raw_route in raw_versions.items():
        _parse_name(version, f"{where}: version name {version!r}")
        route_where = f"{where} version {version!r}"
        raw_route = _check_keys(raw_route, VERSION_KEYS, route_where)
        function = raw_route.get("function")
        if not isinstance(function, str) or not function or any(c.isspace() for c in function):
            raise ValueError(f"{route_where}: function must be a function ARN or name")
        is_async = raw_route.get("async", False)
        if not isinstance(is_async, bool):
            raise ValueError(f"{route_where}: async must be true or false")
        versions[version] = Route(name, version, function, is_async)
    default = raw.get("default")
    if not isinstance(default, str) or default not in versions:
        raise ValueError(f"{where}: default must be one of its versions {list(versions)}")
    return Command(name, default, versions)


def _parse_limit(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, str(default)).strip()
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive integer (bytes)")
    return int(raw)


def load_config(environ: Mapping[str, str]) -> RouterConfig:
    """Parse and validate the router's environment; raise ValueError saying what is wrong."""
    raw_routes = environ.get(ROUTES_ENV)
    if raw_routes is None:
        raise ValueError(f"{ROUTES_ENV} is not set: it must be the JSON routing table")
    try:
        parsed = json.loads(raw_routes)
    except json.JSONDecodeError as error:
        raise ValueError(f"{ROUTES_ENV} is not valid JSON: {error}") from error
    parsed = _check_keys(parsed, ROUTES_KEYS, ROUTES_ENV)
    raw_commands = parsed.get("commands")
    if not isinstance(raw_commands, dict) or not raw_commands:
        raise ValueError(f"{ROUTES_ENV}.commands must be a non-empty JSON object")
    commands = {
        _parse_name(name, f"{ROUTES_ENV} command name {name!r}"): _parse_command(name, raw)
        for name, raw in raw_commands.items()
    }
    if not environ.get(SERVICE_ENV, "").strip() or not environ.get(NAMESPACE_ENV, "").strip():
        raise ValueError(
            f"{SERVICE_ENV} and {NAMESPACE_ENV} must be set: they are the service dimension "
            "and the namespace of the Dispatches metric"
        )
    return RouterConfig(
        commands=commands,
        sync_limit=_parse_limit(environ, SYNC_LIMIT_ENV, DEFAULT_SYNC_LIMIT),
        async_limit=_parse_limit(environ, ASYNC_LIMIT_ENV, DEFAULT_ASYNC_LIMIT),
    )


logger = Logger()
# Not patched at import: X-Ray's patch of botocore imports botocore's whole client stack, a third
# of a cold start's import with active tracing; lambda_client() patches before it makes the
# client (the patch is class-wide: its calls are traced, as with auto_patch).
tracer = Tracer(auto_patch=False)

CONFIG = load_config(os.environ)


@functools.cache
def lambda_client() -> Any:
    """The Lambda client, created on the first dispatch and reused by every invocation of the
    container (boto3's import and the client's model would be most of the module's import).

    No retries: a retried invoke could run a receiver twice for one request. The read timeout
    outlasts any receiver (15 min); the router's own timeout comes first.
    """
    tracer.patch()  # X-Ray's patch_all, once
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    return boto3.client(
        "lambda",
        config=Config(connect_timeout=5, read_timeout=900, retries={"total_max_attempts": 1}),
    )


@dataclass(frozen=True)
class RequestIds:
    request_id: str
    correlation_id: str


def find_command(name: Any) -> Command:
    if not isinstance(name, str) or not name:
        raise RouterError("BadRequest", "command must be a non-empty string")
    command = CONFIG.commands.get(name)
    if command is None:
        known = ", ".join(CONFIG.commands)
        raise RouterError(
            "UnknownCommand", f"unknown command {_echo(name)}; known commands: {known}"
        )
    return command


def find_route(command: Command, version: Any) -> Route:
    """The route of ``command`` at ``version`` (None: the command's default)."""
    if version is not None and not isinstance(version, str):
        raise RouterError("BadRequest", "version must be a string")
    route = command.versions.get(command.default if version is None else version)
    if route is None:
        known = ", ".join(command.versions)
        raise RouterError(
            "UnknownVersion",
            f"unknown version {_echo(version or '')} of command {command.name!r}; "
            f"known versions: {known}",
        )
    return route


def _reject_constant(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: would reach the receiver as Infinity
        raise ValueError(f"number {text[:MAX_ECHO]} is out of range")
    return value


def parse_body(body: Any, is_base64: bool) -> dict[str, Any]:
    """The payload of an HTTP request: its body, a JSON object (an empty body is ``{}``)."""
    if body is None:
        return {}
    if not isinstance(body, str):
        raise RouterError("BadRequest", "request body must be a JSON object")
    try:
        data = base64.b64decode(body, validate=True) if is_base64 else body.encode()
        text = data.decode()
    except (binascii.Error, UnicodeError) as error:
        raise RouterError("BadRequest", "request body is not UTF-8 encoded JSON") from error
    if not text.strip():
        return {}
    try:
        payload = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except ValueError as error:  # JSONDecodeError, NaN/Infinity, too deeply nested numbers
        detail = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise RouterError("BadRequest", f"request body is not valid JSON: {detail}") from error
    except RecursionError as error:
        raise RouterError("BadRequest", "request body is nested too deeply") from error
    if not isinstance(payload, dict):
        raise RouterError("BadRequest", "request body must be a JSON object")
    return payload


def _direct_payload(event: Mapping[str, Any]) -> dict[str, Any]:
    payload = event.get("payload", {})
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise RouterError("BadRequest", "payload must be a JSON object")
    return payload


def _receiver_error_type(payload: bytes) -> tuple[str, bool]:
    """The receiver's errorType (or ``Unknown``) and whether the error is a timeout."""
    try:
        error = json.loads(payload)
    except ValueError:
        error = None
    if not isinstance(error, dict):
        return "Unknown", False
    error_type = error.get("errorType")
    message = error.get("errorMessage")
    timed_out = error_type == TIMEOUT_ERROR_TYPE or (
        isinstance(message, str) and TIMEOUT_MESSAGE in message
    )
    if not isinstance(error_type, str) or not ERROR_TYPE_PATTERN.fullmatch(error_type):
        error_type = "Unknown"
    return error_type, timed_out


@tracer.capture_method(capture_response=False)
def invoke(route: Route, payload: dict[str, Any], ids: RequestIds) -> Reply:
    """Invoke the receiver of ``route`` with the command envelope."""
    envelope = {
        "command": route.command,
        "version": route.version,
        "payload": payload,
        "correlationId": ids.correlation_id,
    }
    data = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
    limit = CONFIG.async_limit if route.is_async else CONFIG.sync_limit
    kind = "an asynchronous" if route.is_async else "a synchronous"
    if len(data) > limit:
        raise RouterError(
            "PayloadTooLarge",
            f"the command is {len(data)} bytes; {kind} command takes at most {limit} bytes",
        )
    try:
        response = lambda_client().invoke(
            FunctionName=route.function,
            InvocationType="Event" if route.is_async else "RequestResponse",
            Payload=data,
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in TOO_LARGE_ERROR_CODES:
            message = "the command is too large for its receiver"
            raise RouterError("PayloadTooLarge", message) from error
        if code in THROTTLED_ERROR_CODES:
            raise RouterError("Throttled", "the receiver is throttled; retry later") from error
        raise
    if route.is_async:
        return Reply(202, {"accepted": True, "requestId": ids.request_id}, "accepted")

    result_data: bytes = response["Payload"].read()
    if response.get("FunctionError"):
        error_type, timed_out = _receiver_error_type(result_data)
        if timed_out:
            raise RouterError("ReceiverTimedOut", "the receiver timed out")
        raise RouterError("ReceiverFailed", f"the receiver failed with {error_type}")
    try:
        result = json.loads(result_data) if result_data.strip() else None
    except ValueError as error:
        message = "the receiver returned a result that is not JSON"
        raise RouterError("ReceiverFailed", message) from error
    return Reply(200, {"result": result, "requestId": ids.request_id}, "ok")


def dispatch(
    name: Any, version: Any, read_payload: Callable[[], dict[str, Any]], ids: RequestIds
) -> Reply:
    """Resolve, validate and invoke one command; log and count it. Never raises."""
    start = time.perf_counter()
    command_dimension = version_dimension = UNKNOWN
    try:
        command = find_command(name)
        command_dimension = command.name
        route = find_route(command, version)
        version_dimension = route.version
        reply = invoke(route, read_payload(), ids)
    except RouterError as error:
        reply = error.reply(ids.request_id)
    except Exception:
        logger.exception(
            "unexpected error while dispatching a command",
            command=command_dimension,
            version=version_dimension,
        )
        reply = error_reply("InternalError", "internal error", ids.request_id)
    latency_ms = round((time.perf_counter() - start) * 1000, 1)

    with single_metric(
        name="Dispatches",
        unit=MetricUnit.Count,
        value=1,
        default_dimensions={
            "command": command_dimension,
            "version": version_dimension,
            "outcome": reply.outcome,
        },
    ):
        pass
    if reply.status >= 500:
        log = logger.error
    elif reply.status >= 400:
        log = logger.warning
    else:
        log = logger.info
    failure = reply.body.get("error")
    log(
        "command dispatched",
        command=command_dimension,
        version=version_dimension,
        outcome=reply.outcome,
        status=reply.status,
        latency_ms=latency_ms,
        correlation_id=ids.correlation_id,
        **({"error": failure["message"]} if failure else {}),
    )
    return reply


def list_commands() -> Reply:
    commands = {
        name: {"versions": list(command.versions), "default": command.default}
        for name, command in CONFIG.commands.items()
    }
    return Reply(200, {"commands": commands}, "ok")


def _string_map(raw: Any, lower: bool = False) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {
        key.lower() if lower else key: value
        for key, value in raw.items()
        if isinstance(key, str) and isinstance(value, str)
    }


def _correlation_id(candidate: Any, request_id: str) -> str:
    if isinstance(candidate, str) and CORRELATION_ID_PATTERN.fullmatch(candidate):
        return candidate
    return request_id


def handle_http(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request_context = event.get("requestContext")
    request_id = (
        request_context.get("requestId") if isinstance(request_context, dict) else None
    ) or context.aws_request_id
    headers = _string_map(event.get("headers"), lower=True)
    ids = RequestIds(request_id, _correlation_id(headers.get(CORRELATION_HEADER), request_id))
    logger.set_correlation_id(ids.correlation_id)

    method = event.get("httpMethod")
    resource = event.get("resource")
    if resource == COMMANDS_RESOURCE and method == "GET":
        reply = list_commands()
    elif resource == COMMAND_RESOURCE and method == "POST":
        name = _string_map(event.get("pathParameters")).get("name")
        query = _string_map(event.get("queryStringParameters"))
        version = headers.get(VERSION_HEADER, "").strip() or query.get(VERSION_QUERY, "").strip()
        reply = dispatch(
            name,
            version or None,
            lambda: parse_body(event.get("body"), event.get("isBase64Encoded") is True),
            ids,
        )
    elif resource in (COMMANDS_RESOURCE, COMMAND_RESOURCE):
        allowed = "GET" if resource == COMMANDS_RESOURCE else "POST"
        message = f"method {_echo(str(method))} is not allowed here; use {allowed}"
        reply = error_reply("MethodNotAllowed", message, request_id, {"Allow": allowed})
    else:
        reply = error_reply("NotFound", "no such route", request_id)
    if resource != COMMAND_RESOURCE or method != "POST":
        logger.info(
            "request answered",
            method=method,
            resource=resource,
            status=reply.status,
            outcome=reply.outcome,
        )
    return {
        "statusCode": reply.status,
        "headers": {
            "Content-Type": "application/json",
            "X-Correlation-Id": ids.correlation_id,
            **reply.headers,
        },
        "body": json.dumps(reply.body, ensure_ascii=False),
    }


def handle_direct(event: Any, context: LambdaContext) -> dict[str, Any]:
    request_id = context.aws_request_id
    fields: Mapping[str, Any] = event if isinstance(event, dict) else {}
    ids = RequestIds(request_id, _correlation_id(fields.get("correlationId"), request_id))
    logger.set_correlation_id(ids.correlation_id)
    reply = dispatch(
        fields.get("command"), fields.get("version"), lambda: _direct_payload(fields), ids
    )
    return {"statusCode": reply.status, "body": reply.body}


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and "httpMethod" in event:
        return handle_http(event, context)
    return handle_direct(event, context)
