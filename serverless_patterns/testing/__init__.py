"""A testing kit for stacks built with these constructs (``pip install
'serverless-patterns[testing]'``): an App as ``cdk synth`` builds it (:mod:`.app`), templates
normalized for snapshots and a syrupy extension (:mod:`.snapshots`, :mod:`.syrupy`), cdk-nag
and cfn-lint in one call (:mod:`.compliance`), the library's serverless invariants over any
template (:mod:`.invariants`), and events in AWS's shapes with a check of partial batch
responses (:mod:`.events`, standard library only).

The names below are imported on first use, so ``serverless_patterns.testing.events`` costs no
aws_cdk import. See docs/testing.md ("Testing your stacks") for a complete example.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serverless_patterns.testing.app import cdk_context, find_cdk_json, synth_app
    from serverless_patterns.testing.compliance import (
        Finding,
        assert_compliant,
        compliance_findings,
        lint_template,
    )
    from serverless_patterns.testing.events import assert_batch_response, batch_response_problems
    from serverless_patterns.testing.invariants import (
        INVARIANTS,
        Violation,
        assert_invariants,
        check_invariants,
    )
    from serverless_patterns.testing.snapshots import normalize_template, template_of

_HOMES = {
    "cdk_context": "app",
    "find_cdk_json": "app",
    "synth_app": "app",
    "Finding": "compliance",
    "assert_compliant": "compliance",
    "compliance_findings": "compliance",
    "lint_template": "compliance",
    "assert_batch_response": "events",
    "batch_response_problems": "events",
    "INVARIANTS": "invariants",
    "Violation": "invariants",
    "assert_invariants": "invariants",
    "check_invariants": "invariants",
    "normalize_template": "snapshots",
    "template_of": "snapshots",
}
__all__ = [
    "INVARIANTS",
    "Finding",
    "Violation",
    "assert_batch_response",
    "assert_compliant",
    "assert_invariants",
    "batch_response_problems",
    "cdk_context",
    "check_invariants",
    "compliance_findings",
    "find_cdk_json",
    "lint_template",
    "normalize_template",
    "synth_app",
    "template_of",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'serverless_patterns.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"serverless_patterns.testing.{home}"), name)
