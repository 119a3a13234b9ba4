"""Acknowledgements: written in one call per construct, understood by cdk-nag and cfn-lint."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import Validations
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from serverless_patterns.nag import (
    acknowledge,
    acknowledge_all,
    acknowledge_cfn_lint,
    acknowledge_created,
)
from serverless_patterns.testing.compliance import lint_template
from serverless_patterns.testing.snapshots import template_of

_REDRIVE = "Serverless-SQSRedrivePolicy"
_SQS3 = "AwsSolutions-SQS3"


def _nag_rules(scope: cdk.Stack) -> set[str]:
    return {
        str(violation.rule_name)
        for pack in (AwsSolutionsChecks(), ServerlessChecks())
        for violation in pack.validate_scope(scope).violations
    }


def _acknowledged(construct: Any) -> dict[str, str]:
    entries = [
        entry.data
        for entry in construct.node.metadata
        if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    ]
    return {key.split("::", 1)[-1]: reason for data in entries for key, reason in data.items()}


def _cfn_lint_metadata(stack: cdk.Stack, queue: sqs.Queue) -> Any:
    logical_id = stack.resolve(stack.get_logical_id(queue.node.default_child))  # type: ignore[arg-type]
    return template_of(stack)["Resources"][logical_id]["Metadata"]["cfn-lint"]


def test_acknowledge_all_records_each_cdk_nag_rule_with_its_reason(stack: cdk.Stack) -> None:
    queue = sqs.Queue(stack, "Queue")
    acknowledge_all(queue, cdk_nag={_REDRIVE: "a DLQ itself", _SQS3: "a DLQ itself too"})
    assert _acknowledged(queue) == {_REDRIVE: "a DLQ itself", _SQS3: "a DLQ itself too"}


def test_cdk_nag_reports_no_finding_acknowledged_in_one_call(stack: cdk.Stack) -> None:
    queue = sqs.Queue(stack, "Queue", enforce_ssl=True)
    assert {_REDRIVE, _SQS3} <= _nag_rules(stack)
    acknowledge_all(queue, cdk_nag={_REDRIVE: "a DLQ itself", _SQS3: "a DLQ itself"})
    assert not {_REDRIVE, _SQS3} & _nag_rules(stack)


def test_cfn_lint_ignores_are_merged_into_what_the_resource_carries(stack: cdk.Stack) -> None:
    queue = sqs.Queue(stack, "Queue")
    resource = queue.node.default_child
    assert isinstance(resource, cdk.CfnResource)
    resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W9999"]}, "mine": True})
    acknowledge_cfn_lint(queue, "ES6000", "first")
    acknowledge_all(queue, cfn_lint={"E3000": "second", "ES1001": "third"})
    assert _cfn_lint_metadata(stack, queue) == {
        "config": {"ignore_checks": ["E3000", "ES1001", "ES6000", "W9999"]},
        "mine": True,
        "reasons": {"ES6000": "first", "E3000": "second", "ES1001": "third"},
    }


def test_acknowledge_created_writes_what_acknowledge_writes(stack: cdk.Stack) -> None:
    one, other = sqs.Queue(stack, "One"), sqs.Queue(stack, "Other")
    acknowledge(one, _REDRIVE, "why")
    acknowledge_cfn_lint(one, "ES6000", "why")
    acknowledge_created(other, cdk_nag={_REDRIVE: "why"}, cfn_lint={"ES6000": "why"})
    assert _acknowledged(one) == _acknowledged(other)
    assert _cfn_lint_metadata(stack, one) == _cfn_lint_metadata(stack, other)


def test_cfn_lint_honours_the_ignore_on_that_resource_only(stack: cdk.Stack) -> None:
    acknowledged, plain = sqs.Queue(stack, "Acknowledged"), sqs.Queue(stack, "Plain")
    acknowledge_created(acknowledged, cfn_lint={"ES6000": "a DLQ itself"})
    paths = {f.path for f in lint_template(template_of(stack)) if f.rule == "ES6000"}
    logical_ids = {
        str(stack.resolve(stack.get_logical_id(q.node.default_child)))  # type: ignore[arg-type]
        for q in (acknowledged, plain)
    }
    flagged = {lid for lid in logical_ids if any(lid in path for path in paths)}
    assert flagged == {str(stack.resolve(stack.get_logical_id(plain.node.default_child)))}  # type: ignore[arg-type]
