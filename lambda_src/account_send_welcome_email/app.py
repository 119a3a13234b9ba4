"""CommandRouter example receiver: ``sendWelcomeEmail``, invoked asynchronously by the router.

The router invokes this function with ``InvocationType=Event`` and the envelope
``{"command", "version", "payload", "correlationId"}``; the payload is ``{"id": <user id>}``.
The example "sends" the email by recording it in the users table (``TABLE_NAME``) as
``{"id": "email#<user id>", "kind": "welcome", "correlationId"}``: no SES. A retried invocation
rewrites the same item. A payload without a user id raises ``MissingUserIdError``, so Lambda
retries the event and finally hands it to the function's on-failure destination.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()

# Created once per container, reused by every invocation.
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])

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
    table.put_item(Item=item)
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
