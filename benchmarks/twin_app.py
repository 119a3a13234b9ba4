#!/usr/bin/env python3
"""The twin of the example app: the same stacks and templates, written without the library.

``python app.py`` builds the example stacks with serverless_patterns; this app builds the same
stacks (names, logical ids, properties; only resource ``Metadata`` differs) from plain
aws-cdk-lib constructs and literal values, as one would by hand. The cold synth benchmark
(``benchmarks/cold.py``) runs both in fresh processes: the ratio is what the library costs a
``cdk synth``. ``tests/benchmarks/test_twin_app.py`` proves the templates equal.

Run it as ``app.py`` is run: ``python benchmarks/twin_app.py`` with cdk.json's context in
``CDK_CONTEXT_JSON`` (the CDK CLI's way) and the output folder in ``CDK_OUTDIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: the repository root is the import root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aws_cdk as cdk

from benchmarks.twin_examples import API_STACKS, TWIN_STACKS


def build_twin_examples(app: cdk.App) -> list[cdk.Stack]:
    """Add every twin stack to ``app``, in the example app's order and with its dependencies."""
    stacks = {name: stack_class(app, name) for name, stack_class in TWIN_STACKS.items()}
    for name in API_STACKS:
        stacks[name].add_stack_dependency(stacks["ApiGatewayAccount"])
    return list(stacks.values())


if __name__ == "__main__":
    app = cdk.App()
    build_twin_examples(app)
    app.synth()
