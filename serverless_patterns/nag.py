"""cdk-nag acknowledgements, kept next to the resource they are about.

Every acknowledgement names one rule (or one finding of a rule, ``RuleId[FindingId]``), sits on
the narrowest construct it applies to, and carries the reason a reviewer would ask for.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding ``rule_id`` on ``construct`` with ``reason``."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))
