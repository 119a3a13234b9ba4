"""Helpers shared by the tests: apps built the way ``cdk synth`` builds them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# Before aws_cdk is imported: keep jsii's Node.js end-of-life banner out of test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk

from serverless_patterns.testing import synth_app

REPO_ROOT = Path(__file__).resolve().parent.parent


def new_app(**context: Any) -> cdk.App:
    """An App with the feature flags of cdk.json, as ``cdk synth`` would build it (the kit's)."""
    return synth_app(REPO_ROOT / "cdk.json", context=context)


def new_stack(name: str = "TestStack") -> cdk.Stack:
    """A fresh stack in a fresh app, for construct tests."""
    return cdk.Stack(
        new_app(),
        name,
        synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False),
    )


def user_function(stack: cdk.Stack, id: str, **options: Any) -> cdk.aws_lambda.Function:
    """A user's own plain ``aws_lambda.Function`` (not a ServerlessFunction): python3.12 and a
    10 s timeout unless ``options`` say otherwise."""
    from aws_cdk import aws_lambda as lambda_

    return lambda_.Function(
        stack,
        id,
        runtime=options.pop("runtime", lambda_.Runtime.PYTHON_3_12),
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
        timeout=options.pop("timeout", cdk.Duration.seconds(10)),
        **options,
    )


def alarm_ids(construct: Any) -> list[str]:
    """The construct ids of ``construct.alarms``, in order (the ids are the contract)."""
    return [alarm.node.id for alarm in construct.alarms]


#: The health alarms of one function, by the prefix of their ids.
def health(prefix: str, *, duration: bool = True) -> list[str]:
    kinds = ["Errors", "Throttles", *(["Duration"] if duration else [])]
    return [f"{prefix}{kind}Alarm" for kind in kinds]
