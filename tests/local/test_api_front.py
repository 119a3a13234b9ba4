"""The local API front, in process: routing, API Gateway's own answers, validation, API keys
and usage plans, throttling, caching, mapping templates, proxy responses, timeouts, HTTP
forwarding, Cognito tokens, access logs, and the reading of a template's API resources.

The emulator is not started: the front gets a stand-in runtime (functions are callables) and
APIs built here or read from template resources built here.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from serverless_patterns.local import catalog
from serverless_patterns.local.apigateway import (
    Api,
    ApiFront,
    Method,
    Request,
    Response,
    Setting,
    Stage,
    UsagePlan,
    _compile,
    _stack_apis,
)
from serverless_patterns.local.sandbox import InvokeResult

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:fn"
LAMBDA_URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION}/invocations"


class StandIn:
    """The runtime as the front uses it."""

    endpoint = "http://localhost:1"

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.logs: list[tuple[str, str]] = []
        self.function: Callable[[dict[str, Any]], InvokeResult] = lambda event: InvokeResult(
            payload={"statusCode": 200, "body": json.dumps({"path": event["path"]})}
        )

    def invoke(self, name: str, event: dict[str, Any]) -> InvokeResult:
        self.events.append(event)
        return self.function(event)

    def function_spec(self, name: str) -> Any:
        raise LookupError(name)

    def write_logs(self, group: str, stream: str, lines: list[str]) -> None:
        self.logs += [(group, line) for line in lines]


def proxy(path: str, http_method: str = "GET", **options: Any) -> Method:
    return Method(
        logical_id=f"{http_method}{path}",
        http_method=http_method,
        resource_path=path,
        integration={"Type": "AWS_PROXY", "Uri": LAMBDA_URI, **options.pop("integration", {})},
        **options,
    )


def api(*methods: Method, stage: Stage | None = None, plans: list[UsagePlan] | None = None) -> Api:
    built = Api(id="abc123", name="test", stack="S", logical_id="Api")
    for method in methods:
        built.methods[(method.resource_path, method.http_method)] = method
    built.stages = {"v1": stage or Stage("v1")}
    built.plans = plans or []
    paths = {m.resource_path for m in methods}
    built.routes = sorted(((*_compile(p), p) for p in paths), key=lambda c: (c[0], -len(c[0])))
    return built


@pytest.fixture
def runtime() -> StandIn:
    return StandIn()


@pytest.fixture
def front(runtime: StandIn) -> ApiFront:
    return ApiFront(runtime)  # type: ignore[arg-type]


def call(
    front: ApiFront,
    served: Api,
    path: str,
    method: str = "GET",
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: list[tuple[str, str]] | None = None,
) -> Response:
    front.apis = {served.id: served}
    data = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    return front.handle(
        Request(
            method=method,
            path=f"/{served.id}/v1{path}",
            query=query or [],
            headers=list({"Content-Type": "application/json", **(headers or {})}.items()),
            body=data,
        )
    )


def document(response: Response) -> Any:
    return json.loads(response.body)


# --- routing and API Gateway's own answers ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/items/special", "/items/special"),  # a literal segment over a parameter
        ("/items/42", "/items/{id}"),
        ("/items/42/parts/a/b", "/{proxy+}"),  # what nothing else serves, the greedy path
        ("/", "/"),
    ],
)
def test_the_most_specific_resource_serves_a_path(
    front: ApiFront, runtime: StandIn, path: str, resource: str
) -> None:
    served = api(proxy("/items/special"), proxy("/items/{id}"), proxy("/{proxy+}"), proxy("/"))
    assert call(front, served, path).status == 200
    assert runtime.events[-1]["resource"] == resource


def test_path_parameters_reach_the_function_decoded(front: ApiFront, runtime: StandIn) -> None:
    served = api(proxy("/items/{id}"), proxy("/files/{key+}"))
    call(front, served, "/items/a%20b")
    assert runtime.events[-1]["pathParameters"] == {"id": "a b"}
    call(front, served, "/files/x/y.txt")
    assert runtime.events[-1]["pathParameters"] == {"key": "x/y.txt"}


def test_any_serves_the_methods_without_their_own(front: ApiFront, runtime: StandIn) -> None:
    served = api(proxy("/items", "ANY"), proxy("/items", "POST"))
    assert call(front, served, "/items", "DELETE").status == 200
    assert runtime.events[-1]["httpMethod"] == "DELETE"


@pytest.mark.parametrize(("path", "method"), [("/nothing", "GET"), ("/items", "PUT")])
def test_an_unserved_path_or_method_is_missing_authentication_token(
    front: ApiFront, path: str, method: str
) -> None:
    answer = call(front, api(proxy("/items")), path, method)
    assert (answer.status, document(answer)) == (403, {"message": "Missing Authentication Token"})


def test_an_unknown_stage_is_forbidden(front: ApiFront) -> None:
    served = api(proxy("/items"))
    front.apis = {served.id: served}
    answer = front.handle(Request("GET", f"/{served.id}/prod/items", [], [], b""))
    assert answer.status == 403


def test_the_proxy_event_has_lambdas_documented_shape(front: ApiFront, runtime: StandIn) -> None:
    call(
        front,
        api(proxy("/items/{id}", "POST")),
        "/items/7",
        "POST",
        body={"a": 1},
        headers={"X-Trace": "t"},
        query=[("q", "1"), ("q", "2")],
    )
    event = runtime.events[-1]
    assert event["path"] == "/items/7"
    assert event["body"] == '{"a": 1}'
    assert event["isBase64Encoded"] is False
    assert event["queryStringParameters"] == {"q": "2"}
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
    assert event["headers"]["X-Trace"] == "t"
    context = event["requestContext"]
    assert context["resourcePath"] == "/items/{id}"
    assert context["path"] == "/v1/items/7"
    assert context["stage"] == "v1"
    assert context["httpMethod"] == "POST"
    assert context["identity"]["sourceIp"] == "127.0.0.1"


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "unexpected": 1},
        {"statusCode": "two hundred"},
        ["a list"],
    ],
    ids=["text", "body not a string", "unknown key", "status not a number", "list"],
)
def test_a_malformed_proxy_response_is_a_502(
    front: ApiFront, runtime: StandIn, payload: Any
) -> None:
    runtime.function = lambda event: InvokeResult(payload=payload)
    answer = call(front, api(proxy("/items")), "/items")
    assert (answer.status, document(answer)) == (502, {"message": "Internal server error"})


def test_a_function_error_is_a_502_without_its_trace(front: ApiFront, runtime: StandIn) -> None:
    runtime.function = lambda event: InvokeResult(
        error={"errorType": "KeyError", "errorMessage": "secret", "stackTrace": ["app.py"]}
    )
    answer = call(front, api(proxy("/items")), "/items")
    assert (answer.status, document(answer)) == (502, {"message": "Internal server error"})


def test_the_proxy_response_headers_and_binary_body_are_returned(
    front: ApiFront, runtime: StandIn
) -> None:
    runtime.function = lambda event: InvokeResult(
        payload={
            "statusCode": 201,
            "headers": {"X-One": "1", "x-amzn-RequestId": "mine"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": base64.b64encode(b"\x00\x01").decode(),
            "isBase64Encoded": True,
        }
    )
    answer = call(front, api(proxy("/items")), "/items")
    assert answer.status == 201
    assert answer.body == b"\x00\x01"
    assert ("X-One", "1") in answer.headers
    assert [v for k, v in answer.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    # API Gateway's own request id; the function's is renamed.
    assert ("x-amzn-Remapped-x-amzn-RequestId", "mine") in answer.headers
    assert [v for k, v in answer.headers if k == "x-amzn-RequestId"] != ["mine"]


def test_the_integration_timeout_is_a_504(front: ApiFront, runtime: StandIn) -> None:
    def slow(event: dict[str, Any]) -> InvokeResult:
        time.sleep(1.0)
        return InvokeResult(payload={"statusCode": 200})

    runtime.function = slow
    started = time.monotonic()
    answer = call(front, api(proxy("/items", integration={"TimeoutInMillis": 200})), "/items")
    assert (answer.status, document(answer)) == (504, {"message": "Endpoint request timed out"})
    assert time.monotonic() - started < 0.9


# --- validation -------------------------------------------------------------------------------


SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1}},
    "additionalProperties": False,
}


def validated(**options: Any) -> Api:
    return api(
        proxy(
            "/items",
            "POST",
            validate_body=True,
            validate_params=True,
            models={"application/json": SCHEMA},
            parameters={
                "method.request.header.X-Tenant": True,
                "method.request.querystring.dry": False,
            },
            **options,
        )
    )


def test_a_valid_request_passes_validation(front: ApiFront) -> None:
    answer = call(
        front, validated(), "/items", "POST", body={"name": "a"}, headers={"x-tenant": "t1"}
    )
    assert answer.status == 200


def test_a_missing_required_parameter_is_named(front: ApiFront) -> None:
    answer = call(front, validated(), "/items", "POST", body={"name": "a"})
    assert answer.status == 400
    assert document(answer) == {"message": "Missing required request parameters: [X-Tenant]"}


@pytest.mark.parametrize(
    "body", [{"name": ""}, {"other": 1}, {"name": "a", "x": 1}, b"{not json", b""]
)
def test_a_body_against_the_model_is_an_invalid_request_body(front: ApiFront, body: Any) -> None:
    answer = call(front, validated(), "/items", "POST", body=body, headers={"X-Tenant": "t"})
    assert (answer.status, document(answer)) == (400, {"message": "Invalid request body"})


# --- API keys, usage plans, throttling --------------------------------------------------------


def keyed(quota: int | None = None, rate: float | None = None, burst: float | None = None) -> Api:
    plan = UsagePlan("Plan", {("Api", "v1")}, rate=rate, burst=burst, quota=quota, keys={"key-1"})
    return api(proxy("/items", api_key_required=True), plans=[plan])


@pytest.mark.parametrize("key", [None, "key-2"])
def test_a_method_that_needs_a_key_refuses_a_missing_or_unknown_one(
    front: ApiFront, key: str | None
) -> None:
    headers = {"x-api-key": key} if key else {}
    answer = call(front, keyed(), "/items", headers=headers)
    assert (answer.status, document(answer)) == (403, {"message": "Forbidden"})


def test_a_key_of_the_stages_usage_plan_is_served_until_its_quota(front: ApiFront) -> None:
    served = keyed(quota=2)
    statuses = [
        call(front, served, "/items", headers={"x-api-key": "key-1"}).status for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    last = call(front, served, "/items", headers={"x-api-key": "key-1"})
    assert document(last) == {"message": "Limit Exceeded"}


def test_the_usage_plan_throttle_applies_per_key(front: ApiFront) -> None:
    served = keyed(rate=0.001, burst=1)
    first = call(front, served, "/items", headers={"x-api-key": "key-1"})
    second = call(front, served, "/items", headers={"x-api-key": "key-1"})
    assert (first.status, second.status) == (200, 429)
    assert document(second) == {"message": "Too Many Requests"}


def test_the_stage_throttle_applies_per_method(front: ApiFront) -> None:
    stage = Stage("v1", settings=[Setting("/items", "GET", rate=0.001, burst=2)])
    served = api(proxy("/items"), proxy("/other"), stage=stage)
    statuses = [call(front, served, "/items").status for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert call(front, served, "/other").status == 200  # a method of its own: not throttled


# --- caching ----------------------------------------------------------------------------------


def cached(ttl: int = 60, keys: tuple[str, ...] = ("method.request.path.id",)) -> Api:
    stage = Stage(
        "v1", cache_cluster=True, settings=[Setting("/items/{id}", "GET", caching=True, ttl=ttl)]
    )
    method = proxy("/items/{id}", integration={"CacheKeyParameters": list(keys)})
    return api(method, stage=stage)


def test_the_cache_is_keyed_by_its_cache_key_parameters(front: ApiFront, runtime: StandIn) -> None:
    served = cached()
    bodies = [document(call(front, served, f"/items/{i}"))["path"] for i in ("1", "2", "1")]
    assert bodies == ["/items/1", "/items/2", "/items/1"]
    assert len(runtime.events) == 2  # the second /items/1 was a cache hit


def test_what_is_not_a_cache_key_does_not_split_the_cache(
    front: ApiFront, runtime: StandIn
) -> None:
    served = cached(keys=())  # an API that forgot its key: every id shares one entry
    bodies = [document(call(front, served, f"/items/{i}"))["path"] for i in ("1", "2")]
    assert bodies == ["/items/1", "/items/1"]


def test_a_header_cache_key_is_case_insensitive(front: ApiFront, runtime: StandIn) -> None:
    served = cached(keys=("method.request.path.id", "method.request.header.X-Tenant"))
    call(front, served, "/items/1", headers={"X-Tenant": "a"})
    call(front, served, "/items/1", headers={"x-tenant": "a"})
    call(front, served, "/items/1", headers={"X-Tenant": "b"})
    assert len(runtime.events) == 2


def test_a_cache_entry_lives_its_ttl(front: ApiFront, runtime: StandIn) -> None:
    served = cached(ttl=1)
    call(front, served, "/items/1")
    call(front, served, "/items/1")
    time.sleep(1.1)
    call(front, served, "/items/1")
    assert len(runtime.events) == 2


def test_errors_are_not_cached(front: ApiFront, runtime: StandIn) -> None:
    runtime.function = lambda event: InvokeResult(payload={"statusCode": 503, "body": "busy"})
    served = cached()
    call(front, served, "/items/1")
    call(front, served, "/items/1")
    assert len(runtime.events) == 2


# --- mapping templates and MOCK ---------------------------------------------------------------


def test_a_mock_integration_renders_its_templates_and_response_override(front: ApiFront) -> None:
    method = Method(
        logical_id="Mock",
        http_method="POST",
        resource_path="/echo/{id}",
        integration={
            "Type": "MOCK",
            "RequestTemplates": {"application/json": '{"statusCode": 200}'},
            "IntegrationResponses": [
                {
                    "StatusCode": "200",
                    "ResponseTemplates": {
                        "application/json": (
                            "#set($context.responseOverride.status = 418)"
                            "#set($context.responseOverride.header.X-Id = \"$input.params('id')\")"
                            '{"stage": "$context.stage", "id": "$input.params(\'id\')"}'
                        )
                    },
                }
            ],
        },
    )
    answer = call(front, api(method), "/echo/9", "POST", body={})
    assert answer.status == 418
    assert document(answer) == {"stage": "v1", "id": "9"}
    assert ("X-Id", "9") in answer.headers


def test_passthrough_never_refuses_a_content_type_without_a_template(front: ApiFront) -> None:
    method = Method(
        logical_id="Mock",
        http_method="POST",
        resource_path="/echo",
        integration={
            "Type": "MOCK",
            "PassthroughBehavior": "NEVER",
            "RequestTemplates": {"application/json": '{"statusCode": 200}'},
            "IntegrationResponses": [{"StatusCode": "200"}],
        },
    )
    answer = call(
        front, api(method), "/echo", "POST", body=b"a=1", headers={"Content-Type": "text/plain"}
    )
    assert (answer.status, document(answer)) == (415, {"message": "Unsupported Media Type"})


def test_the_integration_response_is_selected_by_its_pattern(front: ApiFront) -> None:
    def mock(status: int) -> Method:
        return Method(
            logical_id="Mock",
            http_method="GET",
            resource_path="/m",
            integration={
                "Type": "MOCK",
                "RequestTemplates": {"application/json": f'{{"statusCode": {status}}}'},
                "IntegrationResponses": [
                    {"StatusCode": "200"},
                    {"StatusCode": "400", "SelectionPattern": "4\\d{2}"},
                    {"StatusCode": "503", "SelectionPattern": "5\\d{2}"},
                ],
            },
        )

    assert [call(front, api(mock(s)), "/m").status for s in (200, 404, 500)] == [200, 400, 503]


# --- HTTP forwarding --------------------------------------------------------------------------


@pytest.fixture
def upstream() -> Iterator[str]:
    class Echo(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.startswith("/slow"):
                time.sleep(1.0)
            data = json.dumps({"path": self.path, "xff": self.headers.get("X-Forwarded-For")})
            self.send_response(207)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Upstream", "yes")
            self.end_headers()
            self.wfile.write(data.encode())

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def forwarded(uri: str, timeout_ms: int = 2000) -> Api:
    return api(
        Method(
            logical_id="Proxy",
            http_method="GET",
            resource_path="/legacy/{proxy+}",
            integration={
                "Type": "HTTP_PROXY",
                "Uri": uri + "/{proxy}",
                "RequestParameters": {
                    "integration.request.path.proxy": "method.request.path.proxy"
                },
                "TimeoutInMillis": timeout_ms,
            },
        )
    )


def test_http_proxy_forwards_the_path_and_query_and_returns_the_answer_as_it_is(
    front: ApiFront, upstream: str
) -> None:
    answer = call(front, forwarded(upstream), "/legacy/a/b", query=[("x", "1")])
    assert answer.status == 207
    assert document(answer) == {"path": "/a/b?x=1", "xff": "127.0.0.1"}
    assert ("X-Upstream", "yes") in answer.headers


def test_http_proxy_times_out_with_a_504(front: ApiFront, upstream: str) -> None:
    answer = call(front, forwarded(upstream, timeout_ms=300), "/legacy/slow")
    assert (answer.status, document(answer)) == (504, {"message": "Endpoint request timed out"})


def test_an_unreachable_http_integration_is_a_500(front: ApiFront) -> None:
    answer = call(front, forwarded("http://127.0.0.1:9"), "/legacy/a")
    assert (answer.status, document(answer)) == (500, {"message": "Internal server error"})


# --- Cognito user pools -----------------------------------------------------------------------


@pytest.fixture
def user_pool() -> Iterator[dict[str, str]]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        idp = boto3.client("cognito-idp", region_name="us-east-1")
        pool = idp.create_user_pool(PoolName="users")["UserPool"]
        client = idp.create_user_pool_client(
            UserPoolId=pool["Id"], ClientName="app", ExplicitAuthFlows=["ADMIN_NO_SRP_AUTH"]
        )["UserPoolClient"]
        idp.admin_create_user(UserPoolId=pool["Id"], Username="ada", TemporaryPassword="P4ssw0rd!x")
        idp.admin_set_user_password(
            UserPoolId=pool["Id"], Username="ada", Password="P4ssw0rd!x", Permanent=True
        )
        tokens = idp.admin_initiate_auth(
            UserPoolId=pool["Id"],
            ClientId=client["ClientId"],
            AuthFlow="ADMIN_NO_SRP_AUTH",
            AuthParameters={"USERNAME": "ada", "PASSWORD": "P4ssw0rd!x"},
        )["AuthenticationResult"]
        yield {
            "arn": pool["Arn"],
            "id_token": tokens["IdToken"],
            "access_token": tokens["AccessToken"],
        }


def pooled(pool_arn: str) -> Api:
    return api(proxy("/me", authorization="COGNITO_USER_POOLS", user_pools=[pool_arn]))


def test_a_user_pool_id_token_is_accepted_and_its_claims_reach_the_function(
    front: ApiFront, runtime: StandIn, user_pool: dict[str, str]
) -> None:
    answer = call(
        front, pooled(user_pool["arn"]), "/me", headers={"Authorization": user_pool["id_token"]}
    )
    assert answer.status == 200
    claims = runtime.events[-1]["requestContext"]["authorizer"]["claims"]
    assert claims["cognito:username"] == "ada"


@pytest.mark.parametrize("token", [None, "garbage", "access"])
def test_a_missing_invalid_or_access_token_is_unauthorized(
    front: ApiFront, user_pool: dict[str, str], token: str | None
) -> None:
    headers = {} if token is None else {"Authorization": user_pool.get(f"{token}_token", token)}
    answer = call(front, pooled(user_pool["arn"]), "/me", headers=headers)
    assert (answer.status, document(answer)) == (401, {"message": "Unauthorized"})


# --- access logs ------------------------------------------------------------------------------


def test_each_request_writes_the_stages_access_log_format(
    front: ApiFront, runtime: StandIn
) -> None:
    stage = Stage(
        "v1",
        log_group="/access",
        log_format='{"id":"$context.requestId","status":"$context.status","path":"$context.resourcePath","user":"$context.identity.user"}',
    )
    call(front, api(proxy("/items/{id}"), stage=stage), "/items/1")
    ((group, line),) = runtime.logs
    logged = json.loads(line)
    assert group == "/access"
    assert (logged["status"], logged["path"], logged["user"]) == ("200", "/items/{id}", "-")


# --- reading a template's API -----------------------------------------------------------------


def resource(
    logical_id: str, kind: str, raw: dict[str, Any], physical: str | None = None
) -> catalog.Resource:
    return catalog.Resource("S", logical_id, kind, raw, physical, "123456789012", "us-east-1", raw)


def test_a_templates_resources_methods_stage_and_models_are_read() -> None:
    root = {"Fn::GetAtt": ["Api", "RootResourceId"]}
    found = [
        resource("Api", "AWS::ApiGateway::RestApi", {"Name": "shop"}, physical="abc123"),
        resource(
            "Items",
            "AWS::ApiGateway::Resource",
            {"ParentId": root, "PathPart": "items", "RestApiId": {"Ref": "Api"}},
        ),
        resource(
            "Item",
            "AWS::ApiGateway::Resource",
            {"ParentId": {"Ref": "Items"}, "PathPart": "{id}", "RestApiId": {"Ref": "Api"}},
        ),
        resource(
            "Model", "AWS::ApiGateway::Model", {"Schema": SCHEMA, "RestApiId": {"Ref": "Api"}}
        ),
        resource(
            "Validator",
            "AWS::ApiGateway::RequestValidator",
            {"ValidateRequestBody": True, "RestApiId": {"Ref": "Api"}},
        ),
        resource(
            "ItemPut",
            "AWS::ApiGateway::Method",
            {
                "HttpMethod": "PUT",
                "ResourceId": {"Ref": "Item"},
                "RestApiId": {"Ref": "Api"},
                "AuthorizationType": "AWS_IAM",
                "RequestValidatorId": {"Ref": "Validator"},
                "RequestModels": {"application/json": {"Ref": "Model"}},
                "Integration": {"Type": "AWS_PROXY", "Uri": LAMBDA_URI},
            },
        ),
        resource(
            "Stage",
            "AWS::ApiGateway::Stage",
            {
                "RestApiId": {"Ref": "Api"},
                "StageName": "v1",
                "CacheClusterEnabled": True,
                "MethodSettings": [
                    {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 5},
                    {
                        "ResourcePath": "/~1items~1{id}",
                        "HttpMethod": "PUT",
                        "CachingEnabled": True,
                        "CacheTtlInSeconds": 30,
                    },
                ],
                "AccessLogSetting": {
                    "DestinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:/access",
                    "Format": "$context.requestId",
                },
            },
        ),
    ]
    (read,) = _stack_apis("S", found)
    method = read.methods[("/items/{id}", "PUT")]
    assert (read.id, read.name) == ("abc123", "shop")
    assert method.authorization == "AWS_IAM"
    assert method.validate_body is True
    assert method.validate_params is False
    assert method.models == {"application/json": SCHEMA}
    stage = read.stages["v1"]
    setting = stage.setting(method)
    assert (setting.caching, setting.ttl, setting.rate) == (True, 30, 5.0)
    assert (stage.cache_cluster, stage.log_group) == (True, "/access")
    assert read.route("/items/7") == ("/items/{id}", {"id": "7"})
