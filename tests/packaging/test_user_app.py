"""A user's own app, from the built wheel, on the user's Python versions.

The app (``tests/packaging/user_app``) is laid over what ``cdk init app --language python``
writes into an empty folder outside the repository, and synthesized by the CDK CLI from a
virtualenv that holds only the wheel and its declared dependencies: once under Python 3.12 and
once under 3.13, which must give the same asset hashes. Its own plain functions on python3.12
and python3.13 join every construct that takes a function, across three stacks that refer to
each other one way.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.packaging.conftest import REPO_ROOT, Venv, clean_env, find_python, run

USER_APP = Path(__file__).parent / "user_app"
CDK = REPO_ROOT / "node_modules" / ".bin" / "cdk"
STACKS = ("Platform", "Services", "Api")


def synthesize(venv: Venv, root: Path) -> Path:
    """``cdk init``, the user's files over it, ``cdk synth``: the cloud assembly folder."""
    project = root / "user_app"  # cdk init names the package after the folder
    project.mkdir()
    env = clean_env(venv)
    run([CDK, "init", "app", "--language", "python", "--generate-only"], cwd=project, env=env)
    shutil.copytree(USER_APP, project, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.md"))
    run([CDK, "synth", "--quiet", "--output", "cdk.out"], cwd=project, env=env)
    return project / "cdk.out"


@pytest.fixture(scope="module")
def outs(venv312: Venv, venv313: Venv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The app synthesized under both Pythons, side by side (each is a subprocess)."""
    roots = {
        venv.version: (venv, tmp_path_factory.mktemp(f"app{venv.version}"))
        for venv in (venv312, venv313)
    }
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {version: pool.submit(synthesize, *args) for version, args in roots.items()}
        return {version: future.result() for version, future in futures.items()}


@pytest.fixture(scope="module")
def out312(outs: dict[str, Path]) -> Path:
    return outs["3.12"]


@pytest.fixture(scope="module")
def out313(outs: dict[str, Path]) -> Path:
    return outs["3.13"]


def template(out: Path, stack: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((out / f"{stack}.template.json").read_text())
    return loaded


def resources(out: Path, stack: str, kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template(out, stack)["Resources"].items()
        if resource["Type"] == kind
    }


def asset_hashes(out: Path) -> dict[str, list[str]]:
    """Stack -> the ids (content hashes) of its code and layer assets (not its template)."""
    return {
        stack: sorted(
            asset_id
            for asset_id, asset in json.loads((out / f"{stack}.assets.json").read_text())[
                "files"
            ].items()
            if not asset["source"]["path"].endswith(".template.json")
        )
        for stack in STACKS
    }


def without_cdk_metadata(out: Path, stack: str) -> dict[str, Any]:
    """The template without CDK's version report, which names the Python that ran the app."""
    loaded = template(out, stack)
    loaded["Resources"] = {
        name: resource
        for name, resource in loaded["Resources"].items()
        if resource["Type"] != "AWS::CDK::Metadata"
    }
    loaded.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    return loaded


def staged_layer(out: Path, stack: str, description: str) -> Path:
    manifest = json.loads((out / f"{stack}.assets.json").read_text())
    (layer,) = [
        layer
        for layer in resources(out, stack, "AWS::Lambda::LayerVersion").values()
        if description in layer["Properties"]["Description"]
    ]
    key = layer["Properties"]["Content"]["S3Key"]
    (path,) = [
        asset["source"]["path"]
        for asset in manifest["files"].values()
        if any(d["objectKey"] == key for d in asset["destinations"].values())
    ]
    return out / path


@pytest.fixture(scope="module")
def lambda_runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What Lambda's Python runtime has besides the standard library: boto3 and its own."""
    folder = tmp_path_factory.mktemp("var-runtime")
    for name in ("boto3", "botocore", "s3transfer", "urllib3", "dateutil", "six.py"):
        module = importlib.util.find_spec(name.removesuffix(".py"))
        assert module is not None, name
        assert module.origin is not None, name
        origin = Path(module.origin)
        (folder / name).symlink_to(origin if name.endswith(".py") else origin.parent)
    return folder


@pytest.mark.slow
def test_the_clean_venv_lacks_boto3_and_imports_every_public_name(venv312: Venv) -> None:
    script = textwrap.dedent(
        """\
        import importlib.util, json, serverless_patterns as sp
        names = {n: type(getattr(sp, n)).__name__ for n in sp.__all__}
        boto3 = importlib.util.find_spec("boto3") is not None
        print(json.dumps({"boto3": boto3, "names": names, "file": sp.__file__}))
        """
    )
    seen = json.loads(
        run([venv312.python, "-c", script], cwd=REPO_ROOT.parent, env=clean_env(venv312))
    )
    assert seen["boto3"] is False, "the user's venv must not have boto3 (not a dependency)"
    assert Path(seen["file"]).is_relative_to(venv312.site_packages)
    assert "FilterPipeline" in seen["names"]


@pytest.mark.slow
def test_the_stacks_depend_one_way_and_synthesize_without_a_cycle(out312: Path) -> None:
    manifest = json.loads((out312 / "manifest.json").read_text())
    depends = {
        name: sorted(d for d in artifact.get("dependencies", []) if d in STACKS)
        for name, artifact in manifest["artifacts"].items()
        if name in STACKS
    }
    assert depends == {"Platform": [], "Services": ["Platform"], "Api": ["Platform", "Services"]}


@pytest.mark.slow
def test_what_refers_to_a_function_lives_in_the_functions_stack(out312: Path) -> None:
    """Mappings and subscriptions of constructs in Platform sit beside their functions."""
    assert not resources(out312, "Platform", "AWS::Lambda::EventSourceMapping")
    mappings = resources(out312, "Services", "AWS::Lambda::EventSourceMapping")
    # Events worker, Jobs, Clicks (two consumers), Orders' two stages, Imports, Reports.
    assert len(mappings) == 8, sorted(mappings)
    subscriptions = resources(out312, "Services", "AWS::SNS::Subscription")
    assert [s["Properties"]["Protocol"] for s in subscriptions.values()] == ["lambda"]
    assert json.loads(
        json.dumps(next(iter(subscriptions.values()))["Properties"]["FilterPolicy"])
    ) == {"type": ["OrderPlaced", {"prefix": "Refund"}]}


@pytest.mark.slow
def test_user_functions_on_312_and_313_get_the_layers_they_need(out312: Path) -> None:
    functions = resources(out312, "Services", "AWS::Lambda::Function")
    layers = resources(out312, "Services", "AWS::Lambda::LayerVersion")
    by_description = {
        layer["Properties"]["Description"].split(" ")[0]: name for name, layer in layers.items()
    }
    powertools, stage = by_description["Powertools"], by_description["serverless_patterns.stage:"]
    stage_functions = {
        name: function
        for name, function in functions.items()
        if name.startswith(("Validate", "Enrich", "Screen", "Persist"))
    }
    assert {f["Properties"]["Runtime"] for f in stage_functions.values()} == {
        "python3.12",
        "python3.13",
    }
    for name, function in stage_functions.items():
        refs = [layer.get("Ref") for layer in function["Properties"].get("Layers", [])]
        assert sorted(refs) == sorted([powertools, stage]), (name, refs)
    for layer in layers.values():
        properties = layer["Properties"]
        assert {"python3.12", "python3.13"} <= set(properties["CompatibleRuntimes"])
        assert set(properties["CompatibleArchitectures"]) == {"arm64", "x86_64"}


@pytest.mark.slow
def test_asset_hashes_are_the_same_under_python_3_12_and_3_13(out312: Path, out313: Path) -> None:
    first, second = asset_hashes(out312), asset_hashes(out313)
    assert first == second
    # The user's three code folders, the router, translator and probe code, both layers.
    assert len({asset for ids in first.values() for asset in ids}) == 8, first
    for stack in STACKS:
        assert without_cdk_metadata(out312, stack) == without_cdk_metadata(out313, stack), stack


#: Run by each clean virtualenv's own Python: the kit as a user's snapshot test runs it.
NORMALIZE = """
import json, sys
from serverless_patterns.testing import normalize_template
out, stacks = sys.argv[1], sys.argv[2:]
normalized = {s: normalize_template(json.load(open(f"{out}/{s}.template.json"))) for s in stacks}
print(json.dumps(normalized, sort_keys=True))
"""


@pytest.fixture(scope="module")
def normalized(outs: dict[str, Path], venv312: Venv, venv313: Venv) -> dict[str, dict[str, Any]]:
    """Each version's templates, normalized by the kit installed from the wheel in that
    version's virtualenv."""
    found = {}
    for venv in (venv312, venv313):
        out = outs[venv.version]
        printed = run([venv.python, "-c", NORMALIZE, out, *STACKS], cwd=out, env=clean_env(venv))
        found[venv.version] = json.loads(printed.strip().splitlines()[-1])
    return found


@pytest.mark.slow
def test_the_kits_snapshots_of_the_users_app_are_the_same_under_3_12_and_3_13(
    normalized: dict[str, dict[str, Any]], snapshot: SnapshotAssertion
) -> None:
    assert normalized["3.12"] == normalized["3.13"]
    text = json.dumps(normalized["3.12"])
    assert "ASSET[serverless-patterns:powertools-layer]" in text  # the library's, by name
    assert not re.search(r"[0-9a-f]{64}", text)  # no hash left to follow code changes
    assert normalized["3.12"] == snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.slow
def test_powertools_layer_holds_no_install_bookkeeping(out312: Path) -> None:
    layer = staged_layer(out312, "Services", "Powertools")
    files = [p for p in layer.rglob("*") if p.is_file()]
    assert files
    bookkeeping = {"WHEEL", "RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    assert not [p for p in files if p.name in bookkeeping or p.suffix in {".pyc", ".so"}]
    assert (layer / "python" / "aws_lambda_powertools" / "__init__.py").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.10", "3.11", "3.12", "3.13"])
def test_a_stage_function_runs_from_its_layers_on_each_runtime(
    out312: Path, lambda_runtime: Path, version: str
) -> None:
    """The user's stage code runs as Lambda lays it out: its code, then the layers' python/.

    ``-S`` keeps every site-packages away: on the import path are only the function's folder,
    the two layers and, last, what Lambda's runtime brings (boto3 and botocore, which the X-Ray
    SDK imports), taken from the dev virtualenv.
    """
    interpreter = find_python(version)
    if interpreter is None:
        pytest.skip(f"Python {version} is not installed here (pyenv or PATH)")
    code = USER_APP / "functions" / "stages"
    paths = [
        code,
        staged_layer(out312, "Services", "serverless_patterns.stage") / "python",
        staged_layer(out312, "Services", "Powertools") / "python",
        lambda_runtime,
    ]
    script = textwrap.dedent(
        """\
        import json, sys, types
        import index
        context = types.SimpleNamespace(
            function_name="Validate", memory_limit_in_mb=128, aws_request_id="r-1",
            invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:Validate",
        )
        result = index.handler({"pipelineStage": "validate", "item": {"id": 1}}, context)
        print(json.dumps({"result": result, "version": list(sys.version_info[:2])}))
        """
    )
    env = {
        **clean_env(),
        "PYTHONPATH": ":".join(map(str, paths)),
        "POWERTOOLS_SERVICE_NAME": "stage",
        "POWERTOOLS_METRICS_NAMESPACE": "UserApp",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    seen = json.loads(run([interpreter, "-S", "-c", script], cwd=code, env=env).splitlines()[-1])
    assert seen["version"] == [int(part) for part in version.split(".")]
    assert seen["result"] == {"outcome": "passed", "item": {"id": 1, "seen": True}}
