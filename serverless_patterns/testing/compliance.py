"""cdk-nag (AwsSolutions and Serverless packs) and cfn-lint (with the serverless rules) in one
call, honouring the library's acknowledgements and the user's own.

Acknowledge a finding where it is, with a reason: ``serverless_patterns.nag.acknowledge`` (cdk-nag)
and ``acknowledge_cfn_lint`` (cfn-lint) on the narrowest construct. What the library
acknowledges on the resources it creates is honoured the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from constructs import IConstruct

from serverless_patterns.testing.snapshots import template_of

#: cfn-lint findings that are false positives of CDK's own output (each with its reason).
CFN_LINT_IGNORED = {
    "W3005": "redundant DependsOn that CDK emits for implied dependencies",
}
PACKS = ("AwsSolutions", "Serverless")


@dataclass(frozen=True)
class Finding:
    tool: str  # "cdk-nag" or "cfn-lint"
    rule: str
    path: str  # the construct path (cdk-nag) or stack and template path (cfn-lint)
    message: str

    def __str__(self) -> str:
        return f"{self.tool} {self.rule} at {self.path}: {self.message}"


def compliance_findings(
    scope: IConstruct,
    *,
    packs: Sequence[str] = PACKS,
    cfn_lint: bool = True,
    ignore_cfn_lint: Mapping[str, str] | None = None,
    regions: Sequence[str] = ("us-east-1",),
) -> list[Finding]:
    """The unacknowledged findings of cdk-nag's ``packs`` and of cfn-lint over every stack in
    ``scope`` (an App, a Stage or a Stack).

    Args:
        scope: what to check.
        packs: cdk-nag packs by name: ``"AwsSolutions"``, ``"Serverless"``. Default both.
        cfn_lint: also run cfn-lint with the serverless rules. Default True.
        ignore_cfn_lint: cfn-lint rules to ignore everywhere, rule id -> reason (prefer
            ``acknowledge_cfn_lint`` on the resource). Default none; CDK's own false positives
            (:data:`CFN_LINT_IGNORED`) are always ignored.
        regions: regions cfn-lint checks against. Default us-east-1.
    """
    ignored = dict(ignore_cfn_lint or {})
    empty = sorted(rule for rule, reason in ignored.items() if not str(reason).strip())
    if empty:
        raise ValueError(f"compliance_findings: ignore_cfn_lint gives no reason for {empty}")
    known = {"AwsSolutions", "Serverless"}
    unknown = sorted(set(packs) - known)
    if unknown:
        raise ValueError(f"compliance_findings: unknown packs {unknown}; known: {sorted(known)}")
    findings = [finding for name in packs for finding in _nag(name, scope)]
    if cfn_lint:
        stacks = [c for c in scope.node.find_all() if isinstance(c, cdk.Stack)]
        for stack in stacks:
            findings += _lint(stack, {**CFN_LINT_IGNORED, **ignored}, regions)
    return findings


def assert_compliant(scope: IConstruct, **options: object) -> None:
    """Fail (AssertionError listing every finding) unless ``scope`` has no unacknowledged
    finding; takes the options of :func:`compliance_findings`."""
    findings = compliance_findings(scope, **options)  # type: ignore[arg-type]
    assert not findings, f"{len(findings)} compliance findings:\n" + "\n".join(
        f"  {f}" for f in findings
    )


def _nag(name: str, scope: IConstruct) -> list[Finding]:
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    pack = AwsSolutionsChecks() if name == "AwsSolutions" else ServerlessChecks()
    report = pack.validate_scope(scope)
    return [
        Finding(
            "cdk-nag",
            str(violation.rule_name),
            str(resource.construct_path),
            str(violation.description),
        )
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def _lint(stack: cdk.Stack, ignored: Mapping[str, str], regions: Sequence[str]) -> list[Finding]:
    return lint_template(template_of(stack), name=stack.stack_name, ignore=ignored, regions=regions)


def lint_template(
    template: Mapping[str, object],
    *,
    name: str = "template",
    ignore: Mapping[str, str] | None = None,
    regions: Sequence[str] = ("us-east-1",),
) -> list[Finding]:
    """cfn-lint with the serverless rules over one template (a dict), less the rules in
    ``ignore`` (rule id -> reason) and CDK's own false positives."""
    from cfnlint.api import ManualArgs, lint  # type: ignore[import-untyped]

    matches = lint(
        json.dumps(template),
        config=ManualArgs(
            regions=list(regions),
            ignore_checks=sorted({**CFN_LINT_IGNORED, **dict(ignore or {})}),
            append_rules=["cfn_lint_serverless.rules"],
        ),
    )
    return [
        Finding("cfn-lint", str(m.rule.id), f"{name}/{'/'.join(map(str, m.path))}", str(m.message))
        for m in matches
    ]
