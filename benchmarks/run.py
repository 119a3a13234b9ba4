"""``make bench``: measure, print one table, write ``benchmarks/results/latest.json``.

Run as ``.venv/bin/python benchmarks/run.py`` (``--quick`` for a fast, rough pass). Each kind of
measurement runs in a process of its own; see docs/performance.md for what each
number means. ``latest.json`` holds exactly :data:`KEYS`, each a number, a mapping of name to
number, or null when that part could not run (the table's notes say why); every sample and
summary goes to ``latest-details.json`` beside it.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import cold, imports
from benchmarks.common import (
    RESULTS_DIR,
    ROOT,
    SOLUTIONS_PYTHON,
    SOLUTIONS_VENV,
    BenchError,
    run_kind,
    write_json,
)

#: The keys of latest.json, in order.
KEYS = (
    "synth_cold_ratio",
    "synth_cold_floor_ratio",
    "synth_warm_ratio",
    "synth_vs_solutions_constructs_ratio",
    "handler_ratio",
    "import_ratio",
    "first_invocation_seconds",
    "local_first_invocation_seconds",
    "asset_bytes",
    "test_suite_seconds",
    "cores",
)
#: Targets of the numbers that have one (at most this much: a ratio, or seconds).
TARGETS = {
    "synth_cold_ratio": 1.1,
    "synth_warm_ratio": 1.1,
    "handler_ratio": 2.0,
    "import_ratio": 1.5,
    "test_suite_seconds": 240.0,
}
#: Where ``make bench`` logs its attempt to create the Solutions Constructs venv.
SOLUTIONS_VENV_LOG = RESULTS_DIR / "solutions-venv.log"


@dataclass(frozen=True)
class Settings:
    """How many times each measurement is taken, and which parts run."""

    cold_repeat: int = 5
    warm_repeat: int = 15
    warm_warmup_synths: int = 30
    handler_records: int = 10_000
    handler_repeat: int = 3
    import_repeat: int = 5
    first_repeat: int = 3
    cold_synth: bool = True
    solutions: bool = True
    test_suite: bool = True


QUICK = Settings(
    cold_repeat=2,
    warm_repeat=3,
    warm_warmup_synths=6,
    handler_records=1_000,
    handler_repeat=1,
    import_repeat=2,
    first_repeat=1,
    test_suite=False,
)


# --- measuring -------------------------------------------------------------------------------


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _timed(label: str, measure: Callable[[], Any]) -> Any:
    _progress(f"{label}...")
    start = time.perf_counter()
    result = measure()
    _progress(f"{label}: {time.perf_counter() - start:.1f} s")
    return result


def _solutions_unavailable_reason() -> str:
    reason = (
        f"{SOLUTIONS_VENV.relative_to(ROOT)} does not exist (make bench creates it with pip "
        "from PyPI)"
    )
    if SOLUTIONS_VENV_LOG.exists():
        lines = [line for line in SOLUTIONS_VENV_LOG.read_text().splitlines() if line.strip()]
        if lines:
            reason += f"; its last attempt ended with: {lines[-1].strip()[:300]}"
    return reason


def measure_all(settings: Settings) -> dict[str, Any]:
    """Every measurement of ``settings``: ``{part: result or None}`` and ``notes``."""
    parts: dict[str, Any] = {"notes": []}
    notes: list[str] = parts["notes"]
    warm_args = [
        "--repeat",
        str(settings.warm_repeat),
        "--warmup-synths",
        str(settings.warm_warmup_synths),
    ]
    parts["synth_warm"] = _timed("warm synth", lambda: run_kind("synth_warm", *warm_args))

    parts["solutions"] = None
    if not settings.solutions:
        notes.append("SqsToLambda comparison skipped (--skip-solutions).")
    elif not SOLUTIONS_PYTHON.exists():
        notes.append(f"SqsToLambda comparison is null: {_solutions_unavailable_reason()}.")
    else:
        try:
            parts["solutions"] = _timed(
                "warm synth of SqsToLambda (Solutions Constructs venv)",
                lambda: run_kind("solutions_synth", *warm_args, python=SOLUTIONS_PYTHON),
            )
        except BenchError as error:
            parts["solutions_error"] = str(error)
            last_line = (str(error).strip().splitlines() or ["?"])[-1][:300]
            notes.append(f"SqsToLambda comparison is null: its run failed: {last_line}")

    parts["handlers"] = _timed(
        "handlers",
        lambda: run_kind(
            "handlers",
            "--records",
            str(settings.handler_records),
            "--repeat",
            str(settings.handler_repeat),
        ),
    )

    with tempfile.TemporaryDirectory(prefix="bench-layer-") as layer_copy:
        parts["assets"] = _timed(
            "asset sizes", lambda: run_kind("assets", "--layer-copy", layer_copy)
        )
        layer_python = Path(layer_copy) / "python"
        parts["imports"] = _timed(
            "imports as deployed",
            lambda: imports.deployed_import_times(
                layer_python=layer_python, repeat=settings.import_repeat
            ),
        )
        parts["first_invocation"] = _timed(
            "first invocations (fresh process, moto)",
            lambda: imports.first_invocation_times(
                layer_python=layer_python, repeat=settings.first_repeat
            ),
        )
        parts["local_first_invocation"] = _timed(
            "first invocations (local runtime)",
            lambda: imports.local_runtime_first_invocations(
                layer_python=layer_python, repeat=settings.first_repeat
            ),
        )

    parts["synth_cold"] = None
    if settings.cold_synth:
        parts["synth_cold"] = _timed(
            "cold synth", lambda: cold.cold_synth(repeat=settings.cold_repeat)
        )
    else:
        notes.append("Cold synth skipped.")

    parts["test_suite"] = None
    if settings.test_suite:
        parts["test_suite"] = _timed("make test", cold.time_test_suite)
        if parts["test_suite"]["exit_code"] != 0:
            notes.append(
                "The test suite did not pass while it was timed "
                f"({parts['test_suite']['summary']}); its time is reported all the same."
            )
    else:
        notes.append("make test skipped (--quick or --skip-suite).")
    return parts


# --- the result ------------------------------------------------------------------------------


def build_latest(parts: Mapping[str, Any], cores: int | None = None) -> dict[str, Any]:
    """latest.json from the parts: exactly :data:`KEYS`, numbers or name -> number (or null)."""
    warm = parts.get("synth_warm")
    solutions = parts.get("solutions")
    cold_synth = parts.get("synth_cold")
    handlers = parts.get("handlers")
    imports = parts.get("imports")
    first = parts.get("first_invocation")
    local_first = parts.get("local_first_invocation")
    assets = parts.get("assets")
    suite = parts.get("test_suite")
    return {
        "synth_cold_ratio": cold_synth["ratio"] if cold_synth else None,
        "synth_cold_floor_ratio": cold_synth["floor_ratio"] if cold_synth else None,
        "synth_warm_ratio": {name: case["ratio"] for name, case in warm.items()} if warm else None,
        "synth_vs_solutions_constructs_ratio": (
            round(
                warm["QueueWorker"]["construct"]["median"] / solutions["sqs_to_lambda"]["median"],
                3,
            )
            if warm and solutions
            else None
        ),
        "handler_ratio": (
            {name: case["ratio"] for name, case in handlers.items()} if handlers else None
        ),
        "import_ratio": (
            {name: entry["ratio"] for name, entry in imports["handlers"].items()}
            if imports
            else None
        ),
        "first_invocation_seconds": (
            {name: entry["first_invocation"]["median"] for name, entry in first.items()}
            if first
            else None
        ),
        "local_first_invocation_seconds": (
            {name: entry["total"]["median"] for name, entry in local_first.items()}
            if local_first
            else None
        ),
        "asset_bytes": dict(assets["assets"]) if assets else None,
        "test_suite_seconds": suite["seconds"] if suite else None,
        "cores": cores if cores is not None else os.cpu_count(),
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def shape_problems(latest: Mapping[str, Any]) -> list[str]:
    """What is wrong with the shape of a latest.json (empty when it is right)."""
    problems = []
    if tuple(latest) != KEYS:
        problems.append(f"keys are {list(latest)}, expected {list(KEYS)}")
    for key, value in latest.items():
        if value is None or _is_number(value):
            continue
        if isinstance(value, Mapping) and value:
            bad = [
                name
                for name, item in value.items()
                if not (isinstance(name, str) and _is_number(item))
            ]
            if bad:
                problems.append(f"{key}: {bad} are not name -> number")
            continue
        problems.append(f"{key} is {value!r}: not a number, a mapping of name to number, or null")
    if not _is_number(latest.get("cores")):
        problems.append("cores must be a number")
    return problems


# --- the table -------------------------------------------------------------------------------


def _seconds(summary: Mapping[str, float], *, unit: str = "s") -> str:
    scale, digits = (1000, 0) if unit == "ms" else (1, 3)
    return f"{summary['min'] * scale:,.{digits}f} / {summary['median'] * scale:,.{digits}f} {unit}"


def _target(key: str, value: float | None) -> str:
    limit = TARGETS.get(key)
    if limit is None or value is None:
        return ""
    unit = " s" if key.endswith("_seconds") else "x"
    return f"<= {limit:g}{unit}: {'met' if value <= limit else '**missed**'}"


def table_rows(parts: Mapping[str, Any], latest: Mapping[str, Any]) -> list[list[str]]:
    """``[what, measured (min / median), baseline (min / median), ratio, target]`` rows."""
    rows: list[list[str]] = []
    cold_synth = parts.get("synth_cold")
    if cold_synth:
        rows.append(
            [
                "Synth, cold: `python app.py` (every example stack) vs its hand-written twin app",
                _seconds(cold_synth["app"]),
                _seconds(cold_synth["twin"]),
                f"{cold_synth['ratio']:.2f}x",
                _target("synth_cold_ratio", cold_synth["ratio"]),
            ]
        )
        rows.append(
            [
                "Synth, cold: `python app.py` vs the floor (aws_cdk + 1 queue; context)",
                _seconds(cold_synth["app"]),
                _seconds(cold_synth["floor"]),
                f"{cold_synth['floor_ratio']:.2f}x",
                "",
            ]
        )
    for name, case in (parts.get("synth_warm") or {}).items():
        rows.append(
            [
                f"Synth, warm: {name} vs hand-written twin",
                _seconds(case["construct"], unit="ms"),
                _seconds(case["twin"], unit="ms"),
                f"{case['ratio']:.2f}x",
                _target("synth_warm_ratio", case["ratio"]),
            ]
        )
    solutions = parts.get("solutions")
    warm = parts.get("synth_warm")
    if solutions and warm:
        versions = solutions["versions"]
        rows.append(
            [
                "Synth, warm: QueueWorker vs Solutions Constructs SqsToLambda "
                f"{versions['aws-solutions-constructs.aws-sqs-lambda']} "
                f"(aws-cdk-lib {versions['aws-cdk-lib']}, own venv)",
                _seconds(warm["QueueWorker"]["construct"], unit="ms"),
                _seconds(solutions["sqs_to_lambda"], unit="ms"),
                f"{latest['synth_vs_solutions_constructs_ratio']:.2f}x",
                "",
            ]
        )
    else:
        rows.append(
            [
                "Synth, warm: QueueWorker vs Solutions Constructs SqsToLambda",
                "",
                "",
                "null (see notes)",
                "",
            ]
        )
    for name, case in (parts.get("handlers") or {}).items():
        rows.append(
            [
                f"Handler: `{name}`, {case['records']:,} records in batches of "
                f"{case['batch_size']} (Powertools handler vs bare loop)",
                f"{_seconds(case['handler'])} ({case['handler_records_per_second']:,} rec/s)",
                f"{_seconds(case['bare'])} ({case['bare_records_per_second']:,} rec/s)",
                f"{case['ratio']:.2f}x",
                _target("handler_ratio", case["ratio"]),
            ]
        )
    imports_part = parts.get("imports")
    if imports_part:
        for name, entry in imports_part["handlers"].items():
            rows.append(
                [
                    f"Import as deployed (with its layers): `{name}` vs `import boto3`",
                    _seconds(entry["import"]),
                    _seconds(imports_part["boto3"]),
                    f"{entry['ratio']:.2f}x",
                    _target("import_ratio", entry["ratio"]),
                ]
            )
    first = parts.get("first_invocation") or {}
    local_first = parts.get("local_first_invocation") or {}
    for name, entry in first.items():
        measured = (
            f"{_seconds(entry['first_invocation'])} (import {entry['import']['median']:.3f} s "
            f"+ first call {entry['first_call']['median']:.3f} s)"
        )
        local = local_first.get(name)
        if local:
            measured += (
                f"; local runtime: {_seconds(local['total'])} (init "
                f"{local['init']['median']:.3f} s + first {local['first_invocation']['median']:.3f}"
                " s)"
            )
        rows.append(
            [f"First invocation: `{name}` (fresh process, one event)", measured, "", "", ""]
        )
    for name, size in (latest.get("asset_bytes") or {}).items():
        rows.append([f"Asset, zipped: `{name}`", f"{size:,} bytes", "", "", ""])
    suite = parts.get("test_suite")
    if suite:
        rows.append(
            [
                "`make test` (lint, the suite with its end-to-end tests, the floor job), wall",
                f"{suite['seconds']:.1f} s ({suite['summary']})",
                "",
                "",
                _target("test_suite_seconds", suite["seconds"]),
            ]
        )
    rows.append(["Cores (`os.cpu_count()`)", str(latest["cores"]), "", "", ""])
    return rows


def render_table(parts: Mapping[str, Any], latest: Mapping[str, Any]) -> str:
    """One Markdown table of every measurement, then its notes."""
    header = ["What", "Measured (min / median)", "Baseline (min / median)", "Ratio", "Target"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(parts, latest)]
    notes = list(parts.get("notes", []))
    warm = parts.get("synth_warm") or {}
    for name, case in warm.items():
        if case["construct_types"] != case["twin_types"]:
            notes.append(f"{name} and its twin differ in resource types: fix benchmarks/twins.py.")
    if warm and all(case["same_resources"] for case in warm.values()):
        notes.append("Every twin's template equals its construct's, apart from resource Metadata.")
    if notes:
        lines.append("")
        lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """What the numbers were measured on."""
    versions = {}
    for name in ("aws-cdk-lib", "jsii", "aws-lambda-powertools", "boto3"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    node = shutil.which("node")
    node_version = (
        subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if node
        else None
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "node": node_version,
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "versions": versions,
        # CDK_VALIDATION=false turns CDK's built-in template validation off: it changes every
        # synth number (see docs/performance.md).
        "CDK_VALIDATION": os.environ.get("CDK_VALIDATION"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, no test suite")
    parser.add_argument("--skip-suite", action="store_true", help="do not time the test suite")
    parser.add_argument("--skip-cold", action="store_true", help="do not time cold synth")
    parser.add_argument("--skip-solutions", action="store_true", help="no SqsToLambda comparison")
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS_DIR / "latest.json",
        help="where to write the JSON (details go beside it, *-details.json)",
    )
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Settings()
    settings = Settings(
        **{
            **base.__dict__,
            "test_suite": base.test_suite and not args.skip_suite,
            "cold_synth": base.cold_synth and not args.skip_cold,
            "solutions": base.solutions and not args.skip_solutions,
        }
    )
    start = time.perf_counter()
    parts = measure_all(settings)
    latest = build_latest(parts)
    problems = shape_problems(latest)
    if problems:
        raise BenchError(f"latest.json would be malformed: {problems}")
    table = render_table(parts, latest)
    print(table)
    write_json(args.out, latest)
    details = args.out.with_name(f"{args.out.stem}-details.json")
    write_json(
        details,
        {
            "environment": environment(),
            "settings": settings.__dict__,
            "seconds": round(time.perf_counter() - start, 1),
            "parts": parts,
            "table": table,
        },
    )
    _progress(f"wrote {args.out} and {details} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
