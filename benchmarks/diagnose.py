"""Where the time goes when a target is missed (docs/performance.md).

Not part of ``make bench``; each prints a small report::

    .venv/bin/python -m benchmarks.diagnose handlers  # per-record logs, tracing, metrics removed
    .venv/bin/python -m benchmarks.diagnose warm      # jsii round trips, acknowledgements
    .venv/bin/python -m benchmarks.diagnose cold      # phases of python app.py vs the floor

Nothing here changes the library: variants are made by patching the loaded objects in this
process only.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any

from benchmarks.common import ROOT, alternating, bench_env, cdk_context

# --- handlers --------------------------------------------------------------------------------

#: Variant -> what is taken out of the handler as deployed.
HANDLER_VARIANTS: dict[str, frozenset[str]] = {
    "as deployed": frozenset(),
    "no per-record INFO log": frozenset({"logs"}),
    "no per-record tracing": frozenset({"tracing"}),
    "neither": frozenset({"logs", "tracing"}),
    "neither, no metrics": frozenset({"logs", "tracing", "metrics"}),
}


def _ablate(app: ModuleType, removed: frozenset[str]) -> None:
    # The logger is shared by name within the process: set its level either way.
    app.logger._logger.setLevel(logging.WARNING if "logs" in removed else logging.INFO)
    if "tracing" in removed:
        # Every @tracer.capture_method of the module; the handler's own decorators stay.
        for name, value in list(vars(app).items()):
            if name != "handler" and callable(value) and hasattr(value, "__wrapped__"):
                setattr(app, name, value.__wrapped__)
    if "metrics" in removed:
        app.metrics.add_metric = lambda **_arguments: None


def _invoke(handler: Callable[[Any, Any], Any], event: Any, *, context: Any) -> Any:
    return handler(event, context)


def handler_ablation(*, records: int = 10_000, repeat: int = 3) -> dict[str, dict[str, float]]:
    """Median seconds of each handler per variant of :data:`HANDLER_VARIANTS`, and bare."""
    from benchmarks import handlers

    results: dict[str, dict[str, float]] = {}
    for case in handlers.CASES:
        samples: dict[str, list[float]] = {name: [] for name in [*HANDLER_VARIANTS, "bare"]}
        with handlers.handler_environment(case.name), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no metrics to publish" when metrics are removed
            events = case.events(records, case.batch_size)
            context = handlers.FakeLambdaContext(function_name=case.name)
            for round_index in range(repeat):
                for name in alternating(list(samples), round_index):
                    app = handlers.load_handler(case.name)
                    case.stub(app)
                    if name == "bare":
                        invoke: Callable[[Any], Any] = case.bare(app)
                    else:
                        _ablate(app, HANDLER_VARIANTS[name])
                        invoke = functools.partial(_invoke, app.handler, context=context)
                    elapsed, _failed = handlers._run_events(invoke, events, case.carries_state)
                    samples[name].append(elapsed)
            _ablate(handlers.load_handler(case.name), frozenset())
        results[case.name] = {name: statistics.median(times) for name, times in samples.items()}
    return results


# --- warm synth ------------------------------------------------------------------------------


@contextlib.contextmanager
def _count_jsii_requests() -> Iterator[Counter[str]]:
    """Count the requests this process sends to jsii's Node.js process, by request type."""
    from jsii._kernel.providers import process  # private API

    counts: Counter[str] = Counter()
    original = process._NodeProcess.send

    def send(self: Any, request: Any, response_type: Any) -> Any:
        counts[type(request).__name__] += 1
        return original(self, request, response_type)

    process._NodeProcess.send = send  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        process._NodeProcess.send = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _without_acknowledgements() -> Iterator[None]:
    """cdk-nag and cfn-lint acknowledgements of the library turned into no-ops."""
    from serverless_patterns import nag

    targets = (nag.acknowledge, nag.acknowledge_cfn_lint)
    patched = []
    for module in [m for name, m in sys.modules.items() if name.startswith("serverless_patterns")]:
        for name, value in list(vars(module).items()):
            if any(value is target for target in targets):
                patched.append((module, name, value))
                setattr(module, name, lambda *_arguments, **_keywords: None)
    try:
        yield
    finally:
        for module, name, value in patched:
            setattr(module, name, value)


def warm_diagnosis(*, repeat: int = 15) -> dict[str, dict[str, Any]]:
    """Per construct: jsii requests of one build, and warm medians with and without acks."""
    from benchmarks import synth_warm
    from benchmarks.cdk_common import WARMUP_SYNTHS, StackBuilder, measure_warm, synth_once

    def without_acks(build: StackBuilder) -> StackBuilder:
        def run(stack: Any) -> None:
            with _without_acknowledgements():
                build(stack)

        return run

    builds: dict[str, StackBuilder] = {}
    for case in synth_warm.CASES:
        builds[case.name] = case.construct
        builds[f"{case.name} without acknowledgements"] = without_acks(case.construct)
        builds[f"{case.name} twin"] = case.twin
    context = cdk_context()
    samples, _templates = measure_warm(
        builds, repeat=repeat, warmup_synths=WARMUP_SYNTHS, context=context
    )
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-diagnose-") as scratch:
        for case in synth_warm.CASES:
            entry: dict[str, Any] = {}
            for label, build in (
                ("construct", builds[case.name]),
                ("without acknowledgements", builds[f"{case.name} without acknowledgements"]),
                ("twin", builds[f"{case.name} twin"]),
            ):
                with _count_jsii_requests() as counts:
                    synth_once(build, context, tempfile.mkdtemp(dir=scratch))
                key = case.name if label == "construct" else f"{case.name} {label}"
                entry[label] = {
                    "median_ms": round(statistics.median(samples[key]) * 1000, 1),
                    "jsii_requests": sum(counts.values()),
                }
            results[case.name] = entry
    return results


# --- cold synth ------------------------------------------------------------------------------

_PHASES_SCRIPT = """
import json, sys, time
marks = {"start": time.perf_counter()}
import aws_cdk as cdk
marks["import aws_cdk"] = time.perf_counter()
WHAT = sys.argv[1]
if WHAT == "app":
    from examples import EXAMPLE_STACKS as STACKS
elif WHAT == "constructs":
    from benchmarks.synth_warm import CONSTRUCT_STACKS as STACKS
elif WHAT == "twins":
    from benchmarks.twins import TWIN_STACKS as STACKS
marks["import the rest"] = time.perf_counter()
app = cdk.App()
if WHAT == "floor":
    from aws_cdk import aws_sqs as sqs
    sqs.Queue(cdk.Stack(app, "Floor"), "Queue")
elif WHAT == "app":
    for name, stack_class in STACKS.items():
        stack_class(app, name)
else:
    for name, build in STACKS.items():
        build(cdk.Stack(app, name))
marks["build"] = time.perf_counter()
app.synth()
marks["synth (with CDK's template validation)"] = time.perf_counter()
names = list(marks)
print(json.dumps({b: marks[b] - marks[a] for a, b in zip(names, names[1:])}))
"""

#: Variant -> (what the phase script builds, extra environment).
COLD_VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "app (every example stack)": ("app", {}),
    "floor (one queue)": ("floor", {}),
    "the 3 constructs of synth_warm": ("constructs", {}),
    "their 3 twins": ("twins", {}),
    "app, CDK_VALIDATION=false": ("app", {"CDK_VALIDATION": "false"}),
    "floor, CDK_VALIDATION=false": ("floor", {"CDK_VALIDATION": "false"}),
}


def cold_phases(*, repeat: int = 3) -> dict[str, dict[str, float]]:
    """Median seconds of each phase of each of :data:`COLD_VARIANTS`, in fresh processes.

    Besides app vs floor: the benchmark's three constructs vs their twins (one stack each),
    the L3's cold cost on equal infrastructure; and app vs floor without CDK's validation.
    """
    variants = COLD_VARIANTS
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    context = json.dumps(cdk_context())
    for round_index in range(repeat):
        for name in alternating(list(variants), round_index):
            which, extra = variants[name]
            with tempfile.TemporaryDirectory(prefix="bench-cdk-out-") as outdir:
                env = bench_env(CDK_CONTEXT_JSON=context, CDK_OUTDIR=outdir, **extra)
                output = subprocess.run(
                    [sys.executable, "-c", _PHASES_SCRIPT, which],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            samples[name].append(json.loads(output.strip().splitlines()[-1]))
    return {
        name: {phase: round(statistics.median(run[phase] for run in runs), 3) for phase in runs[0]}
        for name, runs in samples.items()
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["handlers", "warm", "cold"])
    args = parser.parse_args(argv)
    if args.what == "handlers":
        for name, variants in handler_ablation().items():
            bare = variants["bare"]
            print(f"{name} (median seconds for 10,000 records; x = vs bare loop)")
            for variant, seconds in variants.items():
                print(f"  {variant:32s} {seconds:7.3f} s  {seconds / bare:5.1f}x")
    elif args.what == "warm":
        for name, entry in warm_diagnosis().items():
            twin = entry["twin"]["median_ms"]
            print(name)
            for label, values in entry.items():
                milliseconds, requests = values["median_ms"], values["jsii_requests"]
                print(
                    f"  {label:26s} {milliseconds:6.1f} ms  {milliseconds / twin:5.2f}x  "
                    f"{requests:4d} jsii requests"
                )
    else:
        for name, phases in cold_phases().items():
            total = sum(phases.values())
            detail = ", ".join(f"{phase} {seconds:.2f}" for phase, seconds in phases.items())
            print(f"{name:32s} {total:5.2f} s: {detail}")


if __name__ == "__main__":
    main()
