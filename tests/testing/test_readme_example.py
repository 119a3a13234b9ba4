"""The "Testing your stacks" page's example (docs/testing.md), run as a user runs it: in a
fresh project with its own cdk.json and function folder, by pytest, twice (the second run
must find its snapshot unchanged)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def example() -> str:
    page = (REPO_ROOT / "docs" / "testing.md").read_text()
    start = page.index("# tests/test_shop.py")
    return page[start : page.index("```", start)]


def pytest_in(project: Path, *options: str) -> str:
    # Not a worker of this run's pytest-xdist (syrupy prints no report on a worker).
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "PYTEST_ADDOPTS" and not key.startswith("PYTEST_XDIST")
    }
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_the_readme_example_passes_and_its_snapshot_is_stable(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "cdk.json", tmp_path / "cdk.json")
    (tmp_path / "lambda_src" / "orders").mkdir(parents=True)
    (tmp_path / "lambda_src" / "orders" / "app.py").write_text(
        "def handler(event, context):\n    return {}\n"
    )
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_shop.py").write_text(example())
    first = pytest_in(tmp_path, "--snapshot-update")
    assert "3 passed" in first
    assert "1 snapshot generated" in first
    snapshot = next((tmp_path / "tests" / "__snapshots__").rglob("*.json")).read_text()
    assert "ASSET[serverless-patterns:powertools-layer]" in snapshot
    assert "ASSET[Shop/Orders]" in snapshot
    second = pytest_in(tmp_path)
    assert "3 passed" in second
    assert "1 snapshot passed" in second
