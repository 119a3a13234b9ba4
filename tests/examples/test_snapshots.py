"""Snapshots of every example stack: a diff here is a change of infrastructure; review it.

Normalized by the testing kit (serverless_patterns.testing.snapshots), as users' snapshots
are: named asset placeholders, no CDK metadata, no bootstrap version check.
"""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from examples import EXAMPLE_STACKS
from serverless_patterns.testing import normalize_template
from serverless_patterns.testing.syrupy import TemplateSnapshotExtension


def test_normalize_names_assets_and_drops_cdk_metadata() -> None:
    user, unknown = "a" * 64, "b" * 64
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"S3Key": f"{user}.zip"}},
                "Metadata": {
                    "aws:asset:path": f"asset.{user}",
                    "aws:cdk:path": "App/Orders/Fn/Resource",
                },
            },
            "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {}},
        },
        "Outputs": {"Key": {"Value": f"{unknown}.json"}},
        "Parameters": {"BootstrapVersion": {"Type": "String"}},
        "Rules": {"CheckBootstrapVersion": {}},
    }
    assert normalize_template(template) == {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"S3Key": "ASSET[App/Orders/Fn].zip"}},
            }
        },
        "Outputs": {"Key": {"Value": "ASSET-1.json"}},
    }


@pytest.mark.parametrize("name", list(EXAMPLE_STACKS))
def test_example_stack_matches_snapshot(
    name: str, example_templates: dict[str, dict[str, Any]], snapshot: SnapshotAssertion
) -> None:
    assert example_templates[name] == snapshot.use_extension(TemplateSnapshotExtension)
