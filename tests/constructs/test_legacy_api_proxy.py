"""LegacyApiProxy: every default, every option and every bad input."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from serverless_patterns import LegacyApiProxy, ServerlessFunction
from tests.support import alarm_ids, health

LEGACY = "https://legacy.example.com/api"
PATH = "LegacyApiProxy at 'TestStack/Proxy'"


def error(message: str) -> str:
    return "^" + re.escape(f"{PATH}: {message}") + "$"


def ref(stack: cdk.Stack, construct: Any) -> dict[str, str]:
    return {"Ref": stack.get_logical_id(construct.node.default_child)}


def methods(stack: cdk.Stack) -> dict[str, dict[str, Any]]:
    return Template.from_stack(stack).find_resources("AWS::ApiGateway::Method")


def proxy_with_routes(stack: cdk.Stack, **options: Any) -> LegacyApiProxy:
    proxy = LegacyApiProxy(stack, "Proxy", legacy_base_url=LEGACY, **options)
    proxy.add_translated_route(
        "/items/{id}",
        "GET",
        legacy_path="/inventory/item/{id}",
        response_mapping={"sku": "item.sku"},
    )
    proxy.add_passthrough("/legacy/{proxy+}", legacy_path="/{proxy+}")
    return proxy


# --- defaults --------------------------------------------------------------------------------


def test_passthrough_is_an_http_proxy_integration_with_mapped_path(stack: cdk.Stack) -> None:
    proxy_with_routes(stack)
    passthrough = [
        m["Properties"]
        for m in methods(stack).values()
        if m["Properties"]["Integration"]["Type"] == "HTTP_PROXY"
    ]
    assert len(passthrough) == 1
    integration = passthrough[0]["Integration"]
    assert integration["Uri"] == "https://legacy.example.com/api/{proxy}"
    assert integration["IntegrationHttpMethod"] == "GET"
    assert integration["TimeoutInMillis"] == 29000
    assert integration["RequestParameters"] == {
        "integration.request.path.proxy": "method.request.path.proxy"
    }
    assert passthrough[0]["RequestParameters"] == {"method.request.path.proxy": True}
    assert passthrough[0]["AuthorizationType"] == "AWS_IAM"


def test_translated_route_goes_to_the_translator_with_its_table(stack: cdk.Stack) -> None:
    proxy = proxy_with_routes(stack)
    assert proxy.translator_function is not None
    translated = [
        m["Properties"]
        for m in methods(stack).values()
        if m["Properties"]["Integration"]["Type"] == "AWS_PROXY"
    ]
    assert len(translated) == 1
    assert translated[0]["RequestParameters"] == {"method.request.path.id": True}
    assert translated[0]["RequestValidatorId"]
    function = Template.from_stack(stack).to_json()["Resources"][
        stack.get_logical_id(proxy.translator_function.node.default_child)  # type: ignore[arg-type]
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["LEGACY_BASE_URL"] == LEGACY
    assert variables["LEGACY_TIMEOUT"] == "27"
    assert function["Properties"]["Timeout"] == 30
    assert json.loads(variables["TRANSLATOR_ROUTES"]) == {
        "GET /items/{id}": {
            "legacy_path": "/inventory/item/{id}",
            "legacy_method": "GET",
            "response_format": "xml",
            "response_mapping": {"sku": "item.sku"},
        }
    }


def test_stage_has_tracing_throttling_access_logs_and_no_cache(stack: cdk.Stack) -> None:
    proxy_with_routes(stack)
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"Format": Match.any_value()}),
            "CacheClusterEnabled": Match.absent(),
            "MethodSettings": [
                Match.object_like({"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100})
            ],
        },
    )


def test_alarms_5xx_rate_latency_and_translator_errors(stack: cdk.Stack) -> None:
    proxy = proxy_with_routes(stack)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "5XXError", "Statistic": "Average", "Threshold": 0.05},
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "Latency", "ExtendedStatistic": "p99", "Threshold": 23200},
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Metrics": Match.array_with(
                [Match.object_like({"Expression": "100 * errors / MAX([errors, invocations])"})]
            ),
            "Threshold": 5,
        },
    )
    assert alarm_ids(proxy) == ["Api5xxRateAlarm", "ApiLatencyAlarm", *health("Translator")]
    assert [r.kind for r in proxy.routes] == ["translated", "passthrough"]


# --- options ---------------------------------------------------------------------------------


def test_cache_is_per_route_and_encrypted(stack: cdk.Stack) -> None:
    proxy = LegacyApiProxy(stack, "Proxy", legacy_base_url=LEGACY)
    proxy.add_translated_route(
        "/items/{id}", "GET", legacy_path="/item/{id}", cache_ttl=Duration.minutes(5)
    )
    proxy.add_passthrough("/legacy/{proxy+}", legacy_path="/{proxy+}")
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "CacheClusterEnabled": True,
            "CacheClusterSize": "0.5",
            "MethodSettings": [
                Match.object_like(
                    {"HttpMethod": "*", "ResourcePath": "/*", "CachingEnabled": Match.absent()}
                ),
                Match.object_like(
                    {
                        "HttpMethod": "GET",
                        "ResourcePath": "/~1items~1{id}",
                        "CachingEnabled": True,
                        "CacheTtlInSeconds": 300,
                        "CacheDataEncrypted": True,
                    }
                ),
            ],
        },
    )


def test_api_key_authorization_with_usage_plan(stack: cdk.Stack) -> None:
    proxy = proxy_with_routes(
        stack,
        authorization="API_KEY",
        usage_plan=apigateway.UsagePlanProps(
            throttle=apigateway.ThrottleSettings(rate_limit=5, burst_limit=10),
            quota=apigateway.QuotaSettings(limit=1000, period=apigateway.Period.DAY),
        ),
    )
    template = Template.from_stack(stack)
    for method in methods(stack).values():
        assert method["Properties"]["ApiKeyRequired"] is True
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "Throttle": {"RateLimit": 5, "BurstLimit": 10},
            "Quota": {"Limit": 1000, "Period": "DAY"},
        },
    )
    template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    assert proxy.api_key is not None
    assert proxy.usage_plan is not None


def test_cognito_authorization(stack: cdk.Stack) -> None:
    proxy_with_routes(stack, authorization="COGNITO", user_pool=cognito.UserPool(stack, "Pool"))
    for method in methods(stack).values():
        assert method["Properties"]["AuthorizationType"] == "COGNITO_USER_POOLS"


def test_custom_handler_replaces_the_translator(stack: cdk.Stack) -> None:
    proxy = LegacyApiProxy(stack, "Proxy", legacy_base_url=LEGACY)
    custom = ServerlessFunction(
        stack, "Custom", code=lambda_.Code.from_inline("def handler(e, c):\n    return {}\n")
    )
    proxy.add_translated_route("/orders", "POST", legacy_path="/orders.cgi", handler=custom)
    assert proxy.translator_function is None
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApiGateway::Method",
        {"Integration": Match.object_like({"Type": "AWS_PROXY"})},
    )


def test_alarm_topic_is_notified(stack: cdk.Stack) -> None:
    topic = sns.Topic(stack, "Alarms")
    proxy = proxy_with_routes(stack, alarm_topic=topic)
    for alarm in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [ref(stack, topic)]
    assert len(proxy.alarms) == 5


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"legacy_base_url": "ftp://legacy.example.com"},
            "legacy_base_url='ftp://legacy.example.com' is not an http(s) URL "
            "(allowed: http(s)://host/...)",
        ),
        (
            {"legacy_base_url": "https://legacy.example.com/api?key=1"},
            "legacy_base_url='https://legacy.example.com/api?key=1' has a query string or "
            "fragment (allowed: a base URL; routes add paths and pass queries through)",
        ),
        (
            {"integration_timeout": Duration.seconds(30)},
            "integration_timeout=Duration.seconds(30) is not allowed "
            "(allowed: 50 ms..29 seconds (API Gateway's limits))",
        ),
        (
            {"integration_timeout": Duration.millis(10)},
            "integration_timeout=Duration.seconds(0.01) is not allowed "
            "(allowed: 50 ms..29 seconds (API Gateway's limits))",
        ),
        (
            {"cache_cluster_size": "1"},
            "cache_cluster_size='1' is not a cache size (allowed: 0.5, 1.6, 6.1, 13.5, 28.4, "
            "58.2, 118, 237)",
        ),
        (
            {"authorization": "API_KEY"},
            "usage_plan=None is required with authorization='API_KEY' (a key without a plan has "
            "no limits) (allowed: apigateway.UsagePlanProps(throttle=..., quota=...))",
        ),
        (
            {"authorization": "NONE"},
            "authorization='NONE' exposes the legacy service to anyone: opt in explicitly "
            "(allowed: allow_unauthenticated=True with 'NONE', or 'IAM'/'COGNITO'/'API_KEY')",
        ),
    ],
)
def test_bad_option_raises_value_error(
    stack: cdk.Stack, options: dict[str, Any], message: str
) -> None:
    options.setdefault("legacy_base_url", LEGACY)
    with pytest.raises(ValueError, match=error(message)):
        LegacyApiProxy(stack, "Proxy", **options)


@pytest.mark.parametrize(
    "path", ["items", "/items/", "/items/{id", "/{proxy+}/more", "/it ems", "/items//x"]
)
def test_invalid_route_path_is_rejected(stack: cdk.Stack, path: str) -> None:
    proxy = LegacyApiProxy(stack, "Proxy", legacy_base_url=LEGACY)
    with pytest.raises(
        ValueError,
        match=error(
            f"path={path!r} is not a valid API Gateway path "
            "(allowed: /segment/{param}/..., a trailing {proxy+})"
        ),
    ):
        proxy.add_passthrough(path, legacy_path="/x")


def test_duplicate_route_is_rejected(stack: cdk.Stack) -> None:
    proxy = LegacyApiProxy(stack, "Proxy", legacy_base_url=LEGACY)
    proxy.add_passthrough("/items")
    with pytest.raises(
        ValueError, match=error("path='/items' already has a GET route (allowed: one route)")
    ):
        proxy.add_translated_route("/items", "GET", legacy_path="/inventory")


def test_legacy_path_with_unknown_parameter_is_rejected(stack: cdk.Stack) -> None:
    proxy = LegacyApiProxy(stack, "Proxy", legacy_base_url=LEGACY)
    with pytest.raises(
        ValueError,
        match=error(
            "legacy_path='/item/{sku}' uses parameters the route does not have: sku "
            "(allowed: placeholders taken from the route path)"
        ),
    ):
        proxy.add_translated_route("/items/{id}", "GET", legacy_path="/item/{sku}")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"legacy_method": "HEAD"},
            "legacy_method='HEAD' is not supported (allowed: GET, POST, PUT, PATCH, DELETE)",
        ),
        (
            {"request_mapping": {"qty": "quantity"}},
            "request_mapping={'qty': 'quantity'} needs a body, but legacy_method='GET' sends "
            "none (allowed: legacy_method='POST', 'PUT' or 'PATCH')",
        ),
        (
            {"legacy_path": "/inventory?all=1"},
            "legacy_path='/inventory?all=1' has a query, a fragment or {proxy+} (queries are "
            "passed through) (allowed: a path with {name} placeholders)",
        ),
    ],
)
def test_bad_translated_route_is_rejected(
    stack: cdk.Stack, options: dict[str, Any], message: str
) -> None:
    proxy = LegacyApiProxy(stack, "Proxy", legacy_base_url=LEGACY)
    options.setdefault("legacy_path", "/inventory")
    with pytest.raises(ValueError, match=error(message)):
        proxy.add_translated_route("/items", "GET", **options)


def test_credentials_in_the_legacy_url_are_rejected(stack: cdk.Stack) -> None:
    with pytest.raises(ValueError, match=r"carries credentials"):
        LegacyApiProxy(stack, "Proxy", legacy_base_url="https://user:pw@legacy.example.com")


def test_too_many_translated_routes_fail_synthesis(stack: cdk.Stack) -> None:
    proxy = LegacyApiProxy(stack, "Proxy", legacy_base_url=LEGACY)
    for index in range(40):
        proxy.add_translated_route(
            f"/items{index}",
            "GET",
            legacy_path=f"/inventory/very/long/legacy/path/number/{index}",
            response_mapping={"name": "item.name", "sku": "item.sku"},
        )
    with pytest.raises(RuntimeError, match=r"bytes of configuration do not fit"):
        Template.from_stack(stack)


def test_proxy_without_routes_fails_synthesis(stack: cdk.Stack) -> None:
    LegacyApiProxy(stack, "Proxy", legacy_base_url=LEGACY)
    with pytest.raises(RuntimeError, match=re.escape(f"{PATH}: no route is added")):
        Template.from_stack(stack)


# --- caching, executed: the cache key API Gateway computes for each request ------------------


@pytest.fixture
def cached(stack: cdk.Stack) -> dict[str, Any]:
    """A proxy whose read routes are cached; the stage and methods of its template."""
    proxy = LegacyApiProxy(stack, "Proxy", legacy_base_url=LEGACY)
    proxy.add_translated_route(
        "/items/{id}", "GET", legacy_path="/item/{id}", cache_ttl=Duration.seconds(60)
    )
    proxy.add_translated_route(
        "/items",
        "GET",
        legacy_path="/items",
        cache_ttl=Duration.seconds(30),
        cache_query_parameters=["color", "page"],
    )
    proxy.add_translated_route("/items/{id}", "PUT", legacy_path="/item/{id}", legacy_method="POST")
    proxy.add_passthrough(
        "/legacy/{proxy+}", legacy_path="/{proxy+}", cache_ttl=Duration.seconds(10)
    )
    template = Template.from_stack(stack).to_json()["Resources"]
    paths = _resource_paths(template)
    methods = {
        (
            resource["Properties"]["HttpMethod"],
            paths[resource["Properties"]["ResourceId"]["Ref"]],
        ): resource["Properties"]
        for resource in template.values()
        if resource["Type"] == "AWS::ApiGateway::Method"
    }
    (stage,) = [r["Properties"] for r in template.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    return {"stage": stage, "methods": methods}


def _resource_paths(template: dict[str, Any]) -> dict[str, str]:
    parents = {
        name: (r["Properties"]["ParentId"], r["Properties"]["PathPart"])
        for name, r in template.items()
        if r["Type"] == "AWS::ApiGateway::Resource"
    }

    def path(name: str) -> str:
        parent, part = parents[name]
        above = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{above}/{part}"

    return {name: path(name) for name in parents}


def key(cached: dict[str, Any], method: str, resource: str, **request: Any) -> Any:
    from tools.api_cache import Request, cache_key

    return cache_key(
        cached["stage"], cached["methods"][(method, resource)], Request(method, resource, **request)
    )


def test_each_item_has_its_own_cache_entry(cached: dict[str, Any]) -> None:
    first = key(cached, "GET", "/items/{id}", path={"id": "1"})
    second = key(cached, "GET", "/items/{id}", path={"id": "2"})
    assert first is not None
    assert first != second
    assert first == key(cached, "GET", "/items/{id}", path={"id": "1"})


def test_each_greedy_path_has_its_own_cache_entry(cached: dict[str, Any]) -> None:
    a = key(cached, "GET", "/legacy/{proxy+}", path={"proxy": "a/b"})
    b = key(cached, "GET", "/legacy/{proxy+}", path={"proxy": "a/c"})
    assert a is not None
    assert a != b


def test_listed_query_parameters_key_the_cache_and_others_do_not(cached: dict[str, Any]) -> None:
    red = key(cached, "GET", "/items", querystring={"color": "red"})
    blue = key(cached, "GET", "/items", querystring={"color": "blue"})
    page2 = key(cached, "GET", "/items", querystring={"color": "red", "page": "2"})
    assert len({red, blue, page2}) == 3
    # What is not listed is not in the key (the README says: list every one that matters).
    assert key(cached, "GET", "/items", querystring={"color": "red", "utm": "x"}) == red


def test_routes_that_change_state_and_routes_not_opted_in_are_not_cached(
    cached: dict[str, Any],
) -> None:
    assert key(cached, "PUT", "/items/{id}", path={"id": "1"}) is None


def test_each_cached_route_keeps_its_own_ttl(cached: dict[str, Any]) -> None:
    from tools.api_cache import Request, cache_ttl

    stage = cached["stage"]
    assert cache_ttl(stage, Request("GET", "/items/{id}")) == 60
    assert cache_ttl(stage, Request("GET", "/items")) == 30
    assert cache_ttl(stage, Request("GET", "/legacy/{proxy+}")) == 10
    assert cache_ttl(stage, Request("PUT", "/items/{id}")) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"method": "POST", "cache_ttl": Duration.seconds(60)},
            "cache_ttl=Duration.seconds(60) would cache POST, which changes state: a cached "
            "answer would skip the legacy call (allowed: cache_ttl on GET or HEAD routes only)",
        ),
        (
            {"cache_query_parameters": ["color"]},
            "cache_query_parameters=['color'] only key a cached route (allowed: "
            "cache_ttl=Duration.seconds(...) too, or leave it out)",
        ),
        (
            {"cache_ttl": Duration.seconds(3601)},
            "cache_ttl=Duration.seconds(3601) is not allowed (allowed: 1..3600 seconds)",
        ),
    ],
)
def test_caching_that_cannot_be_right_is_refused(
    stack: cdk.Stack, options: dict[str, Any], message: str
) -> None:
    proxy = LegacyApiProxy(stack, "Proxy", legacy_base_url=LEGACY)
    method = options.pop("method", "GET")
    with pytest.raises(ValueError, match=error(message)):
        proxy.add_translated_route(
            "/items",
            method,
            legacy_path="/items",
            legacy_method="POST" if method == "POST" else "GET",
            **options,
        )


def test_the_cache_model_sees_the_old_shared_entry() -> None:
    """The configuration round 1 wrote (caching on /*/*, no cache key parameters) gives
    GET /items/1 and GET /items/2 one entry: the defect the tests above guard against."""
    from tools.api_cache import Request, cache_key

    stage = {
        "CacheClusterEnabled": True,
        "MethodSettings": [{"HttpMethod": "*", "ResourcePath": "/*", "CachingEnabled": True}],
    }
    method: dict[str, Any] = {"Integration": {}}
    one = cache_key(stage, method, Request("GET", "/items/{id}", path={"id": "1"}))
    two = cache_key(stage, method, Request("GET", "/items/{id}", path={"id": "2"}))
    assert one is not None
    assert one == two


# --- a private legacy service --------------------------------------------------------------------


def network(stack: cdk.Stack) -> Any:
    from aws_cdk import aws_ec2 as ec2

    return ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
            ec2.SubnetConfiguration(name="legacy", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ],
    )


def test_passthrough_routes_reach_a_private_service_over_a_vpc_link(stack: cdk.Stack) -> None:
    from aws_cdk import aws_elasticloadbalancingv2 as elbv2

    vpc = network(stack)
    nlb = elbv2.NetworkLoadBalancer(stack, "Nlb", vpc=vpc, internet_facing=False)
    proxy = LegacyApiProxy(
        stack,
        "Proxy",
        legacy_base_url="http://inventory.internal:8080",
        network_load_balancer=nlb,
    )
    proxy.add_passthrough("/stock/{sku}")
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::ApiGateway::VpcLink", 1)
    template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "Integration": Match.object_like(
                {
                    "ConnectionType": "VPC_LINK",
                    "ConnectionId": {"Ref": Match.string_like_regexp("ProxyVpcLink")},
                    "Uri": "http://inventory.internal:8080/stock/{sku}",
                }
            )
        },
    )
    assert proxy.vpc_link is not None


def test_the_translator_runs_in_the_vpc_it_is_given(stack: cdk.Stack) -> None:
    from aws_cdk import aws_ec2 as ec2

    vpc = network(stack)
    proxy = LegacyApiProxy(
        stack,
        "Proxy",
        legacy_base_url="https://inventory.internal",
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
    )
    proxy.add_translated_route("/items/{id}", "GET", legacy_path="/item/{id}")
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like({"LEGACY_BASE_URL": "https://inventory.internal"})
            },
            "VpcConfig": {
                "SubnetIds": Match.any_value(),
                "SecurityGroupIds": [Match.any_value()],
            },
        },
    )


def test_a_translator_outside_the_vpc_cannot_reach_a_service_behind_a_vpc_link(
    stack: cdk.Stack,
) -> None:
    from aws_cdk import aws_apigateway as apigw

    link = apigw.VpcLink.from_vpc_link_id(stack, "Link", "abc123")
    proxy = LegacyApiProxy(
        stack, "Proxy", legacy_base_url="http://inventory.internal", vpc_link=link
    )
    with pytest.raises(ValueError, match=r"handler=None would be the translator.*vpc="):
        proxy.add_translated_route("/items/{id}", "GET", legacy_path="/item/{id}")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            lambda s: {
                "vpc": network(s),
                "vpc_subnets": cdk.aws_ec2.SubnetSelection(
                    subnet_type=cdk.aws_ec2.SubnetType.PUBLIC
                ),
            },
            "vpc_subnets='PUBLIC' selects public subnets: a function there gets no public "
            "address and reaches neither the internet nor AWS's endpoints (allowed: private "
            "(with NAT) or isolated subnets)",
        ),
        (
            lambda s: {"security_groups": []},
            "security_groups=[] needs vpc= (allowed: vpc= too, or leave it out)",
        ),
    ],
)
def test_networking_that_cannot_work_is_refused(
    stack: cdk.Stack, options: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=error(message)):
        LegacyApiProxy(stack, "Proxy", legacy_base_url=LEGACY, **options(stack))
