"""Warm synthesis: each L3 construct vs its hand-written twin, in one already-warm process.

Run by ``benchmarks/run.py`` as
``python -m benchmarks.synth_warm --repeat N --warmup-synths W --out F``;
``python -m benchmarks.synth_warm --diff [CASE ...]`` prints where twins and constructs differ.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import Duration

from benchmarks import twins
from benchmarks.cdk_common import (
    WARMUP_SYNTHS,
    StackBuilder,
    encrypted_topic,
    inline_function,
    measure_warm,
    resource_type_counts,
    synth_once,
    template_differences,
)
from benchmarks.common import cdk_context, ratio, summarize, write_json
from serverless_patterns import (
    CommandRouter,
    Connector,
    FanOutTopic,
    FilterPipeline,
    KinesisBatchConsumer,
    LegacyApiProxy,
    ProbeTarget,
    QueueWorker,
    ScheduledProbe,
    Stage,
)


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


def _command_router(stack: cdk.Stack) -> None:
    router = CommandRouter(stack, "Accounts")
    router.add_command("get-user", inline_function(stack, "GetUserV1Handler"), default=True)
    router.add_command("get-user", inline_function(stack, "GetUserV2Handler"), version="v2")
    router.add_command(
        "send-welcome-email", inline_function(stack, "WelcomeEmailHandler"), asynchronous=True
    )


def _filter_pipeline(connector: Connector) -> StackBuilder:
    def build(stack: cdk.Stack) -> None:
        stages = [
            Stage(name=name, handler=inline_function(stack, f"{name.title()}Handler"))
            for name in twins.PIPELINE_STAGES
        ]
        accepted = encrypted_topic(stack, "AcceptedTopic")
        FilterPipeline(stack, "Orders", stages=stages, connector=connector, output=accepted)

    return build


def _scheduled_probe(stack: cdk.Stack) -> None:
    ScheduledProbe(
        stack,
        "Websites",
        targets=[
            ProbeTarget(
                url="https://aws.amazon.com/", name="aws-home", max_latency=Duration.seconds(3)
            ),
            ProbeTarget(
                url="https://www.example.com/", name="example-content", contains="Example Domain"
            ),
        ],
        alert_emails=["ops@example.com"],
        alarm_topic=encrypted_topic(stack, "OperatorsTopic", for_alarms=True),
    )


def _legacy_api_proxy(stack: cdk.Stack) -> None:
    proxy = LegacyApiProxy(
        stack, "Inventory", legacy_base_url="https://legacy-inventory.example.com"
    )
    proxy.add_translated_route(
        "/items/{id}",
        "GET",
        legacy_path="/inventory/item/{id}",
        cache_ttl=Duration.seconds(60),
        response_mapping={
            "id": "item.@id",
            "name": "item.name",
            "stock": {"path": "item.stock", "type": "int"},
        },
    )
    proxy.add_translated_route(
        "/items",
        "GET",
        legacy_path="/inventory/items",
        response_mapping={"items": {"from": "items.item", "each": {"id": "@id", "name": "name"}}},
    )
    proxy.add_passthrough("/legacy/{proxy+}", legacy_path="/{proxy+}")


#: Construct name -> what the construct puts into a benchmark stack (twins.TWIN_STACKS: twin).
CONSTRUCT_STACKS: dict[str, StackBuilder] = {
    "QueueWorker": _queue_worker,
    "FanOutTopic": _fan_out_topic,
    "KinesisBatchConsumer": _kinesis_batch_consumer,
    "CommandRouter": _command_router,
    "FilterPipeline (queues)": _filter_pipeline(Connector.QUEUES),
    "FilterPipeline (state machine)": _filter_pipeline(Connector.STATE_MACHINE),
    "ScheduledProbe": _scheduled_probe,
    "LegacyApiProxy": _legacy_api_proxy,
}

CASES = tuple(
    SynthCase(name, construct, twins.TWIN_STACKS[name])
    for name, construct in CONSTRUCT_STACKS.items()
)


def warm_synth(*, repeat: int, warmup_synths: int = WARMUP_SYNTHS) -> dict[str, Any]:
    """Warm synth seconds of every construct and twin, their ratio and their resource types.

    Returns ``{construct name: {"construct": summary, "twin": summary, "ratio": median ratio,
    "construct_types": counts, "twin_types": counts, "same_resources": bool, "differences":
    [...]}}``; ``same_resources`` is whether the two templates are equal apart from resource
    Metadata, ``differences`` says where they are not (:func:`template_differences`).
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
        differences = template_differences(construct_template, twin_template)
        results[case.name] = {
            "construct": construct,
            "twin": twin,
            "ratio": ratio(construct["median"], twin["median"]),
            "construct_types": resource_type_counts(construct_template),
            "twin_types": resource_type_counts(twin_template),
            "same_resources": not differences,
            "differences": differences,
        }
    return results


def print_differences(names: Sequence[str] = ()) -> bool:
    """Synthesize each case (or the named ones) once and print where construct and twin differ;
    whether all are the same."""
    context = cdk_context()
    same = True
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as scratch:
        for case in CASES:
            if names and case.name not in names:
                continue
            _, construct = synth_once(case.construct, context, tempfile.mkdtemp(dir=scratch))
            _, twin = synth_once(case.twin, context, tempfile.mkdtemp(dir=scratch))
            differences = template_differences(construct, twin, limit=100)
            same = same and not differences
            print(f"{case.name}: {len(differences) or 'no'} difference(s)")
            for line in differences:
                print(f"  {line}")
    return same


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--warmup-synths", type=int, default=WARMUP_SYNTHS)
    parser.add_argument("--out")
    parser.add_argument(
        "--diff",
        nargs="*",
        metavar="CASE",
        help="only print where each twin's template (or the named ones') differs, no timing",
    )
    args = parser.parse_args(argv)
    if args.diff is not None:
        raise SystemExit(0 if print_differences(args.diff) else 1)
    if not args.out:
        parser.error("--out is required (unless --diff)")
    write_json(args.out, warm_synth(repeat=args.repeat, warmup_synths=args.warmup_synths))


if __name__ == "__main__":
    main()
