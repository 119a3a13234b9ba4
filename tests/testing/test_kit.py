"""The testing kit as a user's tests use it: an App from the user's cdk.json, normalized
templates with named asset placeholders, the invariants reported by construct path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from serverless_patterns import CommandRouter, QueueWorker, ServerlessFunction
from serverless_patterns.testing import (
    assert_invariants,
    cdk_context,
    check_invariants,
    find_cdk_json,
    normalize_template,
    synth_app,
)

HASH = re.compile(r"[0-9a-f]{64}")


def user_project(tmp_path: Path, context: object) -> Path:
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "python3 app.py", "context": context}))
    (tmp_path / "lambda_src" / "orders").mkdir(parents=True)
    (tmp_path / "lambda_src" / "orders" / "app.py").write_text(
        "def handler(e, c):\n    return {}\n"
    )
    return tmp_path


def test_the_app_has_the_context_and_feature_flags_of_the_users_cdk_json(tmp_path: Path) -> None:
    flag = "@aws-cdk/aws-lambda:recognizeLayerVersion"
    project = user_project(tmp_path, {flag: True, "stage": "test"})
    app = synth_app(project / "cdk.json", context={"stage": "ci"})
    assert app.node.try_get_context(flag) is True
    assert app.node.try_get_context("stage") == "ci"  # the test's own values win
    assert app.node.try_get_context("aws:cdk:enable-path-metadata") is True  # as the CLI sets


def test_the_nearest_cdk_json_is_found_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = user_project(tmp_path, {"stage": "test"})
    monkeypatch.chdir(project / "lambda_src")
    assert find_cdk_json() == project / "cdk.json"
    assert cdk_context() == {"stage": "test"}


@pytest.mark.parametrize("text", ["{not json", '{"context": []}'])
def test_a_broken_cdk_json_is_named(tmp_path: Path, text: str) -> None:
    (tmp_path / "cdk.json").write_text(text)
    with pytest.raises(ValueError, match=r"cdk\.json"):
        cdk_context(tmp_path / "cdk.json")


def test_a_missing_cdk_json_is_an_error_when_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no cdk\.json"):
        cdk_context(tmp_path / "cdk.json")


@pytest.fixture(scope="module")
def user_stack(tmp_path_factory: pytest.TempPathFactory) -> cdk.Stack:
    project = user_project(tmp_path_factory.mktemp("project"), {})
    app = synth_app(project / "cdk.json")
    stack = cdk.Stack(app, "Shop")
    worker = ServerlessFunction(
        stack, "Orders", code=lambda_.Code.from_asset(str(project / "lambda_src" / "orders"))
    )
    QueueWorker(stack, "Work", handler=worker)
    CommandRouter(stack, "Router").add_command("get-order", worker)
    return stack


def test_asset_placeholders_say_which_asset_they_are(user_stack: cdk.Stack) -> None:
    text = json.dumps(normalize_template(user_stack))
    assert not HASH.search(text)  # no hash is left: the snapshot does not follow code changes
    placeholders = set(re.findall(r"ASSET\[[^\]]+\]", text))
    assert {
        "ASSET[serverless-patterns:router]",  # the library's own handler
        "ASSET[serverless-patterns:powertools-layer]",  # and its layer
        "ASSET[Shop/Orders]",  # the user's, by the construct that deploys it
    } <= placeholders


def test_cdk_metadata_and_the_bootstrap_check_are_dropped(user_stack: cdk.Stack) -> None:
    normalized = normalize_template(user_stack)
    assert "Rules" not in normalized
    assert "BootstrapVersion" not in normalized.get("Parameters", {})
    assert all("Metadata" not in r for r in normalized["Resources"].values())
    assert all(r["Type"] != "AWS::CDK::Metadata" for r in normalized["Resources"].values())


def test_the_users_stack_holds_the_invariants(user_stack: cdk.Stack) -> None:
    assert_invariants(cdk.assertions.Template.from_stack(user_stack).to_json())


def test_a_violation_names_the_resource_by_its_construct_path() -> None:
    template = {
        "Resources": {
            "Plain": {
                "Type": "AWS::SQS::Queue",
                "Properties": {},
                "Metadata": {"aws:cdk:path": "Shop/Plain/Resource"},
            }
        }
    }
    (violation,) = check_invariants(template)
    assert violation.invariant == "data_stores_are_encrypted"
    assert violation.path == "Shop/Plain/Resource"
    assert str(violation).startswith("data_stores_are_encrypted: Shop/Plain/Resource: Plain ")
    with pytest.raises(AssertionError, match="Shop/Plain/Resource"):
        assert_invariants(template)
    assert check_invariants(template, skip={"data_stores_are_encrypted": "a public feed"}) == []


@pytest.mark.parametrize(
    ("skip", "message"),
    [
        ({"no_such_invariant": "x"}, "no invariants"),
        ({"data_stores_are_encrypted": ""}, "no reason"),
    ],
)
def test_an_opt_out_names_a_real_invariant_and_gives_a_reason(
    skip: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_invariants({"Resources": {}}, skip=skip)
