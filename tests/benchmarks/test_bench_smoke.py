"""Smoke test of the benchmarks (``make bench``): every part runs on tiny inputs.

Benchmarks are not tests: nothing here asserts a time. It keeps the bench code from rotting
(a handler whose stubs no longer fit, a twin that no longer matches its construct, a result
whose shape drifts) at the cost of a few seconds: one warm synth round, 20 handler records,
one import round, and stand-ins for the cold synth and the test suite runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import cold, run
from benchmarks.assets import LAYER_NAME, STAGE_LAYER_NAME, asset_bytes
from benchmarks.diagnose import HANDLER_VARIANTS, handler_ablation
from benchmarks.handlers import CASES as HANDLER_CASES
from benchmarks.handlers import bench_handlers
from benchmarks.imports import (
    HANDLERS,
    deployed_import_times,
    first_invocation_times,
    local_runtime_first_invocations,
)
from benchmarks.synth_warm import CASES as SYNTH_CASES
from benchmarks.synth_warm import warm_synth


@pytest.fixture(scope="module")
def warm() -> dict[str, Any]:
    return warm_synth(repeat=1, warmup_synths=0)


@pytest.fixture(scope="module")
def handlers() -> dict[str, Any]:
    return bench_handlers(records=20, repeat=1)


@pytest.fixture(scope="module")
def layer_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both layers merged into one folder, as the bench (and Lambda, in /opt) merges them."""
    return tmp_path_factory.mktemp("layers")


@pytest.fixture(scope="module")
def assets(layer_copy: Path) -> dict[str, Any]:
    return asset_bytes(layer_copy=layer_copy)


@pytest.fixture(scope="module")
def imports(assets: dict[str, Any], layer_copy: Path) -> dict[str, Any]:
    return deployed_import_times(
        layer_python=layer_copy / "python", repeat=1, handlers=["queue_worker_example"]
    )


@pytest.fixture(scope="module")
def first_invocations(assets: dict[str, Any], layer_copy: Path) -> dict[str, Any]:
    return first_invocation_times(
        layer_python=layer_copy / "python", repeat=1, handlers=["queue_worker_example"]
    )


@pytest.fixture(scope="module")
def local_first_invocations(assets: dict[str, Any], layer_copy: Path) -> dict[str, Any]:
    return local_runtime_first_invocations(
        layer_python=layer_copy / "python", repeat=1, handlers=["queue_worker_example"]
    )


@pytest.mark.parametrize("case", [case.name for case in SYNTH_CASES])
def test_twin_template_equals_its_construct_template(warm: dict[str, Any], case: str) -> None:
    result = warm[case]

    # Equal apart from resource Metadata (the construct's cdk-nag/cfn-lint notes).
    assert result["same_resources"], "\n".join(result["differences"])
    assert result["construct_types"] == result["twin_types"]
    assert result["construct_types"]["AWS::Lambda::Function"] >= 1
    assert result["ratio"] > 0


def test_every_handler_runs_its_records_through_handler_and_bare_loop(
    handlers: dict[str, Any],
) -> None:
    assert set(handlers) == {case.name for case in HANDLER_CASES}
    for name, result in handlers.items():
        # bench_handler raises when any record fails, so both sides took the success path.
        assert result["records"] == 20, name
        assert result["handler"]["median"] > 0, name
        assert result["bare"]["median"] > 0, name


def test_asset_sizes_cover_every_function_and_the_layers(assets: dict[str, Any]) -> None:
    sizes = assets["assets"]

    assert set(sizes) == {*cold.handler_names(), LAYER_NAME, STAGE_LAYER_NAME}
    assert all(size > 0 for size in sizes.values())
    assert sizes[LAYER_NAME] > max(size for name, size in sizes.items() if name != LAYER_NAME)


def test_every_deployed_handler_is_measured_and_the_first_invocations_run(
    imports: dict[str, Any],
    first_invocations: dict[str, Any],
    local_first_invocations: dict[str, Any],
) -> None:
    # Every function the library and its examples deploy has an entry with a first event.
    deployed = {*cold.handler_names(), "probe", "router", "translator"}
    assert {handler.name for handler in HANDLERS} >= deployed
    assert all(handler.event is not None for handler in HANDLERS if handler.name in deployed)
    entry = imports["handlers"]["queue_worker_example"]
    assert entry["import"]["median"] > 0
    assert entry["ratio"] > 0
    assert imports["boto3"]["median"] > 0
    # The first invocations raise unless the handler answered as expected.
    first = first_invocations["queue_worker_example"]
    assert first["first_invocation"]["median"] >= first["import"]["median"] > 0
    local = local_first_invocations["queue_worker_example"]
    assert local["total"]["median"] >= local["init"]["median"] > 0


def test_cold_synth_times_fresh_processes(tmp_path: Path) -> None:
    # A stand-in app: the real one takes seconds per process.
    script = tmp_path / "app.py"
    script.write_text("import os\nassert os.environ['CDK_OUTDIR']\n")

    result = cold.cold_synth(repeat=1, app=script, twin=script, floor=script)

    assert [len(result[name]["samples"]) for name in ("app", "twin", "floor")] == [1, 1, 1]
    assert result["ratio"] > 0
    assert result["floor_ratio"] > 0


def test_test_suite_timing_reads_pytest_summary(tmp_path: Path) -> None:
    # A stand-in suite: the real one takes about a minute.
    (tmp_path / "test_tiny.py").write_text("def test_one():\n    pass\n")

    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    result = cold.time_test_suite(command)

    assert result["exit_code"] == 0
    assert result["counts"] == {"passed": 1}
    assert result["seconds"] > 0


def _parts(**overrides: Any) -> dict[str, Any]:
    return {
        "notes": [],
        "synth_warm": None,
        "solutions": None,
        "handlers": None,
        "assets": None,
        "imports": None,
        "first_invocation": None,
        "local_first_invocation": None,
        "synth_cold": None,
        "test_suite": None,
        **overrides,
    }


def _summary(seconds: float) -> dict[str, Any]:
    return {"min": seconds, "median": seconds, "samples": [seconds]}


def test_latest_json_has_the_issue_shape_and_the_table_renders(
    warm: dict[str, Any],
    handlers: dict[str, Any],
    imports: dict[str, Any],
    first_invocations: dict[str, Any],
    local_first_invocations: dict[str, Any],
    assets: dict[str, Any],
) -> None:
    parts = _parts(
        synth_warm=warm,
        solutions={
            "sqs_to_lambda": _summary(0.05),
            "queue_worker_twin": _summary(0.05),
            "sqs_to_lambda_vs_twin_ratio": 1.0,
            "sqs_to_lambda_types": {},
            "versions": {"aws-solutions-constructs.aws-sqs-lambda": "2", "aws-cdk-lib": "2"},
        },
        handlers=handlers,
        assets=assets,
        imports=imports,
        first_invocation=first_invocations,
        local_first_invocation=local_first_invocations,
        synth_cold={
            "app": _summary(6.0),
            "twin": _summary(5.8),
            "floor": _summary(4.0),
            "ratio": 1.03,
            "floor_ratio": 1.5,
        },
        test_suite={"seconds": 60.0, "exit_code": 0, "summary": "1 passed in 1s", "counts": {}},
    )

    latest = run.build_latest(parts)
    table = run.render_table(parts, latest)

    assert tuple(latest) == run.KEYS
    assert run.shape_problems(latest) == []
    assert set(latest["synth_warm_ratio"]) == {
        "QueueWorker",
        "FanOutTopic",
        "KinesisBatchConsumer",
        "CommandRouter",
        "FilterPipeline (queues)",
        "FilterPipeline (state machine)",
        "ScheduledProbe",
        "LegacyApiProxy",
    }
    assert set(latest["handler_ratio"]) == {case.name for case in HANDLER_CASES}
    assert set(latest["import_ratio"]) == {"queue_worker_example"}
    assert set(latest["first_invocation_seconds"]) == {"queue_worker_example"}
    assert set(latest["local_first_invocation_seconds"]) == {"queue_worker_example"}
    assert latest["synth_cold_ratio"] == 1.03
    assert latest["synth_cold_floor_ratio"] == 1.5
    assert isinstance(latest["synth_vs_solutions_constructs_ratio"], float)
    assert isinstance(latest["cores"], int)
    assert table.startswith("| What |")
    assert "SqsToLambda" in table
    assert "twin app" in table
    assert "local runtime" in table


def test_parts_that_could_not_run_are_null_and_said_so() -> None:
    parts = _parts(notes=["SqsToLambda comparison is null: no venv."])

    latest = run.build_latest(parts)

    assert run.shape_problems(latest) == []
    assert latest["synth_vs_solutions_constructs_ratio"] is None
    assert "no venv" in run.render_table(parts, latest)


def test_shape_check_rejects_what_the_issue_does_not_allow() -> None:
    latest = run.build_latest(_parts())

    assert run.shape_problems({**latest, "extra": 1})
    assert run.shape_problems({**latest, "handler_ratio": {"x": "fast"}})
    assert run.shape_problems({**latest, "asset_bytes": [1, 2]})


def test_handler_diagnosis_runs_every_variant() -> None:
    results = handler_ablation(records=20, repeat=1)

    assert set(results) == {case.name for case in HANDLER_CASES}
    for variants in results.values():
        assert set(variants) == {*HANDLER_VARIANTS, "bare"}
