"""Snapshots of every example stack: a diff here is a change of infrastructure; review it.

Normalized so that only infrastructure changes show: asset hashes and S3 keys become stable
placeholders (CDK's own assets change with each aws-cdk-lib release), CDK metadata and the
bootstrap version check are dropped.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from examples import EXAMPLE_STACKS

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def normalize(template: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(template)
    result.get("Parameters", {}).pop("BootstrapVersion", None)
    result.get("Rules", {}).pop("CheckBootstrapVersion", None)
    for key in ("Parameters", "Rules", "Conditions"):
        if key in result and not result[key]:
            del result[key]
    resources = result.get("Resources", {})
    for logical_id in [k for k, v in resources.items() if v["Type"] == "AWS::CDK::Metadata"]:
        del resources[logical_id]
    for resource in resources.values():
        resource.pop("Metadata", None)
    return _replace_hashes(result, {})


def _replace_hashes(value: Any, seen: dict[str, str]) -> Any:
    """Give each distinct asset hash a stable placeholder, in order of first appearance."""
    if isinstance(value, dict):
        return {key: _replace_hashes(item, seen) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_hashes(item, seen) for item in value]
    if isinstance(value, str):
        return ASSET_HASH.sub(
            lambda m: seen.setdefault(m.group(0), f"ASSET-{len(seen) + 1}"), value
        )
    return value


def test_normalize_replaces_asset_hashes_and_drops_cdk_metadata() -> None:
    digest = "a" * 64
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"S3Key": f"{digest}.zip"}},
                "Metadata": {"aws:asset:path": f"asset.{digest}"},
            },
            "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {}},
        },
        "Parameters": {"BootstrapVersion": {"Type": "String"}},
        "Rules": {"CheckBootstrapVersion": {}},
    }
    assert normalize(template) == {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"S3Key": "ASSET-1.zip"}},
            }
        }
    }


@pytest.mark.parametrize("name", list(EXAMPLE_STACKS))
def test_example_stack_matches_snapshot(
    name: str, example_templates: dict[str, dict[str, Any]], snapshot: SnapshotAssertion
) -> None:
    assert normalize(example_templates[name]) == snapshot.use_extension(JSONSnapshotExtension)
