"""Templates normalized for snapshots: a snapshot changes only when infrastructure does.

:func:`normalize_template` drops what changes without the infrastructure changing (CDK's
metadata, the bootstrap version check) and replaces each asset hash with a placeholder that says
which asset it is: ``ASSET[serverless-patterns:router]`` for the library's own code and layers,
``ASSET[<construct path>]`` for the user's (the path of the resource that deploys it), so a
snapshot neither changes with the library's handler code nor with the machine.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

import aws_cdk as cdk
from constructs import Construct

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def template_of(stack: cdk.Stack) -> dict[str, Any]:
    """The synthesized template of ``stack`` (a dict)."""
    from aws_cdk.assertions import Template

    return dict(Template.from_stack(stack).to_json())


@functools.cache
def library_assets() -> dict[str, str]:
    """The hash of each asset the library deploys itself, to its placeholder name (read from a
    scratch stack that deploys each of them once)."""
    from serverless_patterns import _assets, filter_pipeline, functions

    app = cdk.App(context={"aws:cdk:disable-asset-staging": True}, analytics_reporting=False)
    stack = cdk.Stack(app, "LibraryAssets")
    owners = {
        stack.get_logical_id(functions.powertools_layer_for(stack).node.default_child): (  # type: ignore[arg-type]
            "powertools-layer"
        ),
        stack.get_logical_id(filter_pipeline.stage_layer_for(stack).node.default_child): (  # type: ignore[arg-type]
            "stage-layer"
        ),
    }
    folder = _assets.packaged_handler_directory("router").parent
    for handler in sorted(p.name for p in folder.iterdir() if (p / "app.py").is_file()):
        function = cdk.aws_lambda.Function(
            Construct(stack, handler),
            "Function",
            runtime=cdk.aws_lambda.Runtime.PYTHON_3_12,
            handler="app.handler",
            code=_assets.packaged_handler_code(handler),
        )
        owners[stack.get_logical_id(function.node.default_child)] = handler  # type: ignore[arg-type]
    names = {}
    for logical_id, resource in template_of(stack)["Resources"].items():
        if logical_id in owners:
            for digest in ASSET_HASH.findall(repr(resource.get("Properties", {}))):
                names[digest] = f"serverless-patterns:{owners[logical_id]}"
    return names


def normalize_template(template: dict[str, Any] | cdk.Stack) -> dict[str, Any]:
    """``template`` (or a stack's template) without CDK metadata and bootstrap rules, with
    named asset placeholders (see the module's documentation)."""
    source = template_of(template) if isinstance(template, cdk.Stack) else template
    result = copy.deepcopy(source)
    result.get("Parameters", {}).pop("BootstrapVersion", None)
    result.get("Rules", {}).pop("CheckBootstrapVersion", None)
    resources = result.get("Resources", {})
    names = dict(library_assets())
    for logical_id, resource in resources.items():  # user assets: by the deploying resource
        path = str(resource.get("Metadata", {}).get("aws:cdk:path", logical_id))
        for digest in ASSET_HASH.findall(repr(resource.get("Properties", {}))):
            names.setdefault(digest, path.removesuffix("/Resource"))
    for logical_id in [k for k, v in resources.items() if v.get("Type") == "AWS::CDK::Metadata"]:
        del resources[logical_id]
    for resource in resources.values():
        resource.pop("Metadata", None)
    for key in ("Parameters", "Rules", "Conditions"):
        if key in result and not result[key]:
            del result[key]
    normalized: dict[str, Any] = _replace(result, names, {})
    return normalized


def _replace(value: Any, names: dict[str, str], seen: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _replace(item, names, seen) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace(item, names, seen) for item in value]
    if isinstance(value, str):
        return ASSET_HASH.sub(lambda m: _placeholder(m.group(0), names, seen), value)
    return value


def _placeholder(digest: str, names: dict[str, str], seen: dict[str, str]) -> str:
    if digest in names:
        return f"ASSET[{names[digest]}]"
    return seen.setdefault(digest, f"ASSET-{len(seen) + 1}")  # named by no resource
