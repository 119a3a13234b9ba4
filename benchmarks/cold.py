"""Measurements that each need a fresh process: cold synth, import times and the test suite.

Standard library only: this module spawns the processes and times them from outside.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    BENCH_DIR,
    LAMBDA_SRC,
    ROOT,
    BenchError,
    alternating,
    bench_env,
    cdk_context,
    ratio,
    summarize,
)

#: The whole app (every example stack), as ``cdk synth`` runs it.
APP = ROOT / "app.py"
#: Import aws_cdk and synthesize a stack with one queue.
FLOOR_APP = BENCH_DIR / "floor_app.py"

#: What the import timer runs: ``python -c`` puts the working directory first on sys.path, as
#: Lambda puts the function's folder.
IMPORT_TIMER = (
    "import time\n"
    "_start = time.perf_counter()\n"
    "import {module}\n"
    "print(repr(time.perf_counter() - _start))\n"
)

#: The handlers' environment for the import (their module-level code reads it).
HANDLER_IMPORT_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_LOG_LEVEL": "INFO",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "ServerlessPatternsBench",
    "TABLE_NAME": "bench-table",
    "BUCKET_NAME": "bench-bucket",
}


def _timed_run(command: list[str], *, cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    process = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise BenchError(
            f"{' '.join(command)} exited with {process.returncode}:\n{process.stderr[-3000:]}"
        )
    return elapsed


def cold_synth(*, repeat: int, app: Path = APP, floor: Path = FLOOR_APP) -> dict[str, Any]:
    """Wall time of ``python app.py`` vs the floor, each in a fresh process, ``repeat`` times.

    Both get cdk.json's context in ``CDK_CONTEXT_JSON`` (as the CDK CLI hands it to the app;
    without its feature flags the example stacks do not synthesize) and a fresh ``CDK_OUTDIR``.
    """
    env = bench_env(CDK_CONTEXT_JSON=json.dumps(cdk_context()))
    scripts = {"app": app, "floor": floor}
    samples: dict[str, list[float]] = {name: [] for name in scripts}
    for round_index in range(repeat):
        for name in alternating(list(scripts), round_index):
            with tempfile.TemporaryDirectory(prefix="bench-cdk-out-") as outdir:
                samples[name].append(
                    _timed_run(
                        [sys.executable, str(scripts[name])],
                        cwd=ROOT,
                        env={**env, "CDK_OUTDIR": outdir},
                    )
                )
    app_summary, floor_summary = summarize(samples["app"]), summarize(samples["floor"])
    return {
        "app": app_summary,
        "floor": floor_summary,
        "ratio": ratio(app_summary["median"], floor_summary["median"]),
    }


def handler_names() -> list[str]:
    """Every function folder of ``lambda_src/`` (one with an ``app.py``), sorted."""
    return sorted(path.parent.name for path in LAMBDA_SRC.glob("*/app.py"))


def import_seconds(module: str, *, cwd: Path, extra_env: dict[str, str] | None = None) -> float:
    """Seconds ``import module`` takes in a fresh interpreter started in ``cwd``."""
    env = bench_env(**HANDLER_IMPORT_ENV, **(extra_env or {}))
    command = [sys.executable, "-c", IMPORT_TIMER.format(module=module)]
    process = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if process.returncode != 0:
        raise BenchError(f"import {module} in {cwd} failed:\n{process.stderr[-3000:]}")
    return float(process.stdout.strip().splitlines()[-1])


def import_times(
    *, repeat: int, handlers: list[str] | None = None, layer_python: Path | None = None
) -> dict[str, Any]:
    """Import time of each handler module vs ``import boto3``, each in a fresh process.

    ``{"boto3": summary, "handlers": {name: {"import": summary, "ratio": median ratio}}}``.
    With ``layer_python`` (the ``python/`` folder of the Powertools layer) each handler is also
    imported with that folder first on ``PYTHONPATH``, as Lambda imports it from the layer: a
    folder without ``.pyc`` files, so Powertools is compiled on every cold start.
    """
    names = handler_names() if handlers is None else handlers
    samples: dict[str, list[float]] = {"boto3": [], **{name: [] for name in names}}
    layer_samples: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="bench-import-") as empty:
        for round_index in range(repeat):
            for name in alternating(list(samples), round_index):
                if name == "boto3":
                    samples[name].append(import_seconds("boto3", cwd=Path(empty)))
                    continue
                folder = LAMBDA_SRC / name
                samples[name].append(import_seconds("app", cwd=folder))
                if layer_python is not None:
                    layer_samples[name].append(
                        import_seconds(
                            "app", cwd=folder, extra_env={"PYTHONPATH": str(layer_python)}
                        )
                    )
    boto3 = summarize(samples["boto3"])
    handlers_result: dict[str, Any] = {}
    for name in names:
        entry = summarize(samples[name])
        handlers_result[name] = {"import": entry, "ratio": ratio(entry["median"], boto3["median"])}
        if layer_python is not None:
            from_layer = summarize(layer_samples[name])
            handlers_result[name]["import_from_layer"] = from_layer
            handlers_result[name]["ratio_from_layer"] = ratio(from_layer["median"], boto3["median"])
    return {"boto3": boto3, "handlers": handlers_result}


_PYTEST_SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")

#: The test suite as ``make test`` runs it, less the slow deploy tests and the bench smoke test.
TEST_SUITE_ARGUMENTS = (
    "-m",
    "pytest",
    "-q",
    "-p",
    "no:cacheprovider",
    "--ignore=tests/integration",
    "--ignore=tests/benchmarks",
)


def time_test_suite(arguments: Sequence[str] = TEST_SUITE_ARGUMENTS) -> dict[str, Any]:
    """Wall time of the unit test suite in a fresh process, and its outcome counts.

    ``arguments`` are those of ``python``: :data:`TEST_SUITE_ARGUMENTS` unless told otherwise.
    """
    start = time.perf_counter()
    process = subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env=bench_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    last_line = (process.stdout.strip().splitlines() or [""])[-1]
    counts = {kind: int(number) for number, kind in _PYTEST_SUMMARY.findall(last_line)}
    return {
        "seconds": round(elapsed, 3),
        "exit_code": process.returncode,
        "summary": last_line,
        "counts": counts,
    }
