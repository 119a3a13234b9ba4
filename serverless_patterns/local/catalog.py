"""What is deployed in the emulator, read from its own CloudFormation stacks (in process).

The runtime works from the templates as deployed, so it serves any CDK app deployed into the
emulator, not only this project's examples: each resource comes with its properties resolved
(``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::ImportValue``... by moto's own resolver) and, where
moto created it, its physical id.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

#: Stack states whose resources exist.
LIVE_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}


@dataclass(frozen=True)
class Resource:
    stack_name: str
    logical_id: str
    type: str
    properties: dict[str, Any]
    physical_id: str | None
    account: str
    region: str
    #: The properties as the template has them (``Ref`` to a resource moto skipped, such as an
    #: API's model or stage, names its logical id here).
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.stack_name}/{self.logical_id}"


def _stacks() -> Iterator[tuple[str, str, Any]]:
    from moto.cloudformation.models import cloudformation_backends

    for account, regions in list(cloudformation_backends.items()):
        for region, backend in list(regions.items()):
            for stack in list(backend.stacks.values()):
                if stack.status in LIVE_STATES:
                    yield account, region, stack


def _resolve(value: Any, resource_map: Any) -> Any:
    from moto.cloudformation.parsing import clean_json

    try:
        return _plain(clean_json(copy.deepcopy(value), resource_map))
    except Exception:  # an intrinsic moto cannot resolve: the resource is left out
        return None


def _plain(value: Any) -> Any:
    """JSON values only: a ``Ref`` to a model without a physical id (a layer version, say)
    resolves to the model itself in moto; it stands for its ARN."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    for name in ("arn", "physical_resource_id"):
        with contextlib.suppress(Exception):
            found = getattr(value, name)
            if isinstance(found, str):
                return found
    return str(value)


def resources(*types: str, partial: bool = False) -> list[Resource]:
    """Every live resource of the given types (all types when none are given). A resource with
    a property moto cannot resolve is left out, or, with ``partial``, kept without it."""
    found = []
    for account, region, stack in _stacks():
        template = stack.template_dict or {}
        resource_map = stack.resource_map
        parsed = getattr(resource_map, "_parsed_resources", {})
        for logical_id, body in (template.get("Resources") or {}).items():
            kind = body.get("Type", "")
            if types and kind not in types:
                continue
            raw = body.get("Properties") or {}
            properties = _resolve(raw, resource_map)
            if properties is None and not partial:
                continue
            if properties is None:
                properties = {
                    name: value
                    for name, value in ((n, _resolve(v, resource_map)) for n, v in raw.items())
                    if value is not None
                }
            physical_id = None
            model = parsed.get(logical_id)
            with contextlib.suppress(Exception):
                physical_id = model.physical_resource_id if model is not None else None
            found.append(
                Resource(
                    stack_name=stack.name,
                    logical_id=logical_id,
                    type=kind,
                    properties=properties,
                    physical_id=physical_id,
                    account=account,
                    region=region,
                    raw=raw,
                )
            )
    return found


def function_resource(function_name: str) -> Resource | None:
    """The template resource of a deployed function, by its name."""
    for resource in resources("AWS::Lambda::Function"):
        if resource.physical_id == function_name:
            return resource
    return None
