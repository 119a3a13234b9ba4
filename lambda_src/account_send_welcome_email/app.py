"""CommandRouter example receiver: ``sendWelcomeEmail``, invoked asynchronously by the router.

The router invokes this function with ``InvocationType=Event`` and the envelope
``{"command", "version", "payload", "correlationId"}``; the payload is ``{"id": <user id>}``.
The example "sends" the email by recording it in the users table (``TABLE_NAME``) as
``{"id": "email#<user id>", "kind": "welcome", "correlationId"}``: no SES. A retried invocation
rewrites the same item. A payload without a user id raises ``MissingUserIdError``, so Lambda
retries the event and finally hands it to the function's on-failure destination.
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


class MissingUserIdError(ValueError):
    """The payload names no user to welcome."""


def user_id_of(payload: Any) -> str:
    """The payload's user id: 1-128 characters without '#'."""
    user_id = payload.get("id") if isinstance(payload, dict) else None
    if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_ID_LENGTH or "#" in user_id:
        raise MissingUserIdError(f"payload.id must be 1-{MAX_ID_LENGTH} characters without '#'")
    return user_id


@tracer.capture_method
def send_welcome_email(user_id: str, correlation_id: Any) -> dict[str, str]:
    item = {"id": f"email#{user_id}", "kind": "welcome"}
    if isinstance(correlation_id, str):
        item["correlationId"] = correlation_id
    table().put_item(Item=item)
    return item


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    try:
        user_id = user_id_of(event.get("payload"))
    except MissingUserIdError as error:
        logger.error("no user to welcome; raising so Lambda retries the event", reason=str(error))
        raise
    send_welcome_email(user_id, event.get("correlationId"))
    logger.info("welcome email sent", user_id=user_id)
