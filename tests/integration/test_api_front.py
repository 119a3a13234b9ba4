"""The examples' REST APIs over HTTP, through the local API front and the local runtime: the
command router's versions and error contract, the legacy inventory proxy against a legacy XML
service on 127.0.0.1, and the clickstream ingest API down to both stream consumers.

Every call is SigV4-signed by an IAM user of the emulator (the APIs use IAM authorization);
the refused callers are a user without the grant and an unsigned request.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Deployed
from tools import demo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def caller(local: demo.Local) -> dict[str, str]:
    return local.caller("api-test")


@pytest.fixture(scope="module")
def apis(local: demo.Local) -> dict[str, str]:
    return local.apis()


@pytest.fixture(scope="module")
def legacy(deployed: Deployed) -> Iterator[str]:
    with demo.legacy_inventory(deployed.legacy_port) as url:
        yield url


def _error(answer: demo.Answer) -> dict[str, Any]:
    return dict((answer.json() or {}).get("error") or {})


# --- the command router -----------------------------------------------------------------------


def test_router_serves_each_version_and_the_default(
    apis: dict[str, str], caller: dict[str, str]
) -> None:
    base = apis["CommandRouterExample"] + "commands/"
    user = f"u-{uuid.uuid4().hex[:6]}"
    created = demo.call_api(
        "POST", base + "create-user", body={"id": user, "name": "Ada"}, caller=caller
    )
    assert created.status == 200, created.body
    v1 = demo.call_api("POST", base + "get-user?version=v1", body={"id": user}, caller=caller)
    v2 = demo.call_api(
        "POST",
        base + "get-user",
        body={"id": user},
        headers={"X-Command-Version": "v2"},
        caller=caller,
    )
    default = demo.call_api("POST", base + "get-user", body={"id": user}, caller=caller)
    assert (v1.status, v2.status, default.status) == (200, 200, 200)
    assert v1.json()["result"]["name"] == "Ada"  # v1's shape
    assert v2.json()["result"]["user"]["displayName"] == "Ada"  # v2's shape
    assert default.json()["result"] == v1.json()["result"]  # the default version is v1


def test_router_accepts_an_asynchronous_command(
    apis: dict[str, str], caller: dict[str, str]
) -> None:
    answer = demo.call_api(
        "POST",
        apis["CommandRouterExample"] + "commands/send-welcome-email",
        body={"id": "u-1"},
        caller=caller,
    )
    assert answer.status == 202
    assert answer.json()["accepted"] is True


def test_an_unknown_command_gets_the_error_contract(
    apis: dict[str, str], caller: dict[str, str]
) -> None:
    answer = demo.call_api(
        "POST", apis["CommandRouterExample"] + "commands/no-such-command", body={}, caller=caller
    )
    assert answer.status == 404
    error = _error(answer)
    assert error["code"] == "UnknownCommand"
    assert "get-user" in error["message"]
    assert error["requestId"]
    assert "Traceback" not in answer.body


def test_an_unknown_version_is_refused_by_name(
    apis: dict[str, str], caller: dict[str, str]
) -> None:
    answer = demo.call_api(
        "POST",
        apis["CommandRouterExample"] + "commands/get-user?version=v9",
        body={"id": "x"},
        caller=caller,
    )
    assert answer.status == 404
    assert _error(answer)["code"] == "UnknownVersion"


@pytest.mark.parametrize("who", ["unsigned", "without the grant", "wrong secret"])
def test_a_refused_caller_gets_api_gateways_403(
    apis: dict[str, str], local: demo.Local, caller: dict[str, str], who: str
) -> None:
    signer = {
        "unsigned": None,
        "without the grant": local.caller("stranger", allowed=False),
        "wrong secret": {**caller, "secret": "x" * 40},
    }[who]
    answer = demo.call_api("GET", apis["CommandRouterExample"] + "commands", caller=signer)
    assert answer.status == 403
    message = (answer.json() or {}).get("message") or (answer.json() or {}).get("Message")
    expected = {
        "unsigned": "Missing Authentication Token",
        "without the grant": "is not authorized to perform: execute-api:Invoke",
        "wrong secret": "signature we calculated does not match",
    }[who]
    assert expected in str(message)


def test_a_path_no_resource_serves_is_missing_authentication_token(
    apis: dict[str, str], caller: dict[str, str]
) -> None:
    answer = demo.call_api("GET", apis["CommandRouterExample"] + "no/such/path", caller=caller)
    assert (answer.status, answer.json()) == (403, {"message": "Missing Authentication Token"})


def test_the_stage_access_log_has_a_line_per_request(
    apis: dict[str, str], caller: dict[str, str], local: demo.Local
) -> None:
    answer = demo.call_api("GET", apis["CommandRouterExample"] + "commands", caller=caller)
    request_id = answer.headers["x-amzn-RequestId"]
    group = local.physical("CommandRouterExample", "AccountsAccessLogs")
    lines = [json.loads(line) for line in local.log_lines(group) if request_id in line]
    assert len(lines) == 1
    assert lines[0]["status"] == "200"
    assert lines[0]["resourcePath"] == "/commands"
    assert lines[0]["user"].startswith("api-test-")


# --- the legacy inventory proxy ---------------------------------------------------------------


def test_a_translated_route_answers_json_from_the_legacy_xml(
    apis: dict[str, str], caller: dict[str, str], legacy: str
) -> None:
    answer = demo.call_api("GET", apis["LegacyProxyExample"] + "items/3", caller=caller)
    assert answer.status == 200
    assert answer.json() == {"id": "3", "sku": "C-3", "name": "Washer", "stock": 7}
    listed = demo.call_api("GET", apis["LegacyProxyExample"] + "items", caller=caller)
    assert [i["sku"] for i in listed.json()["items"]] == ["A-1", "B-2", "C-3"]


def test_the_passthrough_forwards_the_legacy_answer_as_it_is(
    apis: dict[str, str], caller: dict[str, str], legacy: str
) -> None:
    answer = demo.call_api("GET", apis["LegacyProxyExample"] + "legacy/status", caller=caller)
    assert (answer.status, answer.body) == (200, "legacy inventory: up")
    assert answer.headers["Content-Type"] == "text/plain"


def test_the_cache_serves_each_id_its_own_item_and_spares_the_legacy_service(
    apis: dict[str, str], caller: dict[str, str], legacy: str
) -> None:
    base = apis["LegacyProxyExample"] + "items/"
    before = len(demo.LEGACY_REQUESTS)
    skus = [
        demo.call_api("GET", base + i, caller=caller).json()["sku"] for i in ("1", "2", "1", "2")
    ]
    assert skus == ["A-1", "B-2", "A-1", "B-2"]  # keyed by {id}: never another id's item
    asked = demo.LEGACY_REQUESTS[before:]
    # Each id once: the repeats came from the stage cache (60 s), not from the legacy service.
    assert sorted(asked) == ["/inventory/item/1", "/inventory/item/2"]


def test_a_legacy_server_error_is_a_502_that_leaks_nothing(
    apis: dict[str, str], caller: dict[str, str], legacy: str
) -> None:
    answer = demo.call_api("GET", apis["LegacyProxyExample"] + "items/crash", caller=caller)
    assert answer.status == 502
    assert _error(answer)["code"] == "LegacyServerError"
    assert demo.LEGACY_SECRET not in answer.body


def test_an_external_entity_is_refused(
    apis: dict[str, str], caller: dict[str, str], legacy: str
) -> None:
    answer = demo.call_api("GET", apis["LegacyProxyExample"] + "items/xxe", caller=caller)
    assert answer.status == 502
    assert _error(answer)["code"] == "LegacyResponseInvalid"
    assert "root:" not in answer.body


def test_a_slow_legacy_service_is_answered_504(
    apis: dict[str, str], caller: dict[str, str], legacy: str, local: demo.Local
) -> None:
    """The translator gives up at its LEGACY_TIMEOUT (lowered to 1 s here) and answers 504."""
    lambda_ = local.client("lambda")
    translator = local.physical("LegacyProxyExample", "InventoryTranslatorFunction")
    saved = lambda_.get_function_configuration(FunctionName=translator)["Environment"]
    lambda_.update_function_configuration(
        FunctionName=translator,
        Environment={"Variables": {**saved["Variables"], "LEGACY_TIMEOUT": "1"}},
    )
    try:
        started = time.monotonic()
        answer = demo.call_api("GET", apis["LegacyProxyExample"] + "items/slow", caller=caller)
        elapsed = time.monotonic() - started
    finally:
        lambda_.update_function_configuration(FunctionName=translator, Environment=saved)
    assert answer.status == 504
    assert _error(answer)["code"] == "LegacyTimeout"
    assert elapsed < demo.LEGACY_SLOW_SECONDS


# --- the clickstream ingest API ---------------------------------------------------------------


def _click(run: str, i: int) -> dict[str, Any]:
    return {"page": f"/{run}/p{i % 4}", "user_id": f"u{i}", "timestamp": time.time()}


def test_records_arrive_on_the_stream_and_reach_both_consumers(
    apis: dict[str, str], caller: dict[str, str], local: demo.Local
) -> None:
    base = apis["KinesisExample"]
    run = uuid.uuid4().hex[:6]
    single = demo.call_api(
        "POST",
        base + "records",
        body={"data": _click(run, 0), "partitionKey": 'user "0" \\ 1'},
        caller=caller,
    )
    assert single.status == 200, single.body
    assert single.json()["SequenceNumber"]
    batch = demo.call_api(
        "POST",
        base + "records/batch",
        body={
            "records": [{"data": _click(run, i), "partitionKey": f"u'{i}\""} for i in range(1, 10)]
        },
        caller=caller,
    )
    assert batch.status == 200, batch.body
    assert batch.json()["FailedRecordCount"] == 0
    assert demo._click_counts(local, run, 10) == (10, 10)


@pytest.mark.parametrize(
    ("path", "operation"), [("records", "PutRecord"), ("records/batch", "PutRecords")]
)
def test_a_throttled_stream_is_answered_429_retryable(
    apis: dict[str, str], caller: dict[str, str], local: demo.Local, path: str, operation: str
) -> None:
    body: dict[str, Any] = {"data": {"page": "/x"}, "partitionKey": "k"}
    if path.endswith("batch"):
        body = {"records": [body]}
    local.fault(
        service="kinesis", operation=operation, error="ProvisionedThroughputExceededException"
    )
    try:
        answer = demo.call_api("POST", apis["KinesisExample"] + path, body=body, caller=caller)
    finally:
        local.clear_faults()
    assert answer.status == 429
    assert _error(answer) == {
        "code": "Throttled",
        "message": "the stream is busy: retry with backoff",
        "retryable": True,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"data": 1},
        {"partitionKey": "k"},
        {"data": 1, "partitionKey": ""},
        {"data": 1, "partitionKey": "k", "x": 1},
    ],
    ids=["no key", "no data", "empty key", "unknown field"],
)
def test_the_request_model_refuses_a_malformed_record(
    apis: dict[str, str], caller: dict[str, str], body: dict[str, Any]
) -> None:
    answer = demo.call_api("POST", apis["KinesisExample"] + "records", body=body, caller=caller)
    assert (answer.status, answer.json()) == (400, {"message": "Invalid request body"})
