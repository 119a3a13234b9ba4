"""CommandRouter: every default, every option and every bad input."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from serverless_patterns import CommandRouter, ServerlessFunction
from tests.support import alarm_ids, health

INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")
PATH = "CommandRouter at 'TestStack/Router'"


def receiver(stack: cdk.Stack, id: str, timeout: Duration | None = None) -> ServerlessFunction:
    return ServerlessFunction(stack, id, code=INLINE, timeout=timeout or Duration.seconds(10))


def ref(stack: cdk.Stack, construct: Any) -> dict[str, str]:
    return {"Ref": stack.get_logical_id(construct.node.default_child)}


def arn(stack: cdk.Stack, construct: Any) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [stack.get_logical_id(construct.node.default_child), "Arn"]}


def error(message: str) -> str:
    return "^" + re.escape(f"{PATH}: {message}") + "$"


def router_with_commands(stack: cdk.Stack, **options: Any) -> CommandRouter:
    router = CommandRouter(stack, "Router", **options)
    router.add_command("get-user", receiver(stack, "GetV1"), version="v1")
    router.add_command("get-user", receiver(stack, "GetV2"), version="v2", default=True)
    router.add_command("send-email", receiver(stack, "Email"), asynchronous=True)
    return router


def routes(stack: cdk.Stack, router: CommandRouter) -> Any:
    function = Template.from_stack(stack).to_json()["Resources"][
        stack.get_logical_id(router.router_function.node.default_child)  # type: ignore[arg-type]
    ]
    return function["Properties"]["Environment"]["Variables"]["COMMAND_ROUTES"]


# --- defaults --------------------------------------------------------------------------------


def test_routing_table_is_rendered_into_the_router_configuration(stack: cdk.Stack) -> None:
    router = router_with_commands(stack)
    rendered = routes(stack, router)
    # Function ARNs are tokens: the JSON is a Fn::Join around their GetAtts.
    joined = "".join(
        part if isinstance(part, str) else json.dumps(part) for part in rendered["Fn::Join"][1]
    )
    assert '"default":"v2"' in joined
    assert '"send-email":{"default":"v1","versions":{"v1":{"function":' in joined
    assert '"async":true' in joined
    for function_id in ("GetV1", "GetV2", "Email"):
        assert function_id in joined


def test_router_may_invoke_exactly_the_registered_functions(stack: cdk.Stack) -> None:
    router = router_with_commands(stack)
    statements = [
        statement
        for policy in Template.from_stack(stack)
        .find_resources(
            "AWS::IAM::Policy",
            {"Properties": {"Roles": [ref(stack, router.router_function.role)]}},
        )
        .values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "lambda:InvokeFunction" in json.dumps(statement["Action"])
    ]
    assert [s["Action"] for s in statements] == ["lambda:InvokeFunction"]
    granted = statements[0]["Resource"]
    expected = [
        arn(stack, function)
        for versions in router.commands.values()
        for function in versions.values()
    ]
    assert sorted(map(json.dumps, granted)) == sorted(map(json.dumps, expected))


def test_api_routes_need_iam_auth_and_go_to_the_router(stack: cdk.Stack) -> None:
    router = router_with_commands(stack)
    template = Template.from_stack(stack)
    methods = template.find_resources("AWS::ApiGateway::Method")
    assert len(methods) == 2
    for method in methods.values():
        properties = method["Properties"]
        assert properties["AuthorizationType"] == "AWS_IAM"
        assert properties["Integration"]["Type"] == "AWS_PROXY"
        assert properties["RequestValidatorId"]
    assert {m["Properties"]["HttpMethod"] for m in methods.values()} == {"GET", "POST"}
    assert router.url is not None


def test_api_stage_has_tracing_throttling_and_access_logs(stack: cdk.Stack) -> None:
    router_with_commands(stack, throttle_rate=10, throttle_burst=20)
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"Format": Match.any_value()}),
            "MethodSettings": [
                Match.object_like({"ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20})
            ],
        },
    )


def test_async_receiver_gets_an_alarmed_failure_queue(stack: cdk.Stack) -> None:
    router = router_with_commands(stack)
    email = router.commands["send-email"]["v1"]
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": ref(stack, email),
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {
                        "Fn::GetAtt": [Match.string_like_regexp("SendEmailV1FailureQueue"), "Arn"]
                    }
                }
            },
        },
    )
    template.resource_count_is("AWS::Lambda::EventInvokeConfig", 1)
    # the router's health, API 5xx, each receiver's health, the async receiver's failure queue
    assert alarm_ids(router) == [
        *health("Router"),
        "Api5xxAlarm",
        *health("GetUserV1"),
        *health("GetUserV2"),
        "SendEmailV1FailureAlarm",
        *health("SendEmailV1"),
    ]


def test_router_timeout_defaults_to_the_api_integration_timeout(stack: cdk.Stack) -> None:
    router = router_with_commands(stack)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {"Timeout": 29, "Handler": "app.handler", "Environment": Match.any_value()},
    )
    assert router.router_function.timeout is not None


def test_exposes_commands(stack: cdk.Stack) -> None:
    router = router_with_commands(stack)
    assert set(router.commands) == {"get-user", "send-email"}
    assert set(router.commands["get-user"]) == {"v1", "v2"}


# --- options ---------------------------------------------------------------------------------


def test_without_api_only_direct_invocation(stack: cdk.Stack) -> None:
    router = router_with_commands(stack, api=False)
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    router.grant_invoke(caller)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::ApiGateway::RestApi", 0)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [ref(stack, caller)],
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Action": "lambda:InvokeFunction",
                            "Resource": Match.array_with([arn(stack, router.router_function)]),
                        }
                    )
                ]
            },
        },
    )
    assert router.url is None
    assert "Api5xxAlarm" not in alarm_ids(router)
    assert len(router.alarms) == 13


def test_cognito_authorization(stack: cdk.Stack) -> None:
    pool = cognito.UserPool(stack, "Pool")
    router_with_commands(stack, authorization="COGNITO", user_pool=pool)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::ApiGateway::Authorizer", {"Type": "COGNITO_USER_POOLS"})
    for method in template.find_resources("AWS::ApiGateway::Method").values():
        assert method["Properties"]["AuthorizationType"] == "COGNITO_USER_POOLS"


def test_unauthenticated_only_with_explicit_opt_in(stack: cdk.Stack) -> None:
    router_with_commands(stack, authorization="NONE", allow_unauthenticated=True)
    for method in Template.from_stack(stack).find_resources("AWS::ApiGateway::Method").values():
        assert method["Properties"]["AuthorizationType"] == "NONE"


def test_alarm_topic_is_notified_by_every_alarm(stack: cdk.Stack) -> None:
    topic = sns.Topic(stack, "Alarms")
    router = router_with_commands(stack, alarm_topic=topic)
    alarms = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == len(router.alarms) == 14
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [ref(stack, topic)]


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"authorization": "NONE"},
            "authorization='NONE' makes every command callable by anyone: opt in explicitly "
            "(allowed: allow_unauthenticated=True with 'NONE', or 'IAM'/'COGNITO')",
        ),
        (
            {"authorization": "COGNITO"},
            "user_pool=None is required with authorization='COGNITO' (allowed: a pool)",
        ),
        (
            {"authorization": "JWT"},
            "authorization='JWT' JWT authorizers of any issuer need an HTTP API; this construct "
            "builds a REST API (allowed: 'COGNITO' for Cognito-issued JWTs, or 'IAM')",
        ),
        ({"throttle_rate": 0}, "throttle_rate=0 is not allowed (allowed: 1..10000)"),
    ],
)
def test_bad_option_raises_value_error(
    stack: cdk.Stack, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=error(message)):
        CommandRouter(stack, "Router", **options)


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [
        (
            "GetUser",
            "v1",
            "name='GetUser' is not a command name (allowed: lowercase words joined by '-', 1..64)",
        ),
        (
            "get--user",
            "v1",
            "name='get--user' is not a command name (allowed: lowercase words "
            "joined by '-', 1..64)",
        ),
        ("get-user", "1", "version='1' is not a version (allowed: v1..v9999)"),
        ("get-user", "v0", "version='v0' is not a version (allowed: v1..v9999)"),
    ],
)
def test_bad_command_raises_value_error(
    stack: cdk.Stack, name: str, version: str, message: str
) -> None:
    router = CommandRouter(stack, "Router")
    handler = receiver(stack, "Handler")
    with pytest.raises(ValueError, match=error(message)):
        router.add_command(name, handler, version=version)


def test_duplicate_command_version_is_rejected(stack: cdk.Stack) -> None:
    router = CommandRouter(stack, "Router")
    router.add_command("get-user", receiver(stack, "A"))
    handler = receiver(stack, "B")
    with pytest.raises(
        ValueError,
        match=error("version='v1' of get-user is already registered (allowed: a new version)"),
    ):
        router.add_command("get-user", handler)


def test_two_defaults_for_one_command_are_rejected(stack: cdk.Stack) -> None:
    router = CommandRouter(stack, "Router")
    router.add_command("get-user", receiver(stack, "A"), default=True)
    handler = receiver(stack, "B")
    with pytest.raises(
        ValueError,
        match=error(
            "default=True but get-user already has the default version v1 "
            "(allowed: one default per command)"
        ),
    ):
        router.add_command("get-user", handler, version="v2", default=True)


def test_sync_receiver_slower_than_the_router_is_rejected(stack: cdk.Stack) -> None:
    router = CommandRouter(stack, "Router")
    slow = receiver(stack, "Slow", timeout=Duration.seconds(60))
    with pytest.raises(ValueError, match=r"has a timeout of 60 s, not shorter than the router's"):
        router.add_command("report", slow)


def test_slow_async_receiver_is_fine(stack: cdk.Stack) -> None:
    router = CommandRouter(stack, "Router")
    router.add_command(
        "report", receiver(stack, "Slow", timeout=Duration.minutes(5)), asynchronous=True
    )
    assert "report" in router.commands


def test_router_without_commands_fails_synthesis(stack: cdk.Stack) -> None:
    CommandRouter(stack, "Router")
    with pytest.raises(RuntimeError, match=re.escape(f"{PATH}: no command is registered")):
        Template.from_stack(stack)
