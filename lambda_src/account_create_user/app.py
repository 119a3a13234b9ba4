"""CommandRouter example receiver: ``createUser``, invoked synchronously by the router.

The router invokes this function with ``{"command", "version", "payload", "correlationId"}``;
the payload is ``{"id": <user id>, "name": <display name>}`` and nothing else. The user is stored
in the users table (``TABLE_NAME``, key ``id``) with ``createdAt`` (ISO 8601, UTC), only if no
user has that id yet, and the stored item is the result. A payload that is not a user raises
``InvalidUserError``; an id that is taken raises ``UserExistsError``.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
# Not patched at import: X-Ray's patch of botocore imports botocore's whole client stack, a third
# of a cold start's import with active tracing. table() patches before it makes the client (the
# patch is class-wide: every call is traced, as with auto_patch).
tracer = Tracer(auto_patch=False)

TABLE_NAME = os.environ["TABLE_NAME"]


@functools.cache
def table() -> Any:
    """The users table, created on first use and reused by every invocation of the container.

    boto3 is imported here rather than with the module: the import and the resource's models
    are most of a cold start, and the first invocation needs them anyway.
    """
    tracer.patch()  # X-Ray's patch_all, once: later calls find it done
    import boto3

    return boto3.resource("dynamodb").Table(TABLE_NAME)


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
        table().put_item(Item=item, ConditionExpression="attribute_not_exists(id)")
    except table().meta.client.exceptions.ConditionalCheckFailedException as error:
        raise UserExistsError(f"a user with id {user['id']!r} exists already") from error
    return item


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    item = create_user(validate_user(event.get("payload")))
    logger.info("user created", user_id=item["id"])
    return item
