"""Handler code that constructs deploy themselves, shipped inside the package.

Each folder ``serverless_patterns/_lambda/<name>/`` is one function's asset (its own code only).
It is package data, found through ``importlib.resources``, so a plain (non-editable)
``pip install`` of the library can deploy it from any CDK app.
"""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from aws_cdk import aws_lambda as lambda_

from serverless_patterns.functions import ASSET_EXCLUDES


def packaged_handler_directory(name: str) -> Path:
    """The folder of the packaged handler ``name`` (a real directory on disk)."""
    directory = Path(str(importlib.resources.files("serverless_patterns") / "_lambda" / name))
    if not (directory / "app.py").is_file():
        raise FileNotFoundError(
            f"The packaged handler '{name}' is missing at {directory}: "
            "reinstall serverless-patterns"
        )
    return directory


def packaged_handler_code(name: str) -> lambda_.Code:
    """``lambda_.Code`` of the packaged handler ``name``."""
    return lambda_.Code.from_asset(str(packaged_handler_directory(name)), exclude=ASSET_EXCLUDES)


@functools.cache
def packaged_module(name: str, module: str) -> ModuleType:
    """A standard-library-only module of a packaged handler (``translator``/``routes``), loaded
    from its file under a private name, so that synthesis checks with the handler's own code."""
    path = packaged_handler_directory(name) / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"serverless_patterns._{name}_{module}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{path} is missing: reinstall serverless-patterns")
    loaded = importlib.util.module_from_spec(spec)
    # Registered: its dataclasses look their module up in sys.modules.
    sys.modules[spec.name] = loaded
    spec.loader.exec_module(loaded)
    return loaded
