"""cdk-nag (AwsSolutions + Serverless packs) and cfn-lint (+ serverless rules) over every example.

Per-resource cfn-lint acknowledgements live in each resource's ``Metadata`` (written by
``serverless_patterns.nag.acknowledge_cfn_lint``, with a reason); the global ignore list below
holds only known false positives of CDK output.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks, NagPack, ServerlessChecks
from cfnlint.api import ManualArgs, lint

from examples import EXAMPLE_STACKS, build_examples
from tests.support import new_app

#: cfn-lint warnings that are known false positives for CDK output. Each needs a reason.
CFN_LINT_IGNORED = {
    # CDK writes DependsOn for dependencies that are already implied by Ref/GetAtt.
    "W3005": "redundant DependsOn that CDK emits for implied dependencies",
}


@pytest.fixture(scope="module")
def nag_app() -> cdk.App:
    """The example stacks in an app of their own, so the packs see exactly what users deploy."""
    app = new_app()
    build_examples(app)
    return app


def findings(pack: NagPack, app: cdk.App) -> list[str]:
    report = pack.validate_scope(app)
    return [
        f"{violation.rule_name} at {resource.construct_path}: {violation.description}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]


@pytest.mark.parametrize(
    "pack", [AwsSolutionsChecks, ServerlessChecks], ids=["AwsSolutions", "Serverless"]
)
def test_examples_have_no_unacknowledged_nag_findings(
    pack: type[NagPack], nag_app: cdk.App
) -> None:
    assert findings(pack(), nag_app) == []


def test_nag_packs_do_report_findings_on_an_unsafe_stack() -> None:
    """Guards the test above: if the packs reported nothing at all, it would pass vacuously."""
    app = new_app()
    stack = cdk.Stack(app, "Unsafe")
    cdk.aws_sqs.Queue(stack, "Plain", encryption=cdk.aws_sqs.QueueEncryption.UNENCRYPTED)
    reported = findings(ServerlessChecks(), app) + findings(AwsSolutionsChecks(), app)
    assert any("AwsSolutions-SQS3" in line for line in reported)
    assert any("AwsSolutions-SQS4" in line for line in reported)


def cfn_lint(template: dict[str, Any]) -> list[str]:
    matches = lint(
        json.dumps(template),
        config=ManualArgs(
            regions=["us-east-1"],
            ignore_checks=sorted(CFN_LINT_IGNORED),
            append_rules=["cfn_lint_serverless.rules"],
        ),
    )
    return [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches]


@pytest.mark.parametrize("name", list(EXAMPLE_STACKS))
def test_example_template_passes_cfn_lint(
    name: str, example_templates: dict[str, dict[str, Any]]
) -> None:
    assert cfn_lint(example_templates[name]) == []


def test_cfn_lint_does_report_errors() -> None:
    """Guards the test above against a linter that silently checks nothing."""
    broken = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Bogus": 1}}}}
    assert any(line.startswith("E3002") for line in cfn_lint(broken))


def test_cfn_lint_runs_the_serverless_rules() -> None:
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": True}}
    assert any(line.startswith("ES6000") for line in cfn_lint({"Resources": {"Q": queue}}))
