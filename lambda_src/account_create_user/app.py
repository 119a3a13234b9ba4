"""CommandRouter example receiver: ``createUser``, invoked synchronously by the router.

The router invokes this function with ``{"command", "version", "payload", "correlationId"}``;
the payload is ``{"id": <user id>, "name": <display name>}`` and nothing else. The user is stored
in the users table (``TABLE_NAME``, key ``id``) with ``createdAt`` (ISO 8601, UTC), only if no
user has that id yet, and the stored item is the result. A payload that is not a user raises
``InvalidUserError``; an id that is taken raises ``UserExistsError``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()

# Created once per container, reused by every invocation.
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])

MAX_ID_LENGTH = 128
MAX_NAME_LENGTH = 256
USER_KEYS = frozenset({"id", "name"})


class InvalidUserError(ValueError):
    """The payload is not a user this function can create."""


class UserExistsError(ValueError):
    """A user with the payload's id exists already."""


def validate_user(payload: Any) -> dict[str, str]:
    """The user to create: ``{"id", "name"}``, both non-empty strings."""
    if not isinstance(payload, dict):
        raise InvalidUserError("payload must be a JSON object")
    unknown = sorted(set(payload) - USER_KEYS)
    if unknown:
        raise InvalidUserError(f"payload has unknown keys {unknown}; allowed: ['id', 'name']")
    user_id = payload.get("id")
    name = payload.get("name")
    if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_ID_LENGTH or "#" in user_id:
        raise InvalidUserError(f"payload.id must be 1-{MAX_ID_LENGTH} characters without '#'")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise InvalidUserError(f"payload.name must be 1-{MAX_NAME_LENGTH} characters, not blank")
    return {"id": user_id, "name": name}


def utc_now() -> str:
    """The current time, ISO 8601 in UTC with milliseconds: ``2025-01-02T03:04:05.678Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@tracer.capture_method
def create_user(user: dict[str, str]) -> dict[str, str]:
    item = {**user, "createdAt": utc_now()}
    try:
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(id)")
    except table.meta.client.exceptions.ConditionalCheckFailedException as error:
        raise UserExistsError(f"a user with id {user['id']!r} exists already") from error
    return item


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    item = create_user(validate_user(event.get("payload")))
    logger.info("user created", user_id=item["id"])
    return item
