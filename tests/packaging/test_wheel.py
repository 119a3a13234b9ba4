"""The built wheel, installed the plain way (not editable), works in someone else's CDK app.

The wheel is built once and installed into a virtualenv that sees only it and its declared
dependencies (``tests/packaging/conftest.py``). A CDK app then runs from a temporary directory
outside the repository and its synthesized output is inspected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

import serverless_patterns
from tests.packaging.conftest import Built, Venv, clean_env, run

PACKAGE = "serverless_patterns"

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


def _package_files(source: Path) -> set[str]:
    """Every file of the package in the tree that was built."""
    return {
        path.relative_to(source).as_posix()
        for path in (source / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.mark.slow
def test_wheel_holds_the_package_and_nothing_else(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
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
    missing = _package_files(built.source) - names
    assert not missing, f"files of the package missing from the wheel: {sorted(missing)}"
    requirements = {
        line.split(":", 1)[1].strip().split("[")[0].split("<")[0].split(">")[0].lower()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    assert {"aws-cdk-lib", "constructs", "aws-lambda-powertools", "typeguard"} <= requirements


@pytest.mark.slow
def test_installed_wheel_is_what_imports(venv_here: Venv, tmp_path: Path) -> None:
    probe = (
        "import json, sys, serverless_patterns; "
        "print(json.dumps({'file': serverless_patterns.__file__, "
        "'meta_path': [type(f).__module__ for f in sys.meta_path]}))"
    )
    out = run([venv_here.python, "-c", probe], cwd=tmp_path, env=clean_env(venv_here))
    seen = json.loads(out.strip().splitlines()[-1])
    package_file = Path(seen["file"]).resolve()
    assert package_file.is_relative_to(venv_here.site_packages.resolve()), (
        f"serverless_patterns was imported from {package_file}, not from the wheel installed in "
        f"{venv_here.site_packages}"
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
def consumer(venv_here: Venv, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The consumer app synthesized once: its output directory and what it printed."""
    workdir = tmp_path_factory.mktemp("consumer")
    app = workdir / "app.py"
    app.write_text(_APP)
    outdir = workdir / "cdk.out"
    out = run([venv_here.python, app, outdir], cwd=workdir, env=clean_env(venv_here))
    return outdir, out


@pytest.mark.slow
def test_consumer_app_synthesizes_from_outside_the_repo(
    venv_here: Venv, consumer: tuple[Path, str]
) -> None:
    outdir, out = consumer
    package_file = Path(json.loads(out.strip().splitlines()[-1])["package_file"]).resolve()
    assert package_file.is_relative_to(venv_here.site_packages.resolve()), package_file

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
    venv_here: Venv, consumer: tuple[Path, str]
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
    installed_stage = venv_here.site_packages / PACKAGE / "stage.py"
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
