"""Shared fixtures: apps built once per session, so synthesis cost is paid once.

jsii starts a Node.js process on the first aws_cdk import (about 3 s); after that a stack
synthesizes in about 0.1 s. Asset staging (copying every asset folder into a fresh output
directory) is switched off in tests: it changes only asset metadata, never the template.

``make test`` runs the suite on parallel workers (pytest-xdist, ``-n``); the tests that
share a costly session fixture run on one worker (``tests/scheduling.py``).
"""

from __future__ import annotations

import os
from typing import Any

# Before aws_cdk is imported: keep jsii's Node.js end-of-life banner out of test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# A deprecated aws-cdk-lib API called by the library, an example or a test is an error (as in
# CDK's own integration tests), not a warning in a user's synth output.
os.environ.setdefault("JSII_DEPRECATED", "fail")


import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from examples import build_examples
from tests.scheduling import pytest_xdist_make_scheduler  # noqa: F401 (the hook)
from tests.support import new_app, new_stack


@pytest.fixture
def stack() -> cdk.Stack:
    return new_stack()


@pytest.fixture(scope="session")
def example_stacks() -> dict[str, cdk.Stack]:
    """Every example stack, built once per test session."""
    app = new_app()
    return {stack.stack_name: stack for stack in build_examples(app)}


@pytest.fixture(scope="session")
def example_templates(example_stacks: dict[str, cdk.Stack]) -> dict[str, dict[str, Any]]:
    """Synthesized template (as a dict) of every example stack."""
    return {name: Template.from_stack(s).to_json() for name, s in example_stacks.items()}
