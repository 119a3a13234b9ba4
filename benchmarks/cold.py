"""Measurements that each need a fresh process: cold synth and ``make test``.

(``benchmarks.imports`` times the handlers' imports and first invocations.)

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
#: The same stacks written by hand in plain aws-cdk-lib (benchmarks/twin_examples/).
TWIN_APP = BENCH_DIR / "twin_app.py"
#: Import aws_cdk and synthesize a stack with one queue.
FLOOR_APP = BENCH_DIR / "floor_app.py"


def _timed_run(command: list[str], *, cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    process = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise BenchError(
            f"{' '.join(command)} exited with {process.returncode}:\n{process.stderr[-3000:]}"
        )
    return elapsed


def cold_synth(
    *, repeat: int, app: Path = APP, twin: Path = TWIN_APP, floor: Path = FLOOR_APP
) -> dict[str, Any]:
    """Wall time of ``python app.py``, its twin app and the floor, each in a fresh process.

    ``repeat`` rounds, the three alternating (the order reversed every other round). All get
    cdk.json's context in ``CDK_CONTEXT_JSON`` (as the CDK CLI hands it to the app; without
    its feature flags the example stacks do not synthesize) and a fresh ``CDK_OUTDIR``.
    ``ratio`` is the app's median over its twin app's (the target), ``floor_ratio`` over the
    floor's (context: what the example stacks cost over aws_cdk's start and one queue).
    """
    env = bench_env(CDK_CONTEXT_JSON=json.dumps(cdk_context()))
    scripts = {"app": app, "twin": twin, "floor": floor}
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
    summaries = {name: summarize(values) for name, values in samples.items()}
    return {
        **summaries,
        "ratio": ratio(summaries["app"]["median"], summaries["twin"]["median"]),
        "floor_ratio": ratio(summaries["app"]["median"], summaries["floor"]["median"]),
    }


def handler_names() -> list[str]:
    """Every function folder of ``lambda_src/`` (one with an ``app.py``), sorted."""
    return sorted(path.parent.name for path in LAMBDA_SRC.glob("*/app.py"))


_PYTEST_SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")
_PYTEST_SUMMARY_LINE = re.compile(r"^=* ?(\d+ (passed|failed|errors?|skipped)\b.*) in [\d.]+s")

#: The README's test command as CI runs it (.ci/run): lint, the suite on a worker per core with
#: the end-to-end tests, and the floor job, at once.
TEST_SUITE_COMMAND = ("make", "--no-print-directory", "test")


def time_test_suite(command: Sequence[str] = TEST_SUITE_COMMAND) -> dict[str, Any]:
    """Wall time of ``command`` (default: ``make test``) in the repository, and its outcome.

    ``counts`` adds up every pytest summary line of its output (the suite's and the floor
    job's); ``summary`` is those lines, ``; ``-joined.
    """
    env = bench_env()
    env.pop("MAKEFLAGS", None)  # not a job of the make that runs the bench
    start = time.perf_counter()
    process = subprocess.run(
        list(command),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    lines = [
        match.group(1)
        for line in process.stdout.splitlines()
        if (match := _PYTEST_SUMMARY_LINE.match(line.strip()))
    ]
    counts: dict[str, int] = {}
    for line in lines:
        for number, kind in _PYTEST_SUMMARY.findall(line):
            counts[kind] = counts.get(kind, 0) + int(number)
    return {
        "seconds": round(elapsed, 3),
        "exit_code": process.returncode,
        "summary": "; ".join(lines) or (process.stdout.strip().splitlines() or [""])[-1],
        "counts": counts,
    }
