"""Where the time goes when a target is missed (docs/performance.md).

Not part of ``make bench``; each prints a small report::

    .venv/bin/python -m benchmarks.diagnose handlers  # us per batch of each Powertools part
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
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any

from benchmarks.common import ROOT, alternating, bench_env, cdk_context

# --- handlers --------------------------------------------------------------------------------

#: Variant -> what is taken off the handler as deployed, cumulatively: the decorators from the
#: outside in (``inject_lambda_context``, then ``capture_lambda_handler``, then ``log_metrics``,
#: the order every case stacks them in), then the INFO lines and the metrics its body adds.
HANDLER_VARIANTS: dict[str, int] = {
    "as deployed": 0,
    "- inject_lambda_context": 1,
    "- capture_lambda_handler": 2,
    "- log_metrics (EMF flush)": 3,
    "- INFO lines": 4,
    "- add_metric/add_dimension": 5,
}
#: The file of each decorator's wrapper, outermost first (checked before peeling it off).
_DECORATOR_FILES = ("logging/logger.py", "tracing/tracer.py", "metrics/provider/base.py")
#: Component -> (variant with it, variant without it): each row of :func:`handler_account`.
HANDLER_COMPONENTS: dict[str, tuple[str, str]] = {
    "Logger.inject_lambda_context": ("as deployed", "- inject_lambda_context"),
    "Tracer.capture_lambda_handler": ("- inject_lambda_context", "- capture_lambda_handler"),
    "Metrics.log_metrics (EMF flush)": ("- capture_lambda_handler", "- log_metrics (EMF flush)"),
    "INFO line(s) per batch": ("- log_metrics (EMF flush)", "- INFO lines"),
    "add_metric/add_dimension": ("- INFO lines", "- add_metric/add_dimension"),
    "batch processing beyond the bare loop": ("- add_metric/add_dimension", "bare"),
}


def _peeled(handler: Callable[..., Any], layers: int) -> Callable[..., Any]:
    """``handler`` without its ``layers`` outermost Powertools decorators."""
    for expected in _DECORATOR_FILES[:layers]:
        if not handler.__code__.co_filename.endswith(expected) or not hasattr(
            handler, "__wrapped__"
        ):
            raise RuntimeError(f"expected the decorator of {expected} at {handler!r}")
        handler = handler.__wrapped__
    return handler


@contextlib.contextmanager
def _without_body_extras(app: ModuleType, level: int) -> Iterator[None]:
    """The module's INFO lines (level >= 4) and metric additions (level >= 5) as no-ops."""
    patched: list[tuple[Any, str]] = []
    if level >= 4:
        app.logger.info = lambda *_arguments, **_keywords: None
        patched.append((app.logger, "info"))
    if level >= 5:
        for name in ("add_metric", "add_dimension"):
            setattr(app.metrics, name, lambda *_arguments, **_keywords: None)
            patched.append((app.metrics, name))
    try:
        yield
    finally:
        for target, name in patched:
            delattr(target, name)  # the instance attribute: the method shows through again


def _variant(app: ModuleType, level: int, context: Any) -> Callable[[Any], Any]:
    handler = _peeled(app.handler, min(level, len(_DECORATOR_FILES)))
    if level < 3:
        return functools.partial(_invoke, handler, context=context)
    metrics = app.metrics

    def invoke(event: Any) -> Any:
        # Without log_metrics nothing flushes: drop what the invocation added, as a flush would.
        try:
            return handler(event, context)
        finally:
            metrics.clear_metrics()

    return invoke


def _invoke(handler: Callable[[Any, Any], Any], event: Any, *, context: Any) -> Any:
    return handler(event, context)


def handler_ablation(*, records: int = 10_000, repeat: int = 3) -> dict[str, dict[str, float]]:
    """CPU seconds of each handler per variant of :data:`HANDLER_VARIANTS`, and bare: the
    fastest of ``repeat`` rounds.

    One module per case, loaded and stubbed as ``benchmarks.handlers`` does; the variants run
    alternately. CPU time (this process's) and the fastest round: the differences between
    variants are microseconds per invocation, which a busy machine's preemptions and cache
    misses would drown in wall time or in medians.
    """
    from benchmarks import handlers

    results: dict[str, dict[str, float]] = {}
    for case in handlers.CASES:
        samples: dict[str, list[float]] = {name: [] for name in [*HANDLER_VARIANTS, "bare"]}
        with handlers.handler_environment(case.name), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no metrics to publish" when metrics are removed
            app = handlers.load_handler(case.name)
            case.stub(app)
            events = case.events(records, case.batch_size)
            context = handlers.FakeLambdaContext(function_name=case.name)
            bare = case.bare(app)
            for round_index in range(repeat):
                for name in alternating(list(samples), round_index):
                    if name == "bare":
                        elapsed, _failed = handlers._run_events(
                            bare, events, case.carries_state, clock=time.process_time
                        )
                    else:
                        level = HANDLER_VARIANTS[name]
                        with _without_body_extras(app, level):
                            invoke = _variant(app, level, context)
                            elapsed, _failed = handlers._run_events(
                                invoke, events, case.carries_state, clock=time.process_time
                            )
                    samples[name].append(elapsed)
        results[case.name] = {name: min(times) for name, times in samples.items()}
    return results


def handler_account(
    ablation: dict[str, dict[str, float]], *, records: int = 10_000
) -> dict[str, dict[str, Any]]:
    """Per case: microseconds per invocation (batch) of each of :data:`HANDLER_COMPONENTS` and
    of the bare loop, from :func:`handler_ablation`'s times.

    ``{case: {"batch_size", "invocations", "bare_us", "components_us": {component: us},
    "deployed_us", "ratio"}}``. A component is the difference of two variants' times, so on a
    busy machine a small one can come out slightly negative.
    """
    from benchmarks import handlers

    account: dict[str, dict[str, Any]] = {}
    for case in handlers.CASES:
        variants = ablation[case.name]
        invocations = -(-records // case.batch_size)

        def per_batch(seconds: float, count: int = invocations) -> float:
            return round(seconds / count * 1e6, 1)

        account[case.name] = {
            "batch_size": case.batch_size,
            "invocations": invocations,
            "bare_us": per_batch(variants["bare"]),
            "components_us": {
                component: per_batch(variants[with_it] - variants[without])
                for component, (with_it, without) in HANDLER_COMPONENTS.items()
            },
            "deployed_us": per_batch(variants["as deployed"]),
            "ratio": round(variants["as deployed"] / variants["bare"], 2),
        }
    return account


# --- warm synth ------------------------------------------------------------------------------


#: The fields of a jsii request that name what it calls, creates or reads.
_REQUEST_API_FIELDS = ("method", "property", "fqn", "api")
#: How many of the APIs the construct calls more often than its twin the report lists.
_EXTRA_REQUESTS_SHOWN = 6


@contextlib.contextmanager
def _count_jsii_requests() -> Iterator[Counter[str]]:
    """Count the requests this process sends to jsii's Node.js process, by request type and
    the API it names (``InvokeRequest:acknowledge``, ``StaticInvokeRequest:of``, ...)."""
    from jsii._kernel.providers import process  # private API

    counts: Counter[str] = Counter()
    original = process._NodeProcess.send

    def send(self: Any, request: Any, response_type: Any) -> Any:
        api = next(
            (name for name in (getattr(request, a, None) for a in _REQUEST_API_FIELDS) if name),
            None,
        )
        counts[f"{type(request).__name__}:{api}" if api else type(request).__name__] += 1
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

    targets = (
        nag.acknowledge,
        nag.acknowledge_cfn_lint,
        nag.acknowledge_all,
        nag.acknowledge_created,
    )
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
    """Per construct: jsii requests of one build, and warm medians with and without acks.

    ``{case: {"construct" | "without acknowledgements" | "twin": {"median_ms",
    "jsii_requests"}, "extra_requests": {api: how many more the construct sends}}}``, the
    latter the :data:`_EXTRA_REQUESTS_SHOWN` APIs with the most.
    """
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
            by_api: dict[str, Counter[str]] = {}
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
                by_api[label] = counts
            extra = by_api["construct"] - by_api["twin"]  # keeps only the positive counts
            entry["extra_requests"] = dict(extra.most_common(_EXTRA_REQUESTS_SHOWN))
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
        records = 10_000
        ablation = handler_ablation(records=records, repeat=9)
        for name, entry in handler_account(ablation, records=records).items():
            print(
                f"{name}: {entry['invocations']} invocations of {entry['batch_size']} records, "
                f"{entry['ratio']}x the bare loop (CPU us per invocation; fastest of 9 rounds)"
            )
            print(f"  {'bare loop (the business work)':40s} {entry['bare_us']:8.1f}")
            for component, micros in entry["components_us"].items():
                print(f"  {component:40s} {micros:8.1f}")
            print(f"  {'as deployed':40s} {entry['deployed_us']:8.1f}")
    elif args.what == "warm":
        for name, entry in warm_diagnosis().items():
            twin = entry["twin"]["median_ms"]
            print(name)
            for label in ("construct", "without acknowledgements", "twin"):
                milliseconds, requests = entry[label]["median_ms"], entry[label]["jsii_requests"]
                print(
                    f"  {label:26s} {milliseconds:6.1f} ms  {milliseconds / twin:5.2f}x  "
                    f"{requests:4d} jsii requests"
                )
            extra = ", ".join(f"{api} +{count}" for api, count in entry["extra_requests"].items())
            print(f"  most extra requests: {extra or 'none'}")
    else:
        for name, phases in cold_phases().items():
            total = sum(phases.values())
            detail = ", ".join(f"{phase} {seconds:.2f}" for phase, seconds in phases.items())
            print(f"{name:32s} {total:5.2f} s: {detail}")


if __name__ == "__main__":
    main()
