"""Handler code that constructs deploy themselves, shipped inside the package.

Each folder ``serverless_patterns/_lambda/<name>/`` is one function's asset (its own code only).
It is package data, found through ``importlib.resources``, so a plain (non-editable)
``pip install`` of the library can deploy it from any CDK app.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

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
