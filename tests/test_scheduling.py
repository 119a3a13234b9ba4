"""The suite's scheduler: a group's tests on one worker, in order; the rest spread out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.scheduling import worker_group

ROOT = Path(__file__).parent.parent
NO_CACHE = ["-p", "no:cacheprovider"]

RECORDER = """
import json, os

def record(name):
    line = json.dumps([name, os.environ["PYTEST_XDIST_WORKER"]])
    with open(os.environ["SCHEDULE_LOG"], "a") as log:
        log.write(line + "\\n")
"""


def test_worker_group_is_the_folder_group_or_the_test_itself() -> None:
    assert worker_group("tests/integration/test_e2e.py::test_a[x]") == "emulator"
    assert worker_group("tests/packaging/sub/test_wheel.py::test_b") == "wheel"
    assert worker_group("tests/handlers/test_h.py::test_c") == "tests/handlers/test_h.py::test_c"
    assert worker_group("tests/test_top.py::test_d") == "tests/test_top.py::test_d"
    assert worker_group("other/integration/test_x.py::t") == "other/integration/test_x.py::t"


def test_two_workers_run_each_group_on_one_worker_in_collection_order(tmp_path: Path) -> None:
    for folder in ["integration", "packaging", "constructs"]:
        (tmp_path / "tests" / folder).mkdir(parents=True)
        tests = "\n".join(
            f"def test_{n:02d}():\n    recorder.record('{folder}/{n:02d}')\n" for n in range(8)
        )
        (tmp_path / "tests" / folder / f"test_{folder}.py").write_text(
            "import recorder\n\n" + tests
        )
    (tmp_path / "recorder.py").write_text(RECORDER)
    log = tmp_path / "schedule.log"
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"},
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "SCHEDULE_LOG": str(log),
    }
    pytest = [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "tests.scheduling"]
    result = subprocess.run(
        [*pytest, *NO_CACHE, "tests"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    runs = [tuple(json.loads(line)) for line in log.read_text().splitlines()]
    assert len(runs) == 24
    for folder in ["integration", "packaging"]:
        ran = [(name, worker) for name, worker in runs if name.startswith(folder)]
        assert [name for name, _ in ran] == [f"{folder}/{n:02d}" for n in range(8)]
        assert len({worker for _, worker in ran}) == 1, ran
    assert len({worker for _, worker in runs}) == 2
