"""The two layers the example stacks deploy, assembled the way the library assembles them.

The twin must not import serverless_patterns, so the folder-building is written out here: the
same files, the same content hash, so the layers' asset hashes (and S3 keys) match. Building a
layer is work a user pays for at every synth either way, so the twin does it too.

* Powertools: the pure-Python files of the installed Powertools distributions (and their
  dependencies) under ``python/``, without byte code, compiled extensions or install
  bookkeeping of ``.dist-info``; hashed while copied.
* Stage helper: ``python/serverless_patterns/{__init__,stage}.py``, the helper read as a file
  (not imported) from the library's source folder, the way a user would ship a helper module.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.metadata
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from aws_cdk import AssetHashType
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

ROOT = Path(__file__).resolve().parent.parent.parent
LAMBDA_SRC = ROOT / "lambda_src"
#: The handlers the library ships (the router, translator and probe functions).
PACKAGED_HANDLERS = ROOT / "serverless_patterns" / "_lambda"
#: The file the stage helper layer carries.
STAGE_HELPER = ROOT / "serverless_patterns" / "stage.py"
ASSET_EXCLUDES = ["__pycache__", "*.pyc", "*.pyo"]

POWERTOOLS_DISTRIBUTIONS = (
    "aws-lambda-powertools",
    "jmespath",
    "typing-extensions",
    "aws-xray-sdk",
    "wrapt",
)
_DIST_INFO_KEPT = {"METADATA", "entry_points.txt", "top_level.txt"}
_LICENSE_PREFIXES = ("LICENSE", "LICENCE", "NOTICE", "COPYING", "AUTHORS")
_SKIPPED_SUFFIXES = {".pyc", ".pyo", ".so", ".pyd", ".c", ".h"}
_STAGE_INIT = b'"""serverless-patterns: the runtime stage helper only (FilterPipeline layer)."""\n'

PYTHON_RUNTIMES = [
    lambda_.Runtime.PYTHON_3_10,
    lambda_.Runtime.PYTHON_3_11,
    lambda_.Runtime.PYTHON_3_12,
    lambda_.Runtime.PYTHON_3_13,
    lambda_.Runtime.PYTHON_3_14,
]
ARCHITECTURES = [lambda_.Architecture.ARM_64, lambda_.Architecture.X86_64]


def code(folder: Path) -> lambda_.Code:
    """A function's own folder as its asset."""
    return lambda_.Code.from_asset(str(folder), exclude=ASSET_EXCLUDES)


def _in_layer(path: PurePosixPath) -> bool:
    if path.parts[0] == ".." or "__pycache__" in path.parts:
        return False
    dist_info = next((part for part in path.parts if part.endswith(".dist-info")), None)
    if dist_info is not None:
        inside = path.parts[path.parts.index(dist_info) + 1 :]
        return (
            inside[0] in _DIST_INFO_KEPT
            or inside[0] == "licenses"
            or inside[0].upper().startswith(_LICENSE_PREFIXES)
        )
    return path.suffix not in _SKIPPED_SUFFIXES


@functools.cache
def powertools_folder() -> tuple[str, str]:
    """The Powertools layer's folder and its content hash, built once per process."""
    digest = hashlib.sha256()
    root = Path(tempfile.mkdtemp(prefix="twin-powertools-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    for name in POWERTOOLS_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(name)
        for relative in sorted(PurePosixPath(str(file)) for file in distribution.files or ()):
            if not _in_layer(relative):
                continue
            content = Path(str(distribution.locate_file(relative))).read_bytes()
            destination = root / "python" / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(content)
            digest.update(f"{relative}\0{len(content)}\0".encode())
            digest.update(content)
    return str(root), digest.hexdigest()


@functools.cache
def stage_folder() -> tuple[str, str]:
    """The stage helper layer's folder and its content hash, built once per process."""
    source = STAGE_HELPER.read_bytes()
    root = Path(tempfile.mkdtemp(prefix="twin-stage-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    package = root / "python" / "serverless_patterns"
    package.mkdir(parents=True)
    (package / "__init__.py").write_bytes(_STAGE_INIT)
    (package / "stage.py").write_bytes(source)
    return str(root), hashlib.sha256(_STAGE_INIT + b"\0" + source).hexdigest()


def _layer(
    scope: Construct, id: str, folder: tuple[str, str], description: str
) -> lambda_.LayerVersion:
    directory, content_hash = folder
    return lambda_.LayerVersion(
        scope,
        id,
        code=lambda_.Code.from_asset(
            directory, asset_hash=content_hash, asset_hash_type=AssetHashType.CUSTOM
        ),
        compatible_runtimes=PYTHON_RUNTIMES,
        compatible_architectures=ARCHITECTURES,
        description=description,
    )


def powertools_layer(stack: Construct) -> lambda_.LayerVersion:
    version = importlib.metadata.version("aws-lambda-powertools")
    return _layer(
        stack,
        "PowertoolsLayer",
        powertools_folder(),
        f"Powertools for AWS Lambda (Python) {version}, built from the local install",
    )


def stage_layer(stack: Construct) -> lambda_.LayerVersion:
    return _layer(
        stack,
        "PipelineStageLayer",
        stage_folder(),
        "serverless_patterns.stage: the FilterPipeline stage helper",
    )
