"""Helpers shared by every benchmark: paths, environment, statistics and child processes.

Standard library only: this module is imported by the orchestrator, by every measuring process
and by the process that runs in the Solutions Constructs venv.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
RESULTS_DIR = BENCH_DIR / "results"
LAMBDA_SRC = ROOT / "lambda_src"
SOLUTIONS_VENV = BENCH_DIR / ".venv-solutions"
SOLUTIONS_PYTHON = SOLUTIONS_VENV / "bin" / "python"

#: The environment of every measured process (the Makefile exports the same two).
BENCH_ENV = {
    # jsii prints a Node.js end-of-life banner on Node 20; this is its own switch.
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "PYTHONDONTWRITEBYTECODE": "1",
}


class BenchError(RuntimeError):
    """A measurement could not be taken (a child process failed, a stub did not match...)."""


def cdk_context() -> dict[str, Any]:
    """The ``context`` of cdk.json: what the CDK CLI hands ``python app.py`` (feature flags)."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def bench_env(**extra: str) -> dict[str, str]:
    """This process's environment plus :data:`BENCH_ENV` and ``extra``."""
    return {**os.environ, **BENCH_ENV, **extra}


def summarize(samples: list[float]) -> dict[str, Any]:
    """``{"min", "median", "samples"}`` of a list of seconds (or any positive numbers)."""
    if not samples:
        raise BenchError("no samples were taken")
    return {
        "min": min(samples),
        "median": statistics.median(samples),
        "samples": [round(sample, 6) for sample in samples],
    }


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, rounded to 3 decimals."""
    return round(numerator / denominator, 3)


def alternating(names: list[str], round_index: int) -> list[str]:
    """``names`` in order on even rounds and reversed on odd ones (drift hits both sides)."""
    return names if round_index % 2 == 0 else names[::-1]


def run_kind(
    module: str,
    *args: str,
    python: Path | str = sys.executable,
    timeout: float = 1800,
) -> dict[str, Any]:
    """Run ``python -m benchmarks.<module> ARGS --out FILE`` in a fresh process; its JSON result.

    One process per kind of measurement: what one kind loads (jsii's Node.js process, boto3,
    Powertools) cannot slow down or warm up another.
    """
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        out = Path(scratch) / "result.json"
        command = [str(python), "-m", f"benchmarks.{module}", *args, "--out", str(out)]
        try:
            process = subprocess.run(
                command,
                cwd=ROOT,
                env=bench_env(),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise BenchError(f"{' '.join(command)} took longer than {timeout:.0f} s") from error
        if process.returncode != 0 or not out.exists():
            raise BenchError(
                f"{' '.join(command)} exited with {process.returncode}:\n"
                f"{(process.stderr or process.stdout)[-3000:]}"
            )
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def write_json(path: Path | str, data: Any) -> None:
    """Write ``data`` as indented JSON, creating the folder."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
