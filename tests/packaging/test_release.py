"""Release hygiene: the version in one place, the changelog's entry for it, the LICENSE in the
wheel and the sdist, and both distributions passing ``twine check``."""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import serverless_patterns
from tests.packaging.conftest import Built, clean_env, run
from tests.support import REPO_ROOT


@pytest.fixture(scope="session")
def sdist(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("sdist")
    run(
        [
            sys.executable,
            "-m",
            "build",
            "--sdist",
            "--no-isolation",
            "--outdir",
            dist,
            built.source,
        ],
        cwd=dist,
        env=clean_env(),
    )
    (found,) = dist.glob("*.tar.gz")
    return found


def test_the_version_is_one_attribute_and_the_wheels(built: Built) -> None:
    assert serverless_patterns.__version__ == "0.2.0"
    assert built.wheel.name.startswith(f"serverless_patterns-{serverless_patterns.__version__}-")


def test_the_changelog_has_an_entry_for_the_version() -> None:
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text()
    assert re.search(
        rf"^## \[{re.escape(serverless_patterns.__version__)}\] - \d{{4}}-\d\d-\d\d$",
        changelog,
        re.M,
    )
    assert "## [Unreleased]" in changelog


def test_the_license_is_in_the_wheel_and_the_sdist(built: Built, sdist: Path) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = wheel.namelist()
        license_name = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        assert "Apache License" in wheel.read(license_name).decode()
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert "License-File: LICENSE" in metadata
    assert "Description-Content-Type: text/markdown" in metadata
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    assert any(name.endswith("/LICENSE") for name in members)
    assert any(name.endswith("/CHANGELOG.md") for name in members)


def test_twine_accepts_both_distributions(built: Built, sdist: Path) -> None:
    output = run(
        [sys.executable, "-m", "twine", "check", "--strict", built.wheel, sdist],
        cwd=sdist.parent,
        env=clean_env(),
    )
    assert output.count("PASSED") == 2, output
