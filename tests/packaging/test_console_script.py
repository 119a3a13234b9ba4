"""The ``serverless-patterns`` console script as a user's clean install has it: installed by
the wheel, and without boto3 (not a dependency: ``[ops]`` brings it) one line saying how to get
it, not a traceback."""

from __future__ import annotations

import subprocess

import pytest

from tests.packaging.conftest import REPO_ROOT, Venv, clean_env


@pytest.mark.slow
def test_without_boto3_the_console_script_says_how_to_install_it(venv312: Venv) -> None:
    script = venv312.bin / "serverless-patterns"
    assert script.exists(), "the wheel does not install the serverless-patterns console script"

    result = subprocess.run(
        [str(script), "redrive", "--stack", "Shop", "--construct", "Orders"],
        cwd=REPO_ROOT.parent,
        env=clean_env(venv312),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == (
        "serverless-patterns redrive needs boto3: pip install 'serverless-patterns[ops]'\n"
    )
    assert result.stdout == ""
