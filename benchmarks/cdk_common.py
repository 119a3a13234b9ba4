"""Warm synthesis, measured the same way in this venv and in the Solutions Constructs venv.

Only aws-cdk-lib (and the standard library) is imported here: the Solutions Constructs venv has
an aws-cdk-lib of its own and no serverless_patterns.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns

from benchmarks.common import alternating

STACK_NAME = "Bench"
INLINE_HANDLER = "def handler(event, context):\n    return {}\n"

#: Builds the content of a stack (the measured part besides App, Stack and synth()).
StackBuilder = Callable[[cdk.Stack], None]


def inline_function(scope: cdk.Stack, id: str) -> lambda_.Function:
    """The handler every synth benchmark gives its construct: a plain Function, inline code.

    Created the same way for a construct, its hand-written twin and SqsToLambda, so the
    difference between them is what the construct itself adds.
    """
    return lambda_.Function(
        scope,
        id,
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline(INLINE_HANDLER),
    )


def encrypted_topic(scope: cdk.Stack, id: str, *, for_alarms: bool = False) -> sns.Topic:
    """A topic a construct is given (accepted items, operators' alarms): KMS key, TLS only.

    Created the same way for a construct and its twin, like :func:`inline_function`.
    ``for_alarms``: the key lets CloudWatch publish alarm notifications.
    """
    key = kms.Key(scope, f"{id}Key", enable_key_rotation=True)
    if for_alarms:
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
    return sns.Topic(scope, id, master_key=key, enforce_ssl=True)


def synth_once(
    build: StackBuilder, context: Mapping[str, Any], outdir: str
) -> tuple[float, dict[str, Any]]:
    """Seconds to create an App and a stack, ``build`` it and synthesize; and its template."""
    start = time.perf_counter()
    app = cdk.App(outdir=outdir, context=dict(context), analytics_reporting=False)
    stack = cdk.Stack(app, STACK_NAME)
    build(stack)
    assembly = app.synth()
    elapsed = time.perf_counter() - start
    template: dict[str, Any] = assembly.get_stack_by_name(STACK_NAME).template
    return elapsed, template


#: Synths before measuring: Node.js (V8) keeps getting faster for about this many.
WARMUP_SYNTHS = 30


def warmup_rounds(builds: int, warmup_synths: int) -> int:
    """Rounds of ``builds`` builds that make at least ``warmup_synths`` synths (2 at least)."""
    return max(2, math.ceil(warmup_synths / builds)) if warmup_synths else 0


def measure_warm(
    builds: Mapping[str, StackBuilder],
    *,
    repeat: int,
    warmup_synths: int,
    context: Mapping[str, Any],
) -> tuple[dict[str, list[float]], dict[str, dict[str, Any]]]:
    """Warm synth seconds of every build, ``repeat`` rounds after the warm-up rounds.

    The warm-up rounds make at least ``warmup_synths`` synths, so that a process measuring few
    builds is as warm as one measuring many. All builds run in this one process, round-robin,
    the order reversed every other round, so a slow drift (jsii's object registry grows with
    every app) weighs on each build alike. Returns the samples and the last template of each.
    """
    names = list(builds)
    warmup = warmup_rounds(len(names), warmup_synths)
    samples: dict[str, list[float]] = {name: [] for name in names}
    templates: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as scratch:
        for round_index in range(warmup + repeat):
            for name in alternating(names, round_index):
                outdir = tempfile.mkdtemp(dir=scratch)
                elapsed, templates[name] = synth_once(builds[name], context, outdir)
                if round_index >= warmup:
                    samples[name].append(elapsed)
    return samples, templates


def resource_type_counts(template: Mapping[str, Any]) -> dict[str, int]:
    """CloudFormation resource type -> how many resources of that type, sorted by type."""
    counts = Counter(resource["Type"] for resource in template.get("Resources", {}).values())
    return dict(sorted(counts.items()))


def template_differences(
    construct: Mapping[str, Any], twin: Mapping[str, Any], *, limit: int = 20
) -> list[str]:
    """Where two templates' resources differ (Metadata left out): one line per differing
    value, ``<logical id>/<property path>: construct ... | twin ...``, at most ``limit``."""
    lines: list[str] = []

    def short(value: Any) -> str:
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 300 else text[:297] + "..."

    def walk(left: Any, right: Any, path: str) -> None:
        if isinstance(left, Mapping) and isinstance(right, Mapping):
            for key in sorted({*left, *right}, key=str):
                if key not in right:
                    lines.append(f"{path}/{key}: only in the construct's: {short(left[key])}")
                elif key not in left:
                    lines.append(f"{path}/{key}: only in the twin's: {short(right[key])}")
                else:
                    walk(left[key], right[key], f"{path}/{key}")
        elif isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
            for index, (item, other) in enumerate(zip(left, right, strict=True)):
                walk(item, other, f"{path}[{index}]")
        elif left != right:
            lines.append(f"{path}: construct {short(left)} | twin {short(right)}")

    walk(resources_without_metadata(construct), resources_without_metadata(twin), "")
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def resources_without_metadata(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template's resources with their ``Metadata`` left out (cdk-nag/cfn-lint notes)."""
    return {
        logical_id: {key: value for key, value in resource.items() if key != "Metadata"}
        for logical_id, resource in template.get("Resources", {}).items()
    }
