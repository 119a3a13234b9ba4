"""The Kinesis ingest API's mapping templates, executed.

Every request and response template ``add_ingest_api`` writes is rendered by the mapping
template environment (``serverless_patterns/local/mapping_templates.py``) as API Gateway renders
it: requests with partition keys and data that carry quotes, backslashes, slashes, non-ASCII
text, empty and missing values, validated against botocore's input shape of
PutRecord/PutRecords; responses for what Kinesis answers (success, a partial PutRecords failure,
throttling, KMS throttling, access denied, validation errors, internal failures), the
integration response chosen by its selection pattern as API Gateway chooses it. Every rendered
body must be valid JSON.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import botocore.session
import pytest
from aws_cdk.assertions import Template
from botocore.validate import ParamValidator

from serverless_patterns import KinesisBatchConsumer, ServerlessFunction
from serverless_patterns.local.mapping_templates import escape_javascript, render
from tests.support import new_stack

STREAM = "clicks-stream"
INLINE_CODE = "def handler(event, context):\n    return {}\n"


def resolve(value: Any, refs: dict[str, str]) -> Any:
    """Fn::Join and Ref of a synthesized template, as CloudFormation resolves them."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve(part, refs)) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return refs.get(value["Ref"], value["Ref"])
    return value


@pytest.fixture(scope="module")
def methods() -> dict[str, dict[str, Any]]:
    """Resource path -> the POST method's properties, templates resolved."""
    from aws_cdk import aws_lambda as lambda_

    stack = new_stack()
    consumer = KinesisBatchConsumer(
        stack,
        "Clicks",
        handler=ServerlessFunction(stack, "Fn", code=lambda_.Code.from_inline(INLINE_CODE)),
    )
    consumer.add_ingest_api()
    template = Template.from_stack(stack).to_json()
    stream_id = stack.get_logical_id(consumer.stream.node.default_child)  # type: ignore[arg-type]
    resources = template["Resources"]
    paths = {
        name: resource["Properties"]["PathPart"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::ApiGateway::Resource"
    }
    found: dict[str, dict[str, Any]] = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::ApiGateway::Method":
            continue
        refs = {stream_id: STREAM, "AWS::Partition": "aws", "AWS::Region": "us-east-1"}
        properties = resolve_all(resource["Properties"], refs)
        leaf = properties["ResourceId"]["Ref"]
        found["/records/batch" if paths[leaf] == "batch" else "/records"] = properties
    return found


def resolve_all(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, dict) and ("Fn::Join" in value):
        return resolve(value, refs)
    if isinstance(value, dict):
        return {key: resolve_all(item, refs) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_all(item, refs) for item in value]
    return value


def request_template(methods: dict[str, dict[str, Any]], path: str) -> str:
    template: str = methods[path]["Integration"]["RequestTemplates"]["application/json"]
    return template


def kinesis_input(operation: str, rendered: str) -> dict[str, Any]:
    """The rendered request as botocore parameters, checked against the operation's shape."""
    params = json.loads(rendered)  # must be JSON at all
    records = params["Records"] if operation == "PutRecords" else [params]
    for record in records:
        record["Data"] = base64.b64decode(record["Data"], validate=True)
    shape = botocore.session.get_session().get_service_model("kinesis")
    report = ParamValidator().validate(params, shape.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()
    return params


PARTITION_KEYS = [
    "page-1",
    "/o'reilly",
    'say "hi"',
    "back\\slash",
    "path/with/slashes",
    "naïve café ☕",
    "tab\there",
    "x" * 256,
]
DATA = [
    {"page": "/home", "user": "u-1"},
    {"quote": 'it\'s "fine"', "path": "C:\\temp", "emoji": "😀"},
    "a plain string with 'quotes'",
    [1, 2.5, None, True],
    {},
    None,
]


@pytest.mark.parametrize("partition_key", PARTITION_KEYS)
@pytest.mark.parametrize("data", DATA, ids=range(len(DATA)))
def test_put_record_request_is_a_valid_put_record_call(
    methods: dict[str, dict[str, Any]], partition_key: str, data: Any
) -> None:
    body = json.dumps({"data": data, "partitionKey": partition_key})
    rendered = render(request_template(methods, "/records"), body=body)
    params = kinesis_input("PutRecord", rendered.text)
    assert params["StreamName"] == STREAM
    assert params["PartitionKey"] == partition_key
    assert json.loads(params["Data"]) == data


@pytest.mark.parametrize("count", [1, 3, 500])
def test_put_records_request_is_a_valid_put_records_call(
    methods: dict[str, dict[str, Any]], count: int
) -> None:
    records = [
        {
            "data": DATA[index % len(DATA)],
            "partitionKey": PARTITION_KEYS[index % len(PARTITION_KEYS)],
        }
        for index in range(count)
    ]
    rendered = render(
        request_template(methods, "/records/batch"), body=json.dumps({"records": records})
    )
    params = kinesis_input("PutRecords", rendered.text)
    assert [r["PartitionKey"] for r in params["Records"]] == [r["partitionKey"] for r in records]
    assert [json.loads(r["Data"]) for r in params["Records"]] == [r["data"] for r in records]


@pytest.mark.parametrize("path", ["/records", "/records/batch"])
def test_integration_request_says_it_is_kinesis_json(
    methods: dict[str, dict[str, Any]], path: str
) -> None:
    """AWS's Kinesis proxy guide sets this Content-Type on the integration request."""
    parameters = methods[path]["Integration"]["RequestParameters"]
    assert parameters["integration.request.header.Content-Type"] == "'application/x-amz-json-1.1'"


# --- responses ----------------------------------------------------------------------------


def respond(
    methods: dict[str, dict[str, Any]], path: str, status: int, answer: dict[str, Any]
) -> tuple[int, Any]:
    """What the client gets when Kinesis answers ``status`` with ``answer``: the integration
    response API Gateway selects (selection pattern against the status code, else the default),
    its template rendered, and the status it sets or overrides."""
    integration = methods[path]["Integration"]
    responses = integration["IntegrationResponses"]
    chosen = next(
        (
            r
            for r in responses
            if r.get("SelectionPattern") and re.fullmatch(r["SelectionPattern"], str(status))
        ),
        next(r for r in responses if not r.get("SelectionPattern")),
    )
    declared = {response["StatusCode"] for response in methods[path]["MethodResponses"]}
    template = chosen.get("ResponseTemplates", {}).get("application/json")
    body = json.dumps(answer)
    if template is None:
        return int(chosen["StatusCode"]), json.loads(body)
    rendered = render(template, body=body)
    final = rendered.status or int(chosen["StatusCode"])
    assert str(final) in declared or rendered.status is not None, (final, declared)
    return final, rendered.json()


def kinesis_error(kind: str, message: str) -> dict[str, str]:
    return {"__type": kind, "message": message}


ERRORS = [
    (400, kinesis_error("ProvisionedThroughputExceededException", "Rate exceeded for shard"), 429),
    (400, kinesis_error("KMSThrottlingException", "Rate exceeded for KMS"), 429),
    (400, kinesis_error("AccessDeniedException", "User: arn:... is not authorized"), 500),
    (400, kinesis_error("KMSAccessDeniedException", "no access to the key"), 500),
    (400, kinesis_error("KMSDisabledException", "the key is disabled"), 500),
    (400, kinesis_error("ResourceNotFoundException", "Stream clicks-stream not found"), 500),
    (
        400,
        kinesis_error(
            "ValidationException",
            "1 validation error detected: Value 'x\"y' at 'partitionKey' failed to satisfy "
            "constraint: Member must have length less than or equal to 256",
        ),
        400,
    ),
    (400, kinesis_error("InvalidArgumentException", "Data is not valid base64 \\ 'bad'"), 400),
    (500, kinesis_error("InternalFailure", "internal error"), 503),
    (503, kinesis_error("ServiceUnavailable", "try again"), 503),
]


@pytest.mark.parametrize("path", ["/records", "/records/batch"])
@pytest.mark.parametrize(
    ("status", "answer", "expected"), ERRORS, ids=[e[1]["__type"] for e in ERRORS]
)
def test_kinesis_errors_reach_the_client_with_a_status_it_can_act_on(
    methods: dict[str, dict[str, Any]],
    path: str,
    status: int,
    answer: dict[str, Any],
    expected: int,
) -> None:
    final, body = respond(methods, path, status, answer)
    assert final == expected, body
    error = body["error"]
    assert error["retryable"] is (expected in (429, 503))
    if expected == 400:  # the caller's mistake: Kinesis' reason, verbatim and as valid JSON
        assert error["code"] == "BadRequest"
        assert error["message"] == answer["message"]
    if expected == 500:  # access and KMS problems are ours: no detail for the caller
        assert error["code"] == "StreamUnavailable"
        assert answer["message"] not in json.dumps(body)


def test_put_record_success_passes_through(methods: dict[str, dict[str, Any]]) -> None:
    answer = {"SequenceNumber": "4959", "ShardId": "shardId-000000000000"}
    assert respond(methods, "/records", 200, answer) == (200, answer)


def test_put_records_success_passes_through(methods: dict[str, dict[str, Any]]) -> None:
    answer = {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1", "ShardId": "s-0"}]}
    status, body = respond(methods, "/records/batch", 200, answer)
    assert status == 200
    assert body == answer


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        (["ProvisionedThroughputExceededException", "ProvisionedThroughputExceededException"], 429),
        (["InternalFailure", "ProvisionedThroughputExceededException"], 503),
    ],
)
def test_a_partial_put_records_failure_is_not_a_success_and_names_the_failed_records(
    methods: dict[str, dict[str, Any]], errors: list[str], expected: int
) -> None:
    records: list[dict[str, Any]] = [{"SequenceNumber": "1", "ShardId": "s-0"}]
    for code in errors:
        records.append({"ErrorCode": code, "ErrorMessage": f'it\'s {code} "now"'})
    records.append({"SequenceNumber": "2", "ShardId": "s-0"})
    answer = {"FailedRecordCount": len(errors), "Records": records}
    status, body = respond(methods, "/records/batch", 200, answer)
    assert status == expected
    error = body["error"]
    assert error["code"] == "PartialFailure"
    assert error["retryable"] is True
    assert error["failedRecordCount"] == len(errors)
    assert [r["index"] for r in error["failedRecords"]] == [1, 2]
    assert [r["errorCode"] for r in error["failedRecords"]] == errors
    assert error["failedRecords"][0]["errorMessage"] == records[1]["ErrorMessage"]


def test_escape_javascript_is_not_json_safe() -> None:
    """Why the templates never put $util.escapeJavaScript inside a JSON string."""
    escaped = escape_javascript("o'reilly")
    assert escaped == "o\\'reilly"
    with pytest.raises(ValueError, match="Invalid"):
        json.loads(f'"{escaped}"')
