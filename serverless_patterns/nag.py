"""cdk-nag acknowledgements, kept next to the resource they are about.

Every acknowledgement names one rule (or one finding of a rule, ``RuleId[FindingId]``), sits on
the narrowest construct it applies to, and carries the reason a reviewer would ask for.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding ``rule_id`` on ``construct`` with ``reason``."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_cfn_lint(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Have cfn-lint skip ``rule_id`` on the CloudFormation resource of ``construct`` only.

    cfn-lint reads per-resource ignores from the resource's ``Metadata`` (``cfn-lint: config:
    ignore_checks``). The reason is kept beside the rule id under ``reasons``, so a reader of the
    template sees why.
    """
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    existing = resource.get_metadata("cfn-lint") or {"config": {"ignore_checks": []}}
    existing["config"]["ignore_checks"] = sorted({*existing["config"]["ignore_checks"], rule_id})
    existing.setdefault("reasons", {})[rule_id] = reason
    resource.add_metadata("cfn-lint", existing)
