"""Locate the code of the example functions in ``lambda_src/``, one asset per function."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_

from serverless_patterns import ASSET_EXCLUDES

LAMBDA_SRC = Path(__file__).resolve().parent.parent / "lambda_src"


def lambda_code(name: str) -> lambda_.Code:
    """The asset of ``lambda_src/<name>/``: that function's own code and nothing else."""
    return lambda_.Code.from_asset(str(LAMBDA_SRC / name), exclude=ASSET_EXCLUDES)
