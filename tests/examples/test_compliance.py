"""cdk-nag (AwsSolutions + Serverless packs) and cfn-lint (+ serverless rules) over every example,
through the testing kit's one call (serverless_patterns.testing.compliance).

Per-resource acknowledgements live on the resources (``serverless_patterns.nag``, with a
reason); the kit's global cfn-lint ignore list holds only false positives of CDK's own output.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from examples import EXAMPLE_STACKS, build_examples
from serverless_patterns.testing import compliance_findings
from serverless_patterns.testing.compliance import CFN_LINT_IGNORED, lint_template
from tests.support import new_app


@pytest.fixture(scope="module")
def nag_app() -> cdk.App:
    """The example stacks in an app of their own, so the packs see exactly what users deploy."""
    app = new_app()
    build_examples(app)
    return app


@pytest.mark.parametrize("pack", ["AwsSolutions", "Serverless"])
def test_examples_have_no_unacknowledged_nag_findings(pack: str, nag_app: cdk.App) -> None:
    assert [str(f) for f in compliance_findings(nag_app, packs=[pack], cfn_lint=False)] == []


def test_nag_packs_do_report_findings_on_an_unsafe_stack() -> None:
    """Guards the test above: if the packs reported nothing at all, it would pass vacuously."""
    app = new_app()
    stack = cdk.Stack(app, "Unsafe")
    cdk.aws_sqs.Queue(stack, "Plain", encryption=cdk.aws_sqs.QueueEncryption.UNENCRYPTED)
    reported = {f.rule for f in compliance_findings(app, cfn_lint=False)}
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= reported


@pytest.mark.parametrize("name", list(EXAMPLE_STACKS))
def test_example_template_passes_cfn_lint(name: str, nag_app: cdk.App) -> None:
    stack = nag_app.node.find_child(name)
    assert [str(f) for f in compliance_findings(stack, packs=[])] == []


def _lint(resources: dict[str, object]) -> set[str]:
    return {f.rule for f in lint_template({"Resources": resources})}


def test_cfn_lint_does_report_errors() -> None:
    """Guards the test above against a linter that silently checks nothing."""
    assert "E3002" in _lint({"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Bogus": 1}}})


def test_cfn_lint_runs_the_serverless_rules() -> None:
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": True}}
    assert "ES6000" in _lint({"Q": queue})


def test_the_global_ignore_list_has_only_cdks_false_positives_with_reasons() -> None:
    assert CFN_LINT_IGNORED == {
        "W3005": "redundant DependsOn that CDK emits for implied dependencies"
    }


def test_an_unreasoned_ignore_or_unknown_pack_is_refused(nag_app: cdk.App) -> None:
    with pytest.raises(ValueError, match="no reason"):
        compliance_findings(nag_app, ignore_cfn_lint={"W1234": " "})
    with pytest.raises(ValueError, match="unknown packs"):
        compliance_findings(nag_app, packs=["HIPAA"])
