"""Tests for the CommandRouter handler (``serverless_patterns/_lambda/router/app.py``).

The real handler runs in-process with its module-level Lambda client stubbed by botocore's
``Stubber``: every receiver invocation is asserted exactly (function, invocation type and the
JSON envelope) and answered as Lambda would (a ``Payload`` stream, ``FunctionError`` when the
receiver raised). Events are API Gateway REST proxy events or direct invocations. Metrics are
Powertools EMF documents on stdout, parsed back from the captured output.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tests.handlers.support import (
    LAMBDA_REQUEST_ID,
    NAMESPACE,
    PACKAGE_LAMBDA,
    FakeLambdaContext,
    api_gateway_event,
    captured_logs,
    create_service_logger,
    emf_documents,
    function_arn,
    load_handler,
    set_handler_env,
)

SERVICE = "command-router-test"
HANDLER_PATH = PACKAGE_LAMBDA / "router" / "app.py"
MODULE_NAME = "router_app_under_test"
API_REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
CONTEXT = FakeLambdaContext("command-router", aws_request_id=LAMBDA_REQUEST_ID)

GET_USER_V1 = function_arn("account-get-user-v1")
GET_USER_V2 = function_arn("account-get-user-v2")
CREATE_USER = function_arn("account-create-user")
WELCOME_EMAIL = function_arn("account-send-welcome-email")

ROUTES: dict[str, Any] = {
    "commands": {
        "getUser": {
            "default": "v1",
            "versions": {
                "v1": {"function": GET_USER_V1, "async": False},
                "v2": {"function": GET_USER_V2, "async": False},
            },
        },
        "createUser": {"default": "v1", "versions": {"v1": {"function": CREATE_USER}}},
        "sendWelcomeEmail": {
            "default": "v1",
            "versions": {"v1": {"function": WELCOME_EMAIL, "async": True}},
        },
    }
}
JSON_HEADERS = {"Content-Type": "application/json", "X-Correlation-Id": API_REQUEST_ID}
USER_V1 = {"id": "u-1", "name": "Ada Lovelace"}
USER_V2 = {
    "user": {"id": "u-1", "displayName": "Ada Lovelace", "createdAt": "2025-01-02T03:04:05.678Z"}
}
STACK_TRACE = ['  File "/var/task/app.py", line 42, in handler\n    raise UserNotFoundError(msg)\n']


class JsonPayload:
    """Equal to the bytes of a JSON document that decodes to ``expected``."""

    def __init__(self, expected: Any) -> None:
        self.expected = expected

    def __eq__(self, other: object) -> bool:
        return isinstance(other, bytes) and json.loads(other) == self.expected

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"JsonPayload({self.expected!r})"


def envelope(
    command: str,
    version: str,
    payload: dict[str, Any],
    correlation_id: str = API_REQUEST_ID,
) -> dict[str, Any]:
    """The event a receiver gets."""
    return {
        "command": command,
        "version": version,
        "payload": payload,
        "correlationId": correlation_id,
    }


def stream(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


@dataclass(frozen=True)
class Router:
    app: ModuleType
    stubber: Stubber

    def expect_sync(
        self,
        function: str,
        event: dict[str, Any],
        result: Any = None,
        *,
        function_error: dict[str, Any] | None = None,
        raw_result: bytes | None = None,
    ) -> None:
        """One RequestResponse invoke of ``function`` with ``event``, answered with ``result``
        (or the receiver's ``function_error`` document, or ``raw_result`` as it is)."""
        if raw_result is not None:
            data = raw_result
        else:
            data = json.dumps(function_error if function_error is not None else result).encode()
        response: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "Payload": stream(data),
        }
        if function_error is not None:
            response["FunctionError"] = "Unhandled"
        self.stubber.add_response(
            "invoke",
            response,
            {
                "FunctionName": function,
                "InvocationType": "RequestResponse",
                "Payload": JsonPayload(event),
            },
        )

    def expect_async(self, function: str, event: dict[str, Any]) -> None:
        self.stubber.add_response(
            "invoke",
            {"StatusCode": 202, "Payload": stream(b"")},
            {"FunctionName": function, "InvocationType": "Event", "Payload": JsonPayload(event)},
        )

    def expect_client_error(self, code: str, message: str, status: int) -> None:
        self.stubber.add_client_error(
            "invoke", service_error_code=code, service_message=message, http_status_code=status
        )

    def http(self, event: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Run the handler on an API Gateway event: status, headers and the decoded body."""
        response = self.app.handler(event, CONTEXT)
        assert set(response) == {"statusCode", "headers", "body"}
        assert isinstance(response["body"], str)
        return response["statusCode"], response["headers"], json.loads(response["body"])

    def direct(self, event: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.app.handler(event, CONTEXT)
        return response


def api_event(
    method: str,
    resource: str,
    *,
    name: str | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """An API Gateway REST API Lambda proxy integration event."""
    return api_gateway_event(
        method,
        resource,
        resource.replace("{name}", name or ""),
        request_id=API_REQUEST_ID,
        headers=headers,
        query=query,
        multi_value_query={k: [v] for k, v in query.items()} if query else None,
        path_parameters={"name": name} if name is not None else None,
        body=body,
        base64_encoded=base64_encoded,
    )


def post(name: str, body: str | None, **kwargs: Any) -> dict[str, Any]:
    return api_event("POST", "/commands/{name}", name=name, body=body, **kwargs)


def error(code: str, message: str, request_id: str = API_REQUEST_ID) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "requestId": request_id}}


def compact_size(event: dict[str, Any]) -> int:
    return len(json.dumps(event, separators=(",", ":")).encode())


@pytest.fixture(scope="module", autouse=True)
def service_logger() -> Logger:
    """The service's Powertools logger, created before any ``capsys`` capture."""
    return create_service_logger(SERVICE)


@pytest.fixture(autouse=True)
def router_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_handler_env(monkeypatch, SERVICE)
    monkeypatch.setenv("COMMAND_ROUTES", json.dumps(ROUTES))
    monkeypatch.delenv("ROUTER_SYNC_PAYLOAD_LIMIT", raising=False)
    monkeypatch.delenv("ROUTER_ASYNC_PAYLOAD_LIMIT", raising=False)


@pytest.fixture
def load_app(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """Load the handler module from its file with extra environment variables set."""

    def load(**environ: str) -> ModuleType:
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        # In sys.modules as an import would put it; gone after the test.
        return load_handler(HANDLER_PATH, MODULE_NAME, monkeypatch=monkeypatch)

    return load


@pytest.fixture
def make_router(load_app: Callable[..., ModuleType]) -> Iterator[Callable[..., Router]]:
    """A freshly loaded router, its Lambda client stubbed; every stubbed call must be made."""
    stubbers: list[Stubber] = []

    def make(**environ: str) -> Router:
        app = load_app(**environ)
        stubber = Stubber(app.lambda_client())
        stubber.activate()
        stubbers.append(stubber)
        return Router(app=app, stubber=stubber)

    yield make
    for stubber in stubbers:
        stubber.deactivate()
        stubber.assert_no_pending_responses()


@pytest.fixture
def router(make_router: Callable[..., Router]) -> Router:
    return make_router()


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    """The records the service's logger emits during the test."""
    with captured_logs(SERVICE) as records:
        yield records


# --- HTTP: dispatch ---------------------------------------------------------------------------


def test_sync_command_returns_200_with_the_receiver_result(router: Router) -> None:
    router.expect_sync(GET_USER_V1, envelope("getUser", "v1", {"id": "u-1"}), USER_V1)

    status, headers, body = router.http(post("getUser", '{"id": "u-1"}'))

    assert (status, headers, body) == (
        200,
        JSON_HEADERS,
        {"result": USER_V1, "requestId": API_REQUEST_ID},
    )


def test_async_command_is_invoked_as_an_event_and_returns_202(router: Router) -> None:
    router.expect_async(WELCOME_EMAIL, envelope("sendWelcomeEmail", "v1", {"id": "u-1"}))

    status, headers, body = router.http(post("sendWelcomeEmail", '{"id": "u-1"}'))

    assert (status, headers, body) == (
        202,
        JSON_HEADERS,
        {"accepted": True, "requestId": API_REQUEST_ID},
    )


def test_get_commands_lists_every_command_with_its_versions_and_default(router: Router) -> None:
    status, headers, body = router.http(api_event("GET", "/commands"))

    assert (status, headers, body) == (
        200,
        JSON_HEADERS,
        {
            "commands": {
                "getUser": {"versions": ["v1", "v2"], "default": "v1"},
                "createUser": {"versions": ["v1"], "default": "v1"},
                "sendWelcomeEmail": {"versions": ["v1"], "default": "v1"},
            }
        },
    )


@pytest.mark.parametrize("header", ["X-Command-Version", "x-command-version", "X-COMMAND-VERSION"])
def test_version_from_the_header_whatever_its_case(router: Router, header: str) -> None:
    router.expect_sync(GET_USER_V2, envelope("getUser", "v2", {"id": "u-1"}), USER_V2)

    status, _, body = router.http(post("getUser", '{"id": "u-1"}', headers={header: "v2"}))

    assert (status, body) == (200, {"result": USER_V2, "requestId": API_REQUEST_ID})


def test_version_from_the_query_string(router: Router) -> None:
    router.expect_sync(GET_USER_V2, envelope("getUser", "v2", {"id": "u-1"}), USER_V2)

    status, _, body = router.http(post("getUser", '{"id": "u-1"}', query={"version": "v2"}))

    assert (status, body) == (200, {"result": USER_V2, "requestId": API_REQUEST_ID})


def test_version_header_wins_over_the_query_string(router: Router) -> None:
    router.expect_sync(GET_USER_V2, envelope("getUser", "v2", {"id": "u-1"}), USER_V2)

    status, _, body = router.http(
        post(
            "getUser",
            '{"id": "u-1"}',
            headers={"X-Command-Version": "v2"},
            query={"version": "v1"},
        )
    )

    assert (status, body) == (200, {"result": USER_V2, "requestId": API_REQUEST_ID})


def test_default_version_without_header_or_query(router: Router) -> None:
    router.expect_sync(GET_USER_V1, envelope("getUser", "v1", {"id": "u-1"}), USER_V1)

    status, _, body = router.http(
        post("getUser", '{"id": "u-1"}', headers={"Accept": "application/json"}, query={})
    )

    assert (status, body) == (200, {"result": USER_V1, "requestId": API_REQUEST_ID})


@pytest.mark.parametrize("empty", [None, "", "  \n"])
def test_empty_body_is_an_empty_payload(router: Router, empty: str | None) -> None:
    router.expect_sync(CREATE_USER, envelope("createUser", "v1", {}), None)

    status, _, body = router.http(post("createUser", empty))

    assert (status, body) == (200, {"result": None, "requestId": API_REQUEST_ID})


def test_base64_encoded_body_is_decoded(router: Router) -> None:
    payload = {"id": "u-2", "name": "Grace Hopper ✓"}
    router.expect_sync(CREATE_USER, envelope("createUser", "v1", payload), payload)
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()

    status, _, body = router.http(post("createUser", encoded, base64_encoded=True))

    assert (status, body) == (200, {"result": payload, "requestId": API_REQUEST_ID})


# --- HTTP: errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"id": "u-1"', "request body is not valid JSON: Expecting ',' delimiter"),
        ("{'id': 'u-1'}", "request body is not valid JSON: Expecting property name enclosed in "),
        ('{"n": NaN}', "request body is not valid JSON: NaN is not valid JSON"),
        ('{"n": 1e400}', "request body is not valid JSON: number 1e400 is out of range"),
    ],
)
def test_malformed_json_body_is_400_bad_request(router: Router, raw: str, message: str) -> None:
    status, headers, body = router.http(post("createUser", raw))

    assert (status, headers) == (400, JSON_HEADERS)
    assert body == error("BadRequest", body["error"]["message"])
    assert body["error"]["message"].startswith(message)


def test_body_that_is_not_base64_is_400_bad_request(router: Router) -> None:
    status, _, body = router.http(post("createUser", "not base64!", base64_encoded=True))

    assert (status, body) == (400, error("BadRequest", "request body is not UTF-8 encoded JSON"))


@pytest.mark.parametrize("raw", ["[1, 2]", '"text"', "null", "3", "true"])
def test_body_that_is_not_a_json_object_is_400_bad_request(router: Router, raw: str) -> None:
    status, headers, body = router.http(post("createUser", raw))

    assert (status, headers, body) == (
        400,
        JSON_HEADERS,
        error("BadRequest", "request body must be a JSON object"),
    )


def test_unknown_command_is_404_listing_the_known_commands(router: Router) -> None:
    status, headers, body = router.http(post("deleteUser", "{}"))

    assert (status, headers, body) == (
        404,
        JSON_HEADERS,
        error(
            "UnknownCommand",
            "unknown command 'deleteUser'; known commands: getUser, createUser, sendWelcomeEmail",
        ),
    )


def test_unknown_version_is_404_listing_the_command_versions(router: Router) -> None:
    status, headers, body = router.http(
        post("getUser", '{"id": "u-1"}', headers={"X-Command-Version": "v9"})
    )

    assert (status, headers, body) == (
        404,
        JSON_HEADERS,
        error(
            "UnknownVersion", "unknown version 'v9' of command 'getUser'; known versions: v1, v2"
        ),
    )


def test_unknown_command_is_reported_before_a_malformed_body(router: Router) -> None:
    status, _, body = router.http(post("deleteUser", "{not json"))

    assert status == 404
    assert body["error"]["code"] == "UnknownCommand"


def test_payload_over_the_sync_limit_is_413_without_invoking(
    make_router: Callable[..., Router],
) -> None:
    router = make_router(ROUTER_SYNC_PAYLOAD_LIMIT="100")
    payload = {"id": "u-1", "name": "x" * 100}
    size = compact_size(envelope("createUser", "v1", payload))

    status, headers, body = router.http(post("createUser", json.dumps(payload)))

    assert (status, headers, body) == (
        413,
        JSON_HEADERS,
        error(
            "PayloadTooLarge",
            f"the command is {size} bytes; a synchronous command takes at most 100 bytes",
        ),
    )


def test_payload_exactly_at_the_sync_limit_is_invoked(make_router: Callable[..., Router]) -> None:
    payload = {"id": "u-1", "name": "x" * 100}
    event = envelope("createUser", "v1", payload)
    router = make_router(ROUTER_SYNC_PAYLOAD_LIMIT=str(compact_size(event)))
    router.expect_sync(CREATE_USER, event, payload)

    status, _, body = router.http(post("createUser", json.dumps(payload, indent=4)))

    assert (status, body) == (200, {"result": payload, "requestId": API_REQUEST_ID})


def test_payload_over_the_async_limit_is_413_without_invoking(
    make_router: Callable[..., Router],
) -> None:
    # The synchronous limit does not apply to an asynchronous command, and the other way round.
    router = make_router(ROUTER_ASYNC_PAYLOAD_LIMIT="150", ROUTER_SYNC_PAYLOAD_LIMIT="10")
    payload = {"id": "u" * 100}
    size = compact_size(envelope("sendWelcomeEmail", "v1", payload))

    status, _, body = router.http(post("sendWelcomeEmail", json.dumps(payload)))

    assert (status, body) == (
        413,
        error(
            "PayloadTooLarge",
            f"the command is {size} bytes; an asynchronous command takes at most 150 bytes",
        ),
    )


@pytest.mark.parametrize(
    "code",
    [
        # What Lambda answers (unmodeled: a plain ClientError)...
        "RequestEntityTooLargeException",
        # ...and what its model names.
        "RequestTooLargeException",
        "SerializedRequestEntityTooLargeException",
    ],
)
def test_lambda_request_entity_too_large_is_413(router: Router, code: str) -> None:
    router.expect_client_error(
        code, "Request must be smaller than 6291456 bytes for the InvokeFunction operation", 413
    )

    status, _, body = router.http(post("createUser", '{"id": "u-1", "name": "Ada"}'))

    assert (status, body) == (
        413,
        error("PayloadTooLarge", "the command is too large for its receiver"),
    )


def test_throttled_receiver_is_429(router: Router) -> None:
    router.expect_client_error("TooManyRequestsException", "Rate Exceeded.", 429)

    status, _, body = router.http(post("createUser", '{"id": "u-1", "name": "Ada"}'))

    assert (status, body) == (429, error("Throttled", "the receiver is throttled; retry later"))


def test_receiver_that_raised_is_502_with_its_error_type_only(router: Router) -> None:
    router.expect_sync(
        GET_USER_V1,
        envelope("getUser", "v1", {"id": "u-404"}),
        function_error={
            "errorMessage": "no user with id 'u-404' in table users-prod",
            "errorType": "UserNotFoundError",
            "requestId": "receiver-request-id",
            "stackTrace": STACK_TRACE,
        },
    )

    response = router.app.handler(post("getUser", '{"id": "u-404"}'), CONTEXT)

    assert response == {
        "statusCode": 502,
        "headers": JSON_HEADERS,
        "body": json.dumps(error("ReceiverFailed", "the receiver failed with UserNotFoundError")),
    }
    for secret in ("users-prod", "u-404", "stackTrace", "app.py", "receiver-request-id"):
        assert secret not in response["body"]


@pytest.mark.parametrize(
    "function_error",
    [
        {"errorMessage": "boom", "errorType": "Traceback (most recent call last):\n  File"},
        {"errorMessage": "boom"},
        ["not", "an", "error", "document"],
    ],
)
def test_receiver_error_without_a_plain_error_type_is_502_unknown(
    router: Router, function_error: Any
) -> None:
    router.expect_sync(
        GET_USER_V1, envelope("getUser", "v1", {"id": "u-1"}), function_error=function_error
    )

    status, _, body = router.http(post("getUser", '{"id": "u-1"}'))

    assert (status, body) == (502, error("ReceiverFailed", "the receiver failed with Unknown"))


def test_receiver_result_that_is_not_json_is_502(router: Router) -> None:
    router.expect_sync(
        GET_USER_V1, envelope("getUser", "v1", {"id": "u-1"}), raw_result=b"<html>oops"
    )

    status, _, body = router.http(post("getUser", '{"id": "u-1"}'))

    assert (status, body) == (
        502,
        error("ReceiverFailed", "the receiver returned a result that is not JSON"),
    )


@pytest.mark.parametrize(
    "function_error",
    [
        {
            "errorType": "Sandbox.Timedout",
            "errorMessage": "RequestId: 9d1a Error: Task timed out after 3.00 seconds",
        },
        {"errorMessage": "2025-01-02T03:04:05.678Z 9d1a Task timed out after 3.00 seconds"},
    ],
)
def test_receiver_that_timed_out_is_504(router: Router, function_error: dict[str, Any]) -> None:
    router.expect_sync(
        GET_USER_V1, envelope("getUser", "v1", {"id": "u-1"}), function_error=function_error
    )

    status, headers, body = router.http(post("getUser", '{"id": "u-1"}'))

    assert (status, headers, body) == (
        504,
        JSON_HEADERS,
        error("ReceiverTimedOut", "the receiver timed out"),
    )


def test_unexpected_error_is_500_without_its_message(
    router: Router, log_records: list[logging.LogRecord]
) -> None:
    secret = f"Function not found: {GET_USER_V1}"
    router.expect_client_error("ResourceNotFoundException", secret, 404)

    response = router.app.handler(post("getUser", '{"id": "u-1"}'), CONTEXT)

    assert response == {
        "statusCode": 500,
        "headers": JSON_HEADERS,
        "body": json.dumps(error("InternalError", "internal error")),
    }
    (logged,) = [record for record in log_records if record.exc_info]
    assert logged.levelname == "ERROR"
    assert logged.getMessage() == "unexpected error while dispatching a command"
    assert logged.exc_info is not None
    assert secret in str(logged.exc_info[1])


@pytest.mark.parametrize(
    ("method", "resource", "name", "allowed"),
    [
        ("DELETE", "/commands/{name}", "getUser", "POST"),
        ("GET", "/commands/{name}", "getUser", "POST"),
        ("POST", "/commands", None, "GET"),
    ],
)
def test_wrong_method_is_405_with_allow(
    router: Router, method: str, resource: str, name: str | None, allowed: str
) -> None:
    status, headers, body = router.http(api_event(method, resource, name=name))

    assert (status, headers, body) == (
        405,
        {**JSON_HEADERS, "Allow": allowed},
        error("MethodNotAllowed", f"method {method!r} is not allowed here; use {allowed}"),
    )


def test_unknown_route_is_404(router: Router) -> None:
    status, headers, body = router.http(api_event("GET", "/health"))

    assert (status, headers, body) == (404, JSON_HEADERS, error("NotFound", "no such route"))


# --- correlation ------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["X-Correlation-Id", "x-correlation-id"])
def test_correlation_id_header_reaches_the_receiver_the_response_and_the_logs(
    router: Router, header: str
) -> None:
    router.expect_sync(GET_USER_V1, envelope("getUser", "v1", {"id": "u-1"}, "corr-42"), USER_V1)

    status, headers, body = router.http(
        post("getUser", '{"id": "u-1"}', headers={header: "corr-42"})
    )

    assert (status, headers, body) == (
        200,
        {"Content-Type": "application/json", "X-Correlation-Id": "corr-42"},
        {"result": USER_V1, "requestId": API_REQUEST_ID},
    )
    assert router.app.logger.get_correlation_id() == "corr-42"


@pytest.mark.parametrize("candidate", ["has space", "x" * 129, ""])
def test_unusable_correlation_id_falls_back_to_the_request_id(
    router: Router, candidate: str
) -> None:
    router.expect_sync(GET_USER_V1, envelope("getUser", "v1", {"id": "u-1"}), USER_V1)

    status, headers, _ = router.http(
        post("getUser", '{"id": "u-1"}', headers={"X-Correlation-Id": candidate})
    )

    assert (status, headers) == (200, JSON_HEADERS)
    assert router.app.logger.get_correlation_id() == API_REQUEST_ID


def test_error_responses_carry_the_correlation_id_too(router: Router) -> None:
    status, headers, body = router.http(
        post("deleteUser", "{}", headers={"X-Correlation-Id": "corr-7"})
    )

    assert status == 404
    assert headers == {"Content-Type": "application/json", "X-Correlation-Id": "corr-7"}
    assert body["error"]["requestId"] == API_REQUEST_ID


# --- direct invocation ------------------------------------------------------------------------


def test_direct_invocation_returns_status_and_body_as_a_dict(router: Router) -> None:
    router.expect_sync(
        GET_USER_V1, envelope("getUser", "v1", {"id": "u-1"}, LAMBDA_REQUEST_ID), USER_V1
    )

    response = router.direct({"command": "getUser", "payload": {"id": "u-1"}})

    assert response == {
        "statusCode": 200,
        "body": {"result": USER_V1, "requestId": LAMBDA_REQUEST_ID},
    }


def test_direct_invocation_with_version_and_correlation_id(router: Router) -> None:
    router.expect_sync(GET_USER_V2, envelope("getUser", "v2", {"id": "u-1"}, "upstream-1"), USER_V2)

    response = router.direct(
        {
            "command": "getUser",
            "version": "v2",
            "payload": {"id": "u-1"},
            "correlationId": "upstream-1",
        }
    )

    assert response == {
        "statusCode": 200,
        "body": {"result": USER_V2, "requestId": LAMBDA_REQUEST_ID},
    }


def test_direct_async_invocation_is_accepted(router: Router) -> None:
    router.expect_async(
        WELCOME_EMAIL, envelope("sendWelcomeEmail", "v1", {"id": "u-1"}, LAMBDA_REQUEST_ID)
    )

    response = router.direct({"command": "sendWelcomeEmail", "payload": {"id": "u-1"}})

    assert response == {
        "statusCode": 202,
        "body": {"accepted": True, "requestId": LAMBDA_REQUEST_ID},
    }


def test_direct_invocation_without_payload_sends_an_empty_one(router: Router) -> None:
    router.expect_sync(CREATE_USER, envelope("createUser", "v1", {}, LAMBDA_REQUEST_ID), None)

    response = router.direct({"command": "createUser"})

    assert response == {"statusCode": 200, "body": {"result": None, "requestId": LAMBDA_REQUEST_ID}}


@pytest.mark.parametrize(
    ("event", "status", "code", "message"),
    [
        ({}, 400, "BadRequest", "command must be a non-empty string"),
        (["getUser"], 400, "BadRequest", "command must be a non-empty string"),
        ({"command": 7}, 400, "BadRequest", "command must be a non-empty string"),
        ({"command": "getUser", "version": 2}, 400, "BadRequest", "version must be a string"),
        (
            {"command": "getUser", "payload": [1]},
            400,
            "BadRequest",
            "payload must be a JSON object",
        ),
        (
            {"command": "nope"},
            404,
            "UnknownCommand",
            "unknown command 'nope'; known commands: getUser, createUser, sendWelcomeEmail",
        ),
        (
            {"command": "getUser", "version": "v3"},
            404,
            "UnknownVersion",
            "unknown version 'v3' of command 'getUser'; known versions: v1, v2",
        ),
    ],
)
def test_direct_invocation_errors_have_the_same_shape(
    router: Router, event: Any, status: int, code: str, message: str
) -> None:
    response = router.direct(event)

    assert response == {"statusCode": status, "body": error(code, message, LAMBDA_REQUEST_ID)}


# --- metrics and logs -------------------------------------------------------------------------


def dispatches_document(command: str, version: str, outcome: str) -> dict[str, Any]:
    return {
        "_aws": {
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["command", "version", "outcome", "service"]],
                    "Metrics": [{"Name": "Dispatches", "Unit": "Count"}],
                }
            ]
        },
        "command": command,
        "version": version,
        "outcome": outcome,
        "service": SERVICE,
        "Dispatches": [1.0],
    }


def run_mixed_dispatches(router: Router) -> None:
    """ok, accepted, 502, unknown version, unknown command, 400 and a listing (no dispatch)."""
    router.expect_sync(GET_USER_V2, envelope("getUser", "v2", {"id": "u-1"}), USER_V2)
    router.expect_async(WELCOME_EMAIL, envelope("sendWelcomeEmail", "v1", {"id": "u-1"}))
    router.expect_sync(
        CREATE_USER,
        envelope("createUser", "v1", {"id": "u-1"}),
        function_error={"errorType": "InvalidUserError", "errorMessage": "payload.name ..."},
    )
    router.http(post("getUser", '{"id": "u-1"}', query={"version": "v2"}))
    router.http(post("sendWelcomeEmail", '{"id": "u-1"}'))
    router.http(post("createUser", '{"id": "u-1"}'))
    router.http(post("getUser", "{}", query={"version": "v7"}))
    router.http(post("secretCommandName", "{}"))
    router.http(post("createUser", "[]"))
    router.http(api_event("GET", "/commands"))


def test_one_dispatches_metric_per_dispatch_with_command_version_and_outcome(
    router: Router, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    run_mixed_dispatches(router)
    documents = emf_documents(capsys.readouterr().out)

    assert documents == [
        dispatches_document("getUser", "v2", "ok"),
        dispatches_document("sendWelcomeEmail", "v1", "accepted"),
        dispatches_document("createUser", "v1", "ReceiverFailed"),
        dispatches_document("getUser", "(unknown)", "UnknownVersion"),
        dispatches_document("(unknown)", "(unknown)", "UnknownCommand"),
        dispatches_document("createUser", "v1", "BadRequest"),
    ]


def test_one_structured_log_line_per_dispatch(
    router: Router, log_records: list[logging.LogRecord]
) -> None:
    run_mixed_dispatches(router)

    fields = ("command", "version", "outcome", "status", "correlation_id")
    lines = [
        (record.levelname, {key: record.__dict__[key] for key in fields})
        for record in log_records
        if record.getMessage() == "command dispatched"
    ]
    assert lines == [
        ("INFO", dict(zip(fields, ("getUser", "v2", "ok", 200, API_REQUEST_ID), strict=True))),
        (
            "INFO",
            dict(
                zip(
                    fields,
                    ("sendWelcomeEmail", "v1", "accepted", 202, API_REQUEST_ID),
                    strict=True,
                )
            ),
        ),
        (
            "ERROR",
            dict(
                zip(
                    fields, ("createUser", "v1", "ReceiverFailed", 502, API_REQUEST_ID), strict=True
                )
            ),
        ),
        (
            "WARNING",
            dict(
                zip(
                    fields,
                    ("getUser", "(unknown)", "UnknownVersion", 404, API_REQUEST_ID),
                    strict=True,
                )
            ),
        ),
        (
            "WARNING",
            dict(
                zip(
                    fields,
                    ("(unknown)", "(unknown)", "UnknownCommand", 404, API_REQUEST_ID),
                    strict=True,
                )
            ),
        ),
        (
            "WARNING",
            dict(zip(fields, ("createUser", "v1", "BadRequest", 400, API_REQUEST_ID), strict=True)),
        ),
    ]
    dispatched = [r for r in log_records if r.getMessage() == "command dispatched"]
    for record in dispatched:
        latency_ms = record.__dict__["latency_ms"]
        assert isinstance(latency_ms, float)
        assert 0 <= latency_ms < 1000
    assert [r.__dict__.get("error") for r in dispatched] == [
        None,
        None,
        "the receiver failed with InvalidUserError",
        "unknown version 'v7' of command 'getUser'; known versions: v1, v2",
        "unknown command 'secretCommandName'; known commands: getUser, createUser, "
        "sendWelcomeEmail",
        "request body must be a JSON object",
    ]


# --- configuration ----------------------------------------------------------------------------


def test_routes_that_are_not_json_fail_the_module_load(
    load_app: Callable[..., ModuleType],
) -> None:
    with pytest.raises(
        ValueError,
        match=r"^COMMAND_ROUTES is not valid JSON: Expecting value: line 1 column 1 \(char 0\)$",
    ):
        load_app(COMMAND_ROUTES="not json")


def routes_with(command: Any) -> dict[str, Any]:
    return {"commands": {"getUser": command}}


@pytest.mark.parametrize(
    ("routes", "environ", "message"),
    [
        ([], {}, "COMMAND_ROUTES must be a JSON object"),
        ({"commands": {}}, {}, "COMMAND_ROUTES.commands must be a non-empty JSON object"),
        ({"commands": {}, "extra": 1}, {}, "COMMAND_ROUTES has unknown keys ['extra']"),
        (
            {"commands": {"get user": {"default": "v1", "versions": {}}}},
            {},
            "COMMAND_ROUTES command name 'get user' must be 1-64 characters",
        ),
        (
            routes_with({"default": "v1", "versions": {}}),
            {},
            "COMMAND_ROUTES command 'getUser': versions must be a non-empty JSON object",
        ),
        (
            routes_with({"default": "v2", "versions": {"v1": {"function": GET_USER_V1}}}),
            {},
            "COMMAND_ROUTES command 'getUser': default must be one of its versions ['v1']",
        ),
        (
            routes_with({"default": "v1", "versions": {"v1": {"function": ""}}}),
            {},
            "COMMAND_ROUTES command 'getUser' version 'v1': function must be a function ARN",
        ),
        (
            routes_with({"default": "v1", "versions": {"v1": {"function": "f", "async": "no"}}}),
            {},
            "COMMAND_ROUTES command 'getUser' version 'v1': async must be true or false",
        ),
        (
            routes_with({"default": "v1", "versions": {"v1": {"function": "f", "timeout": 3}}}),
            {},
            "COMMAND_ROUTES command 'getUser' version 'v1' has unknown keys ['timeout']",
        ),
        (ROUTES, {"ROUTER_SYNC_PAYLOAD_LIMIT": "0"}, "ROUTER_SYNC_PAYLOAD_LIMIT must be a"),
        (ROUTES, {"ROUTER_ASYNC_PAYLOAD_LIMIT": "1MB"}, "ROUTER_ASYNC_PAYLOAD_LIMIT must be a"),
        (
            ROUTES,
            {"POWERTOOLS_METRICS_NAMESPACE": " "},
            "POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE must be set",
        ),
    ],
)
def test_invalid_configuration_is_rejected_with_a_clear_message(
    router: Router, routes: Any, environ: dict[str, str], message: str
) -> None:
    valid = {
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
        "COMMAND_ROUTES": json.dumps(routes),
    }

    with pytest.raises(ValueError, match=re.escape(message)):
        router.app.load_config({**valid, **environ})


def test_default_payload_limits_are_lambda_quotas(router: Router) -> None:
    assert router.app.CONFIG.sync_limit == 6291456
    assert router.app.CONFIG.async_limit == 1048576


def test_lambda_client_never_retries_an_invocation(router: Router) -> None:
    config = router.app.lambda_client().meta.config
    assert config.retries["total_max_attempts"] == 1
    assert config.read_timeout == 900
