"""The built wheel, installed as a user installs it: into virtualenvs that see nothing else.

The wheel is built once per session, offline with the dev interpreter's own setuptools, from a
copy of the work tree without build leftovers, so a stale ``build/lib`` can neither hide a
missing file nor smuggle in a deleted one. Each virtualenv (one per Python version, made with
uv from its cache, or PyPI when the cache is cold) gets the wheel and its declared dependencies
only, pinned to the versions of the dev virtualenv (so that two interpreters install the same
dependency versions): no ``.pth`` link to the dev site-packages, no ``--system-site-packages``,
no boto3. Python versions come from pyenv or PATH; a missing one skips its tests with the
reason.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"

#: Not part of a source checkout (or not of the package): left out of the copy that is built.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "cdk.out",
    ".local",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.py[cod]",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
)


@dataclass(frozen=True)
class Built:
    source: Path
    wheel: Path


@dataclass(frozen=True)
class Venv:
    python: Path
    version: str
    site_packages: Path

    @property
    def bin(self) -> Path:
        return self.python.parent


def clean_env(venv: Venv | None = None) -> dict[str, str]:
    """The environment of a user's shell: nothing of the repository or the dev virtualenv."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")
    }
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    # A user's Python caches byte code: aws-cdk-lib's modules compile once per virtualenv, not
    # once per run (asset folders exclude __pycache__ either way).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if venv is not None:
        dev_bin = str(Path(sys.executable).parent)
        path = [part for part in env.get("PATH", "").split(os.pathsep) if part != dev_bin]
        env["PATH"] = os.pathsep.join([str(venv.bin), *path])
        env["VIRTUAL_ENV"] = str(venv.bin.parent)
    return env


def run(args: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
    return result.stdout


def find_python(version: str) -> Path | None:
    """An interpreter of ``version`` (``"3.12"``): this one, pyenv's, else one on PATH."""
    if version == f"{sys.version_info.major}.{sys.version_info.minor}":
        return Path(sys.base_prefix) / "bin" / f"python{version}"
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted((pyenv_root / "versions").glob(f"{version}.*/bin/python{version}"))
    if candidates:
        return candidates[-1]
    found = shutil.which(f"python{version}")
    return Path(found) if found else None


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO_ROOT, source, ignore=_NOT_SOURCE, symlinks=True)
    dist = root / "dist"
    dist.mkdir()
    build = ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, source]
    run([sys.executable, "-m", "pip", *build], cwd=root, env=clean_env())
    wheels = sorted(dist.glob("*.whl"))
    assert len(wheels) == 1, f"expected exactly one wheel, got {[w.name for w in wheels]}"
    return Built(source, wheels[0])


@pytest.fixture(scope="session")
def constraints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every distribution of the dev virtualenv at its version (this package left out)."""
    pins = sorted(
        {
            f"{dist.metadata['Name']}=={dist.version}"
            for dist in importlib.metadata.distributions()
            if dist.metadata["Name"] and dist.metadata["Name"].lower() != "serverless-patterns"
        }
    )
    path = tmp_path_factory.mktemp("constraints") / "constraints.txt"
    path.write_text("\n".join(pins) + "\n")
    return path


def make_venv(root: Path, version: str, built: Built, constraints: Path) -> Venv:
    interpreter = find_python(version)
    if interpreter is None:
        pytest.skip(f"Python {version} is not installed here (pyenv or PATH)")
    if not UV.exists():
        pytest.fail(f"uv is missing from the dev virtualenv ({UV}): make setup installs it")
    venv = root / f"venv{version}"
    env = clean_env()
    run([UV, "venv", "--quiet", "--python", interpreter, venv], cwd=root, env=env)
    python = venv / "bin" / "python"
    install = ["pip", "install", "--quiet", "--python", python, built.wheel, "-c", constraints]
    run([UV, *install], cwd=root, env=env)
    purelib = run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=root,
        env=env,
    ).strip()
    return Venv(python, version, Path(purelib))


@pytest.fixture(scope="session")
def venv312(tmp_path_factory: pytest.TempPathFactory, built: Built, constraints: Path) -> Venv:
    return make_venv(tmp_path_factory.mktemp("py312"), "3.12", built, constraints)


@pytest.fixture(scope="session")
def venv313(tmp_path_factory: pytest.TempPathFactory, built: Built, constraints: Path) -> Venv:
    return make_venv(tmp_path_factory.mktemp("py313"), "3.13", built, constraints)


@pytest.fixture(scope="session")
def venv_here(tmp_path_factory: pytest.TempPathFactory, built: Built, constraints: Path) -> Venv:
    """A clean virtualenv of the interpreter running the tests (always there)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return make_venv(tmp_path_factory.mktemp("here"), version, built, constraints)
