"""CommandRouter example receiver: ``getUser`` version 1, invoked synchronously by the router.

The router invokes this function with ``{"command", "version", "payload", "correlationId"}``;
the payload is ``{"id": <user id>}``. The result is the v1 shape ``{"id", "name"}``, read from the
users table (``TABLE_NAME``, key ``id``). An unknown user raises ``UserNotFoundError``, which the
router answers with 502 ``ReceiverFailed`` naming that error type.
"""

from __future__ import annotations

import functools
import os
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


class InvalidUserError(ValueError):
    """The payload does not name a user."""


class UserNotFoundError(LookupError):
    """No user has the requested id."""


def user_id_of(payload: Any) -> str:
    """The payload's user id: 1-128 characters without '#' (ids with '#' are not users)."""
    user_id = payload.get("id") if isinstance(payload, dict) else None
    if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_ID_LENGTH or "#" in user_id:
        raise InvalidUserError(f"payload.id must be 1-{MAX_ID_LENGTH} characters without '#'")
    return user_id


@tracer.capture_method
def get_user(user_id: str) -> dict[str, Any]:
    response = table().get_item(Key={"id": user_id}, ConsistentRead=True)
    item: dict[str, Any] | None = response.get("Item")
    if item is None:
        raise UserNotFoundError(f"no user with id {user_id!r}")
    return item


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    user_id = user_id_of(event.get("payload"))
    item = get_user(user_id)
    logger.info("user read", user_id=user_id, version="v1")
    return {"id": user_id, "name": item["name"]}
