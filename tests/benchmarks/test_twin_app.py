"""The twin app (benchmarks/twin_app.py) builds the example app's templates without the library.

The cold synth benchmark divides ``python app.py`` by ``python benchmarks/twin_app.py``: that is
a fair ratio only while the twin makes the same stacks. Each app is synthesized once, with
cdk.json's context as ``cdk synth`` passes it; per stack, the resources (less their
``Metadata``: cdk-nag and cfn-lint notes, construct paths) and the Outputs, Parameters,
Conditions and Rules must be equal.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from benchmarks.cdk_common import resources_without_metadata
from benchmarks.twin_app import build_twin_examples
from examples import build_examples
from tests.support import new_app

#: Template sections compared besides the resources.
SECTIONS = ("Outputs", "Parameters", "Conditions", "Rules")
#: At most this many differences are listed per stack.
SHOWN = 40
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
TWIN_SOURCES = [BENCHMARKS / "twin_app.py", *sorted((BENCHMARKS / "twin_examples").glob("*.py"))]


@pytest.fixture(scope="module")
def templates() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The example app's templates and the twin app's, by stack name.

    Both apps are built before either is synthesized: asset hashes are taken when a stack is
    built, so the two see the asset folders as close together in time as they can.
    """
    examples, twins = build_examples(new_app()), build_twin_examples(new_app())
    return (
        {stack.stack_name: Template.from_stack(stack).to_json() for stack in examples},
        {stack.stack_name: Template.from_stack(stack).to_json() for stack in twins},
    )


@pytest.fixture(scope="module")
def example_templates(
    templates: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]],
) -> dict[str, dict[str, Any]]:
    return templates[0]


@pytest.fixture(scope="module")
def twin_templates(
    templates: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]],
) -> dict[str, dict[str, Any]]:
    return templates[1]


def _joined(value: Any) -> Any:
    """An ``Fn::Join`` with a string separator as one string (tokens as their JSON), so that
    two dashboard bodies are compared as text rather than as lists of fragments."""
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        if isinstance(separator, str) and isinstance(parts, list):
            return separator.join(
                part if isinstance(part, str) else json.dumps(part, sort_keys=True)
                for part in parts
            )
    return value


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _differences(path: str, expected: Any, actual: Any) -> list[str]:
    """``path: ...`` lines for every place where ``actual`` differs from ``expected``."""
    expected, actual = _joined(expected), _joined(actual)
    if expected == actual:
        return []
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines = []
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                lines.append(f"{path}.{key}: only in the examples: {_short(expected[key])}")
            elif key not in expected:
                lines.append(f"{path}.{key}: only in the twin: {_short(actual[key])}")
            else:
                lines.extend(_differences(f"{path}.{key}", expected[key], actual[key]))
        return lines
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        lines = []
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            lines.extend(_differences(f"{path}[{index}]", left, right))
        return lines
    if isinstance(expected, str) and isinstance(actual, str):
        at = next(
            (i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
            min(len(expected), len(actual)),
        )
        start = max(0, at - 60)
        hint = (
            " (an asset hash: the asset folders differ, or a file in one changed between the "
            "two builds)"
            if path.endswith(".S3Key")
            else ""
        )
        return [
            f"{path}: strings differ at character {at}: examples ...{expected[start : at + 120]!r}"
            f" | twin ...{actual[start : at + 120]!r}{hint}"
        ]
    return [f"{path}: examples {_short(expected)} | twin {_short(actual)}"]


def template_differences(example: dict[str, Any], twin: dict[str, Any]) -> list[str]:
    """What differs between an example stack's template and its twin's (empty: equal).

    Logical ids in one template only come first (with their resource type), then each
    property that differs, by path.
    """
    expected, actual = resources_without_metadata(example), resources_without_metadata(twin)
    lines = [
        f"Resources.{logical_id} ({expected[logical_id]['Type']}): only in the examples"
        for logical_id in sorted(set(expected) - set(actual))
    ]
    lines += [
        f"Resources.{logical_id} ({actual[logical_id]['Type']}): only in the twin"
        for logical_id in sorted(set(actual) - set(expected))
    ]
    for logical_id in sorted(set(expected) & set(actual)):
        lines.extend(
            _differences(f"Resources.{logical_id}", expected[logical_id], actual[logical_id])
        )
    for section in SECTIONS:
        lines.extend(_differences(section, example.get(section, {}), twin.get(section, {})))
    return lines


@pytest.mark.parametrize("source", TWIN_SOURCES, ids=lambda path: path.name)
def test_twin_source_does_not_import_the_library(source: Path) -> None:
    imported = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert not {name for name in imported if name.split(".")[0] == "serverless_patterns"}


def test_the_twin_app_has_the_example_stacks_in_order(
    example_templates: dict[str, dict[str, Any]], twin_templates: dict[str, dict[str, Any]]
) -> None:
    assert list(twin_templates) == list(example_templates)


@pytest.mark.parametrize(
    "stack_name",
    [
        "ApiGatewayAccount",
        "QueueWorkerExample",
        "FanOutExample",
        "KinesisExample",
        "ProbeExample",
        "CommandRouterExample",
        "LegacyProxyExample",
        "PipelineQueuesExample",
        "PipelineStateMachineExample",
    ],
)
def test_twin_stack_template_equals_the_example_stack_template(
    example_templates: dict[str, dict[str, Any]],
    twin_templates: dict[str, dict[str, Any]],
    stack_name: str,
) -> None:
    assert stack_name in twin_templates, f"the twin app has no stack {stack_name}"
    differences = template_differences(example_templates[stack_name], twin_templates[stack_name])
    shown = "\n".join(f"  {line}" for line in differences[:SHOWN])
    more = f"\n  ... and {len(differences) - SHOWN} more" if len(differences) > SHOWN else ""
    if differences:
        pytest.fail(
            f"{stack_name}: the twin's template differs from the example's in "
            f"{len(differences)} place(s):\n{shown}{more}",
            pytrace=False,
        )
