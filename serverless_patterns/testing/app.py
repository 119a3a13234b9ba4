"""An App as ``cdk synth`` builds it, for tests of a user's stacks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk


def find_cdk_json(start: str | Path | None = None) -> Path | None:
    """The ``cdk.json`` of ``start`` (default: the working directory) or of its parents."""
    folder = Path(start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / "cdk.json").is_file():
            return candidate / "cdk.json"
    return None


def cdk_context(cdk_json: str | Path | None = None) -> dict[str, Any]:
    """The ``context`` of ``cdk_json`` (default: the nearest one, see :func:`find_cdk_json`):
    feature flags and the app's own values; empty where there is no cdk.json."""
    path = Path(cdk_json) if cdk_json is not None else find_cdk_json()
    if path is None:
        return {}
    if not path.is_file():
        raise FileNotFoundError(f"cdk_context: no cdk.json at {path}")
    try:
        document = json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"cdk_context: {path} is not JSON: {error}") from None
    context = document.get("context", {}) if isinstance(document, dict) else {}
    if not isinstance(context, dict):
        raise ValueError(f"cdk_context: the context of {path} is not a JSON object")
    return dict(context)


def synth_app(
    cdk_json: str | Path | None = None,
    *,
    context: dict[str, Any] | None = None,
    stage_assets: bool = False,
) -> cdk.App:
    """A ``cdk.App`` with the context and feature flags of the app's ``cdk.json`` (the nearest
    one when ``cdk_json`` is None), so that a test builds the template ``cdk synth`` builds.

    Args:
        cdk_json: the app's cdk.json. Default: the nearest one above the working directory.
        context: more context values, over cdk.json's. Default none.
        stage_assets: copy asset folders into the output directory, as ``cdk synth`` does.
            Default False: staging changes only asset metadata, never the template, and costs
            a copy of every asset per test.
    """
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    # The CLI's own context: construct paths and asset paths in each resource's Metadata.
    values = {
        "aws:cdk:enable-path-metadata": True,
        "aws:cdk:enable-asset-metadata": True,
        **cdk_context(cdk_json),
        **(context or {}),
    }
    if not stage_assets:
        values["aws:cdk:disable-asset-staging"] = True
    return cdk.App(context=values, analytics_reporting=False)
