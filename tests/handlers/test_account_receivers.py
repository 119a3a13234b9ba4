"""Tests for the CommandRouter example receivers (``lambda_src/account_*/app.py``).

Each receiver runs in-process against a (mocked, moto) users table, invoked with the envelope
the router sends: ``{"command", "version", "payload", "correlationId"}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from tests.handlers.support import (
    LAMBDA_SRC,
    FakeLambdaContext,
    captured_logs,
    create_table,
    empty_table,
    load_handler,
    mocked_aws,
)

TABLE_NAME = "command-router-example-users"
SERVICE = "account-receivers-test"
RECEIVERS = (
    "account_get_user_v1",
    "account_get_user_v2",
    "account_create_user",
    "account_send_welcome_email",
)
CORRELATION_ID = "corr-1234"
CONTEXT = FakeLambdaContext("account-receiver")


@dataclass(frozen=True)
class AwsEnv:
    table: Any
    get_user_v1: ModuleType
    get_user_v2: ModuleType
    create_user: ModuleType
    send_welcome_email: ModuleType


def envelope(command: str, version: str, payload: Any) -> dict[str, Any]:
    return {
        "command": command,
        "version": version,
        "payload": payload,
        "correlationId": CORRELATION_ID,
    }


def invoke(app: ModuleType, event: dict[str, Any]) -> Any:
    return app.handler(event, CONTEXT)


def load(folder: str) -> ModuleType:
    """Load a receiver from its file under a unique module name, registered while it loads."""
    return load_handler(
        LAMBDA_SRC / folder / "app.py", f"{folder}_app_under_test", register_while_loading=True
    )


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEnv]:
    # The receivers emit no metrics: no metrics namespace.
    with mocked_aws(SERVICE, namespace=None, TABLE_NAME=TABLE_NAME):
        table = create_table(TABLE_NAME, "id")
        # Loaded inside mock_aws so the boto3 resources they create at import are mocked.
        apps = [load(folder) for folder in RECEIVERS]
        yield AwsEnv(table, *apps)


@pytest.fixture
def env(aws: AwsEnv) -> AwsEnv:
    """The module-wide AWS mocks, with an empty users table for each test."""
    empty_table(aws.table, "id")
    return aws


def stored(env: AwsEnv) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in env.table.scan()["Items"]}


def create(env: AwsEnv, payload: Any) -> Any:
    return invoke(env.create_user, envelope("createUser", "v1", payload))


def test_create_user_stores_and_returns_the_item_with_created_at(env: AwsEnv) -> None:
    before = datetime.now(UTC)
    item = create(env, {"id": "u-1", "name": "Ada Lovelace"})
    after = datetime.now(UTC)

    assert set(item) == {"id", "name", "createdAt"}
    assert (item["id"], item["name"]) == ("u-1", "Ada Lovelace")
    created_at = item["createdAt"]
    assert len(created_at) == len("2025-01-02T03:04:05.678Z")
    assert created_at.endswith("Z")
    parsed = datetime.fromisoformat(created_at)
    assert parsed.utcoffset() == timedelta(0)
    assert before - timedelta(milliseconds=1) <= parsed <= after
    assert stored(env) == {"u-1": item}


def test_duplicate_create_fails_and_keeps_the_first_user(env: AwsEnv) -> None:
    first = create(env, {"id": "u-1", "name": "Ada Lovelace"})

    with pytest.raises(env.create_user.UserExistsError, match=r"^a user with id 'u-1' exists"):
        create(env, {"id": "u-1", "name": "Impostor"})

    assert stored(env) == {"u-1": first}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (["u-1", "Ada"], "payload must be a JSON object"),
        ({"name": "Ada"}, "payload.id must be 1-128 characters without '#'"),
        ({"id": "", "name": "Ada"}, "payload.id must be 1-128 characters without '#'"),
        ({"id": 7, "name": "Ada"}, "payload.id must be 1-128 characters without '#'"),
        ({"id": "email#u-1", "name": "Ada"}, "payload.id must be 1-128 characters without '#'"),
        ({"id": "u" * 129, "name": "Ada"}, "payload.id must be 1-128 characters without '#'"),
        ({"id": "u-1"}, "payload.name must be 1-256 characters, not blank"),
        ({"id": "u-1", "name": "   "}, "payload.name must be 1-256 characters, not blank"),
        ({"id": "u-1", "name": ["Ada"]}, "payload.name must be 1-256 characters, not blank"),
        (
            {"id": "u-1", "name": "Ada", "admin": True},
            "payload has unknown keys ['admin']; allowed: ['id', 'name']",
        ),
    ],
)
def test_create_user_rejects_invalid_input_and_stores_nothing(
    env: AwsEnv, payload: Any, message: str
) -> None:
    with pytest.raises(env.create_user.InvalidUserError) as raised:
        create(env, payload)

    assert str(raised.value) == message
    assert stored(env) == {}


def test_get_user_v1_returns_id_and_name(env: AwsEnv) -> None:
    create(env, {"id": "u-1", "name": "Ada Lovelace"})

    result = invoke(env.get_user_v1, envelope("getUser", "v1", {"id": "u-1"}))

    assert result == {"id": "u-1", "name": "Ada Lovelace"}


def test_get_user_v2_returns_the_user_with_display_name_and_created_at(env: AwsEnv) -> None:
    item = create(env, {"id": "u-1", "name": "Ada Lovelace"})

    result = invoke(env.get_user_v2, envelope("getUser", "v2", {"id": "u-1"}))

    assert result == {
        "user": {"id": "u-1", "displayName": "Ada Lovelace", "createdAt": item["createdAt"]}
    }


def test_get_user_v2_of_a_user_stored_without_created_at(env: AwsEnv) -> None:
    env.table.put_item(Item={"id": "legacy", "name": "Old Timer"})

    result = invoke(env.get_user_v2, envelope("getUser", "v2", {"id": "legacy"}))

    assert result == {"user": {"id": "legacy", "displayName": "Old Timer", "createdAt": None}}


@pytest.mark.parametrize(("app_name", "version"), [("get_user_v1", "v1"), ("get_user_v2", "v2")])
def test_get_user_of_an_unknown_id_raises_user_not_found(
    env: AwsEnv, app_name: str, version: str
) -> None:
    app = getattr(env, app_name)
    create(env, {"id": "u-1", "name": "Ada Lovelace"})

    with pytest.raises(app.UserNotFoundError) as raised:
        invoke(app, envelope("getUser", version, {"id": "u-2"}))

    assert str(raised.value) == "no user with id 'u-2'"
    assert type(raised.value).__name__ == "UserNotFoundError"


@pytest.mark.parametrize("app_name", ["get_user_v1", "get_user_v2"])
@pytest.mark.parametrize("payload", [{}, {"id": ""}, {"id": 1}, {"id": "email#u-1"}, None])
def test_get_user_rejects_a_payload_without_a_user_id(
    env: AwsEnv, app_name: str, payload: Any
) -> None:
    app = getattr(env, app_name)

    with pytest.raises(app.InvalidUserError) as raised:
        invoke(app, envelope("getUser", "v1", payload))

    assert str(raised.value) == "payload.id must be 1-128 characters without '#'"


def test_welcome_email_is_recorded_with_the_correlation_id(env: AwsEnv) -> None:
    user = create(env, {"id": "u-1", "name": "Ada Lovelace"})

    result = invoke(env.send_welcome_email, envelope("sendWelcomeEmail", "v1", {"id": "u-1"}))

    assert result is None
    assert stored(env) == {
        "u-1": user,
        "email#u-1": {"id": "email#u-1", "kind": "welcome", "correlationId": CORRELATION_ID},
    }


def test_retried_welcome_email_rewrites_the_same_item(env: AwsEnv) -> None:
    event = envelope("sendWelcomeEmail", "v1", {"id": "u-1"})

    invoke(env.send_welcome_email, event)
    invoke(env.send_welcome_email, event)

    assert stored(env) == {
        "email#u-1": {"id": "email#u-1", "kind": "welcome", "correlationId": CORRELATION_ID}
    }


@pytest.mark.parametrize("payload", [{}, {"name": "Ada"}, {"id": ""}, {"id": None}, ["u-1"]])
def test_welcome_email_without_a_user_id_raises_and_records_nothing(
    env: AwsEnv, payload: Any
) -> None:
    with pytest.raises(env.send_welcome_email.MissingUserIdError) as raised:
        invoke(env.send_welcome_email, envelope("sendWelcomeEmail", "v1", payload))

    assert str(raised.value) == "payload.id must be 1-128 characters without '#'"
    assert stored(env) == {}


def test_receivers_log_with_the_routers_correlation_id(env: AwsEnv) -> None:
    with captured_logs(SERVICE) as records:
        create(env, {"id": "u-1", "name": "Ada Lovelace"})

    assert [record.getMessage() for record in records] == ["user created"]
    assert env.create_user.logger.get_correlation_id() == CORRELATION_ID
