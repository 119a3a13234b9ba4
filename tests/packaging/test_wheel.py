"""The built wheel, installed the plain way (not editable), works in someone else's CDK app.

The wheel is built offline with the dev interpreter's own setuptools (no build isolation, no
index), from a copy of the work tree without build leftovers (``build/``, ``*.egg-info``), so
a stale ``build/lib`` can neither hide a missing file nor smuggle in a deleted one, and the
repository is left untouched. It is installed into a fresh virtualenv; the dev virtualenv's
site-packages is made visible there through a ``.pth`` file so aws-cdk-lib is not downloaded
again. Lines of a ``.pth`` file only extend ``sys.path``: the ``.pth`` files inside the dev
site-packages (among them the editable install of this package) are not processed, which the
test checks rather than assumes. A CDK app then runs from a temporary directory outside the
repository and its synthesized output is inspected.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import serverless_patterns

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "serverless_patterns"

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

_APP = textwrap.dedent(
    """\
    import json
    import sys

    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    import serverless_patterns
    from serverless_patterns import (
        FilterPipeline,
        ProbeTarget,
        QueueWorker,
        ScheduledProbe,
        ServerlessFunction,
        Stage,
    )

    outdir = sys.argv[1]
    app = cdk.App(outdir=outdir, analytics_reporting=False)
    stack = cdk.Stack(app, "ConsumerStack")
    fn = ServerlessFunction(
        stack,
        "Worker",
        code=lambda_.Code.from_inline("def handler(event, context):\\n    return {}\\n"),
        handler="index.handler",
    )
    QueueWorker(stack, "Jobs", handler=fn)
    ScheduledProbe(stack, "Probe", targets=[ProbeTarget(url="https://example.com/")])
    stage = ServerlessFunction(
        stack,
        "StageFunction",
        code=lambda_.Code.from_inline("def handler(event, context):\\n    return {}\\n"),
        handler="index.handler",
    )
    FilterPipeline(stack, "Pipeline", stages=[Stage(name="only", handler=stage)])
    app.synth()
    print(json.dumps({"package_file": serverless_patterns.__file__}))
    """
)


@dataclass(frozen=True)
class Installed:
    source: Path
    wheel: Path
    python: Path
    site_packages: Path
    workdir: Path


def _env(*, for_clean_venv: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    env["PIP_NO_INDEX"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if for_clean_venv:
        # Nothing of the repository or the dev virtualenv may leak in except through the .pth.
        for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
            env.pop(name, None)
    return env


def _run(args: list[str | Path], *, cwd: Path, env: dict[str, str], hint: str = "") -> str:
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}{hint}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
    return result.stdout


def _build_hint() -> str:
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        version = "0 (not installed)"
    if int(version.split(".")[0]) >= 77:
        return ""
    return (
        f"\n(the dev virtualenv builds with its own setuptools, here {version}: pyproject.toml "
        "uses a PEP 639 license string, which needs setuptools>=77 in the dev dependencies)"
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO_ROOT, source, ignore=_NOT_SOURCE, symlinks=True)
    dist = root / "dist"
    dist.mkdir()
    build_env = _env(for_clean_venv=False)
    build = ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, source]
    _run(
        [sys.executable, "-m", "pip", *build],
        cwd=root,
        env=build_env,
        hint=_build_hint(),
    )
    wheels = sorted(dist.glob("*.whl"))
    assert len(wheels) == 1, f"expected exactly one wheel, got {[w.name for w in wheels]}"

    venv = root / "venv"
    clean_env = _env(for_clean_venv=True)
    _run([sys.executable, "-m", "venv", venv], cwd=root, env=clean_env)
    python = venv / "bin" / "python"
    purelib = _run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=root,
        env=clean_env,
    ).strip()
    site_packages = Path(purelib)
    dev_site_packages = sysconfig.get_paths()["purelib"]
    (site_packages / "dev_dependencies.pth").write_text(f"{dev_site_packages}\n")
    _run(
        [python, "-m", "pip", "install", "--no-deps", "--no-index", wheels[0]],
        cwd=root,
        env=clean_env,
    )
    workdir = root / "consumer"
    workdir.mkdir()
    return Installed(source, wheels[0], python, site_packages, workdir)


def _package_files(source: Path) -> set[str]:
    """Every file of the package in the tree that was built."""
    return {
        path.relative_to(source).as_posix()
        for path in (source / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.mark.slow
def test_wheel_holds_the_package_and_nothing_else(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = wheel.read(f"{dist_info}/METADATA").decode()

    assert f"{PACKAGE}/py.typed" in names
    assert f"{PACKAGE}/queue_worker.py" in names
    top_levels = {name.split("/")[0] for name in names}
    assert top_levels == {PACKAGE, dist_info}, f"unexpected top-level entries: {top_levels}"
    for unwanted in ("tests/", "examples/", "lambda_src/"):
        assert not [n for n in names if n.startswith(unwanted)], f"{unwanted} is in the wheel"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    missing = _package_files(installed.source) - names
    assert not missing, f"files of the package missing from the wheel: {sorted(missing)}"
    requirements = {
        line.split(":", 1)[1].strip().split("[")[0].split("<")[0].split(">")[0].lower()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    assert {"aws-cdk-lib", "constructs", "aws-lambda-powertools"} <= requirements


@pytest.mark.slow
def test_installed_wheel_is_what_imports(installed: Installed) -> None:
    probe = (
        "import json, sys, serverless_patterns; "
        "print(json.dumps({'file': serverless_patterns.__file__, "
        "'meta_path': [type(f).__module__ for f in sys.meta_path]}))"
    )
    out = _run(
        [installed.python, "-c", probe],
        cwd=installed.workdir,
        env=_env(for_clean_venv=True),
    )
    seen = json.loads(out.strip().splitlines()[-1])
    package_file = Path(seen["file"]).resolve()
    assert package_file.is_relative_to(installed.site_packages.resolve()), (
        f"serverless_patterns was imported from {package_file}, not from the wheel installed in "
        f"{installed.site_packages}"
    )
    assert not [m for m in seen["meta_path"] if "__editable__" in m], seen["meta_path"]


def _asset_path(outdir: Path, stack: str, layer: dict[str, Any]) -> str:
    """The staged folder of a layer's code, as the assets manifest names it.

    ``aws:asset:path`` metadata is only written when the CDK CLI asks for it, so the layer's
    S3 key is looked up among the manifest's file destinations instead.
    """
    metadata_path = layer.get("Metadata", {}).get("aws:asset:path")
    if metadata_path:
        return str(metadata_path)
    code = layer["Properties"].get("Content") or layer["Properties"]["Code"]
    key = code["S3Key"]
    manifest = json.loads((outdir / f"{stack}.assets.json").read_text())
    paths = [
        asset["source"]["path"]
        for asset in manifest["files"].values()
        if any(d["objectKey"] == key for d in asset["destinations"].values())
    ]
    assert len(paths) == 1, f"no single asset with object key {key} in {manifest}"
    return str(paths[0])


@pytest.fixture(scope="module")
def consumer(installed: Installed) -> tuple[Path, str]:
    """The consumer app synthesized once: its output directory and what it printed."""
    app = installed.workdir / "app.py"
    app.write_text(_APP)
    outdir = installed.workdir / "cdk.out"
    out = _run(
        [installed.python, app, outdir],
        cwd=installed.workdir,
        env=_env(for_clean_venv=True),
    )
    return outdir, out


@pytest.mark.slow
def test_consumer_app_synthesizes_from_outside_the_repo(
    installed: Installed, consumer: tuple[Path, str]
) -> None:
    outdir, out = consumer
    package_file = Path(json.loads(out.strip().splitlines()[-1])["package_file"]).resolve()
    assert package_file.is_relative_to(installed.site_packages.resolve()), package_file

    template: dict[str, Any] = json.loads((outdir / "ConsumerStack.template.json").read_text())
    resources: dict[str, dict[str, Any]] = template["Resources"]

    def of_type(kind: str) -> list[dict[str, Any]]:
        return [r for r in resources.values() if r["Type"] == kind]

    layers = of_type("AWS::Lambda::LayerVersion")
    assert len(layers) == 2, layers  # Powertools, and the pipeline's stage helper
    # QueueWorker's queue and DLQ, the probe's on-failure queue and schedule DLQ, the pipeline
    # stage's queue and DLQ and its rejected queue.
    assert len(of_type("AWS::SQS::Queue")) == 7
    mappings = of_type("AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 2, mappings
    assert all(
        m["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings
    )

    (powertools,) = [
        layer for layer in layers if "Powertools" in layer["Properties"]["Description"]
    ]
    layer_dir = outdir / _asset_path(outdir, "ConsumerStack", powertools)
    assert layer_dir.is_dir(), f"layer asset {layer_dir.name} not staged in {outdir}"
    assert (layer_dir / "python" / "aws_lambda_powertools" / "__init__.py").is_file(), sorted(
        p.name for p in (layer_dir / "python").iterdir()
    )


@pytest.mark.slow
def test_packaged_handler_code_deploys_from_the_installed_wheel(
    consumer: tuple[Path, str],
) -> None:
    """The probe's handler ships in the wheel and is staged as that function's only code."""
    outdir, _ = consumer
    template = json.loads((outdir / "ConsumerStack.template.json").read_text())
    probes = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "PROBE_TARGETS" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert len(probes) == 1, probes
    code_dir = outdir / _asset_path(outdir, "ConsumerStack", probes[0])
    assert sorted(p.name for p in code_dir.iterdir()) == ["app.py"]


@pytest.mark.slow
def test_stage_helper_layer_is_built_from_the_installed_wheel(
    installed: Installed, consumer: tuple[Path, str]
) -> None:
    """The stage layer holds the installed ``serverless_patterns/stage.py`` and a stub package."""
    outdir, _ = consumer
    template = json.loads((outdir / "ConsumerStack.template.json").read_text())
    (layer,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::LayerVersion"
        and "stage helper" in r["Properties"]["Description"]
    ]
    package = outdir / _asset_path(outdir, "ConsumerStack", layer) / "python" / PACKAGE
    assert sorted(p.name for p in package.iterdir()) == ["__init__.py", "stage.py"]
    installed_stage = installed.site_packages / PACKAGE / "stage.py"
    assert (package / "stage.py").read_bytes() == installed_stage.read_bytes()
    assert "import aws_cdk" not in (package / "__init__.py").read_text()


def test_every_public_name_is_exported_and_importing_the_stage_helper_skips_aws_cdk() -> None:
    """Run in a fresh interpreter: this test session has imported aws_cdk long ago."""
    script = textwrap.dedent(
        """\
        import json, sys
        import serverless_patterns.stage
        before = "aws_cdk" in sys.modules
        import serverless_patterns
        names = {name: type(getattr(serverless_patterns, name)).__name__
                 for name in serverless_patterns.__all__}
        print(json.dumps({"before": before, "after": "aws_cdk" in sys.modules,
                          "names": names, "dir": sorted(set(serverless_patterns.__all__)
                                                         - set(dir(serverless_patterns)))}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
    ).stdout
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["before"] is False
    assert seen["after"] is True
    assert sorted(seen["names"]) == sorted(serverless_patterns.__all__)
    assert seen["dir"] == []
