"""Warm synthesis: each L3 construct vs its hand-written twin, in one already-warm process.

Run by ``benchmarks/run.py`` as
``python -m benchmarks.synth_warm --repeat N --warmup-synths W --out F``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk

from benchmarks import twins
from benchmarks.cdk_common import (
    WARMUP_SYNTHS,
    StackBuilder,
    inline_function,
    measure_warm,
    resource_type_counts,
    resources_without_metadata,
)
from benchmarks.common import cdk_context, ratio, summarize, write_json
from serverless_patterns import FanOutTopic, KinesisBatchConsumer, QueueWorker


@dataclass(frozen=True)
class SynthCase:
    """One construct (as the library user writes it) and its twin (plain aws-cdk-lib)."""

    name: str
    construct: StackBuilder
    twin: StackBuilder


def _queue_worker(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Worker", handler=inline_function(stack, "Handler"))


def _fan_out_topic(stack: cdk.Stack) -> None:
    audit = inline_function(stack, "AuditHandler")
    work = inline_function(stack, "WorkHandler")
    fan_out = FanOutTopic(stack, "FanOut")
    fan_out.add_lambda_subscriber(audit, id="Audit")
    fan_out.add_worker(work, id="Work")
    fan_out.add_queue_subscriber(id="Archive")


def _kinesis_batch_consumer(stack: cdk.Stack) -> None:
    KinesisBatchConsumer(stack, "Clicks", handler=inline_function(stack, "Handler"))


#: Construct name -> what the construct puts into a benchmark stack (twins.TWIN_STACKS: twin).
CONSTRUCT_STACKS: dict[str, StackBuilder] = {
    "QueueWorker": _queue_worker,
    "FanOutTopic": _fan_out_topic,
    "KinesisBatchConsumer": _kinesis_batch_consumer,
}

CASES = tuple(
    SynthCase(name, construct, twins.TWIN_STACKS[name])
    for name, construct in CONSTRUCT_STACKS.items()
)


def warm_synth(*, repeat: int, warmup_synths: int = WARMUP_SYNTHS) -> dict[str, Any]:
    """Warm synth seconds of every construct and twin, their ratio and their resource types.

    Returns ``{construct name: {"construct": summary, "twin": summary, "ratio": median ratio,
    "construct_types": counts, "twin_types": counts, "same_resources": bool}}``;
    ``same_resources`` is whether the two templates are equal apart from resource Metadata.
    """
    builds: dict[str, StackBuilder] = {}
    for case in CASES:
        builds[case.name] = case.construct
        builds[f"{case.name} twin"] = case.twin
    samples, templates = measure_warm(
        builds, repeat=repeat, warmup_synths=warmup_synths, context=cdk_context()
    )
    results: dict[str, Any] = {}
    for case in CASES:
        construct, twin = summarize(samples[case.name]), summarize(samples[f"{case.name} twin"])
        construct_template, twin_template = templates[case.name], templates[f"{case.name} twin"]
        results[case.name] = {
            "construct": construct,
            "twin": twin,
            "ratio": ratio(construct["median"], twin["median"]),
            "construct_types": resource_type_counts(construct_template),
            "twin_types": resource_type_counts(twin_template),
            "same_resources": resources_without_metadata(construct_template)
            == resources_without_metadata(twin_template),
        }
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--warmup-synths", type=int, default=WARMUP_SYNTHS)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    write_json(args.out, warm_synth(repeat=args.repeat, warmup_synths=args.warmup_synths))


if __name__ == "__main__":
    main()
