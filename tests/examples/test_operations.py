"""What an operator gets from every example: alarms that say what to do, and one dashboard
that shows every construct of the stack."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest

from examples import EXAMPLE_STACKS
from serverless_patterns.dashboards import pattern_constructs

STACKS = [name for name in EXAMPLE_STACKS if name != "ApiGatewayAccount"]


@pytest.mark.parametrize("name", STACKS)
def test_every_alarm_says_what_it_means_and_what_to_do_first(
    name: str, example_templates: dict[str, dict[str, Any]]
) -> None:
    resources = example_templates[name]["Resources"].values()
    alarms = [r["Properties"] for r in resources if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert alarms
    for alarm in alarms:
        description = alarm["AlarmDescription"]
        text = description if isinstance(description, str) else json.dumps(description)
        assert "First:" in text, text
        assert len(text) <= 1024


@pytest.mark.parametrize("name", STACKS)
def test_one_dashboard_shows_every_construct_of_the_stack(
    name: str,
    example_stacks: dict[str, cdk.Stack],
    example_templates: dict[str, dict[str, Any]],
) -> None:
    resources = example_templates[name]["Resources"].values()
    (dashboard,) = [r for r in resources if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    constructs = pattern_constructs(example_stacks[name])
    assert constructs
    for construct in constructs:
        assert f"`{construct.node.path}`" in body
