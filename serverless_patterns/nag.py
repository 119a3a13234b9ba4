"""cdk-nag acknowledgements, kept next to the resource they are about.

Every acknowledgement names one rule (or one finding of a rule, ``RuleId[FindingId]``), sits on
the narrowest construct it applies to, and carries the reason a reviewer would ask for.

All acknowledgements of one construct are best written at once with :func:`acknowledge_all`:
the cdk-nag ones in one ``Validations.acknowledge`` call, the cfn-lint ones in one metadata
write, rather than two round trips to jsii per cdk-nag rule and four per cfn-lint rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

from serverless_patterns import _tree


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding ``rule_id`` on ``construct`` with ``reason``."""
    acknowledge_all(construct, cdk_nag={rule_id: reason})


def acknowledge_cfn_lint(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Have cfn-lint skip ``rule_id`` on the CloudFormation resource of ``construct`` only.

    cfn-lint reads per-resource ignores from the resource's ``Metadata`` (``cfn-lint: config:
    ignore_checks``). The reason is kept beside the rule id under ``reasons``, so a reader of the
    template sees why.
    """
    acknowledge_all(construct, cfn_lint={rule_id: reason})


def acknowledge_all(
    construct: IConstruct,
    *,
    cdk_nag: Mapping[str, str] | None = None,
    cfn_lint: Mapping[str, str] | None = None,
) -> None:
    """Every acknowledgement of ``construct`` at once: rule id -> reason, for each tool.

    The same as :func:`acknowledge` and :func:`acknowledge_cfn_lint` once per rule, in this
    order, with the round trips of one call each.
    """
    _acknowledge(construct, cdk_nag, cfn_lint, unwritten=False)


def acknowledge_created(
    construct: IConstruct,
    *,
    cdk_nag: Mapping[str, str] | None = None,
    cfn_lint: Mapping[str, str] | None = None,
) -> None:
    """:func:`acknowledge_all` for a resource the caller has just created, before anything
    else could write its metadata: the cfn-lint ignores are written without reading back
    what is there (there is nothing yet)."""
    _acknowledge(construct, cdk_nag, cfn_lint, unwritten=True)


def _acknowledge(
    construct: IConstruct,
    cdk_nag: Mapping[str, str] | None,
    cfn_lint: Mapping[str, str] | None,
    *,
    unwritten: bool,
) -> None:
    if cdk_nag:
        Validations.of(construct).acknowledge(
            *(Acknowledgment(id=rule_id, reason=reason) for rule_id, reason in cdk_nag.items())
        )
    if cfn_lint:
        _ignore_cfn_lint_checks(construct, cfn_lint, unwritten=unwritten)


def _ignore_cfn_lint_checks(
    construct: IConstruct, rules: Mapping[str, str], *, unwritten: bool
) -> None:
    resource = construct if isinstance(construct, CfnResource) else _tree.default_child(construct)
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{_tree.path(construct)} has no CloudFormation resource to annotate")
    # Merged into what is there (another rule's ignore, or the user's own), not replacing it.
    existing: dict[str, Any] | None = None if unwritten else resource.get_metadata("cfn-lint")
    if existing is None:
        existing = {"config": {"ignore_checks": []}}
    existing["config"]["ignore_checks"] = sorted({*existing["config"]["ignore_checks"], *rules})
    existing.setdefault("reasons", {}).update(rules)
    resource.add_metadata("cfn-lint", existing)
