"""What every REST API of the library shares: a name of its own, alarms on that name, and the
account's logging role that access-logged stages need."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template

from serverless_patterns import (
    ApiGatewayAccountLogging,
    CommandRouter,
    KinesisBatchConsumer,
    LegacyApiProxy,
    ServerlessFunction,
)
from tests.support import new_stack

INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")


def router(stack: cdk.Stack, id: str, **options: Any) -> object:
    built = CommandRouter(stack, id, **options)
    built.add_command("ping", ServerlessFunction(stack, f"{id}Ping", code=INLINE))
    return built


def proxy(stack: cdk.Stack, id: str, **options: Any) -> object:
    built = LegacyApiProxy(stack, id, legacy_base_url="https://legacy.example.com", **options)
    built.add_passthrough("/items")
    return built


def ingest(stack: cdk.Stack, id: str, **options: Any) -> object:
    consumer = KinesisBatchConsumer(
        stack, id, handler=ServerlessFunction(stack, f"{id}Fn", code=INLINE)
    )
    return consumer.add_ingest_api(**options)


BUILDERS: dict[str, tuple[Callable[..., object], str]] = {
    "CommandRouter": (router, "TestStack-{id}"),
    "LegacyApiProxy": (proxy, "TestStack-{id}"),
    "ingest API": (ingest, "TestStack-{id}-IngestApi"),
}


def api_names(template: Template) -> list[str]:
    return sorted(
        resource["Properties"]["Name"]
        for resource in template.find_resources("AWS::ApiGateway::RestApi").values()
    )


def alarm_api_names(template: Template) -> set[str]:
    names = set()
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        for dimension in alarm["Properties"].get("Dimensions", []):
            if dimension["Name"] == "ApiName":
                names.add(dimension["Value"])
    return names


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_two_apis_of_a_kind_get_names_of_their_own_and_alarms_on_them(kind: str) -> None:
    build, pattern = BUILDERS[kind]
    stack = new_stack()
    build(stack, "First")
    build(stack, "Second")
    template = Template.from_stack(stack)
    expected = sorted(pattern.format(id=id) for id in ("First", "Second"))
    assert api_names(template) == expected
    if kind != "ingest API":  # the ingest API has no API alarms of its own
        assert alarm_api_names(template) == set(expected)


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_api_name_may_be_given(kind: str) -> None:
    build, _ = BUILDERS[kind]
    stack = new_stack()
    build(stack, "Api1", api_name="orders-api")
    template = Template.from_stack(stack)
    assert api_names(template) == ["orders-api"]
    if kind != "ingest API":
        assert alarm_api_names(template) == {"orders-api"}


@pytest.mark.parametrize("kind", list(BUILDERS))
@pytest.mark.parametrize("name", ["", "x" * 1025, "two\nlines"])
def test_an_api_name_api_gateway_refuses_is_refused(kind: str, name: str) -> None:
    build, _ = BUILDERS[kind]
    with pytest.raises(ValueError, match=r"api_name=.* is not a REST API name"):
        build(new_stack(), "Api1", api_name=name)


def test_account_logging_sets_the_account_role_that_logging_stages_need() -> None:
    stack = new_stack()
    logging = ApiGatewayAccountLogging(stack, "Logging")
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::ApiGateway::Account",
        {
            "CloudWatchRoleArn": {
                "Fn::GetAtt": [stack.get_logical_id(logging.role.node.default_child), "Arn"]
            }
        },  # type: ignore[arg-type]
    )
    template.has_resource(
        "AWS::IAM::Role",
        {
            "DeletionPolicy": "Retain",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        Match.object_like(
                            {
                                "Principal": {"Service": "apigateway.amazonaws.com"},
                                "Condition": {
                                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                                },
                            }
                        )
                    ]
                },
                "ManagedPolicyArns": Match.absent(),
            },
        },
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Action": Match.array_with(
                                ["logs:CreateLogStream", "logs:PutLogEvents"]
                            ),
                            "Resource": Match.any_value(),
                        }
                    )
                ]
            }
        },
    )
