"""Write a FilterPipeline stage as a plain function of one item.

    from serverless_patterns.stage import Filtered, pipeline_stage

    @pipeline_stage
    def handler(order):
        if order["total"] > 10_000:
            return Filtered("total above 10000 needs a manual review")
        return {**order, "screened": True}

The function receives one item (any JSON value) and returns the transformed item, or
:class:`Filtered` with a reason to take the item out of the pipeline; raising means the stage
failed for that item. :func:`pipeline_stage` turns it into a Lambda handler that serves both
connectors of ``FilterPipeline``, telling them apart by the event:

* ``Connector.STATE_MACHINE`` invokes the function with ``{"pipelineStage": <name>, "item":
  <item>}`` and gets ``{"outcome": "passed", "item": <result>}`` or ``{"outcome": "filtered",
  "reason": <reason>, "item": <the input item>}``. An exception is the task's error: the state
  machine retries transient Lambda errors and sends the item with the stage name to its
  dead-letter queue.
* ``Connector.QUEUES`` delivers SQS batches of this stage's queue. Every message body is one item
  (JSON). Results go to ``PIPELINE_NEXT`` (the next stage's queue URL or the output queue URL or
  topic ARN; empty for a last stage without output) and filtered items to
  ``PIPELINE_REJECTED`` (a queue URL) as ``{"stage", "reason", "item"}``, in batches of up to 10.
  A message whose body is not JSON, whose function raised or whose result could not be sent is
  reported as a batch item failure: SQS retries only that message, then dead-letters it.
  ``FilterPipeline`` sets these variables and ``PIPELINE_STAGE`` (the stage's name).

Each invocation logs one line and publishes ``ItemsPassed``, ``ItemsFiltered`` and
``ItemsFailed`` (Count) with the dimension ``stage``. Delivery between stages is at least once:
a stage may see an item again after a retry, so stages with side effects should be idempotent.

This module imports only the standard library, Powertools and (when it first sends) boto3, so it
runs in Lambda from the layer ``FilterPipeline`` attaches (``serverless_patterns.stage_layer_for``)
beside the Powertools layer, on python3.10 and newer, and in tests from the installed package.
Powertools' batch utility, which loads the data classes of every event source, is imported with
the first queue batch rather than with the module: a ``Connector.STATE_MACHINE`` stage never
needs it, and a queue stage's import stays small (its first batch loads it, once).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

#: Key of the state machine's invocation event that names the stage.
STAGE_KEY = "pipelineStage"
#: Environment variables of the queue connector.
STAGE_ENV = "PIPELINE_STAGE"
NEXT_ENV = "PIPELINE_NEXT"
REJECTED_ENV = "PIPELINE_REJECTED"

_MAX_BATCH_ENTRIES = 10
_MAX_BATCH_BYTES = 256 * 1024  # SQS SendMessageBatch and SNS PublishBatch: whole request

StageFunction = Callable[[Any], Any]
LambdaHandler = Callable[[dict[str, Any], "LambdaContext"], dict[str, Any]]


@dataclass(frozen=True)
class Filtered:
    """Returned by a stage function: the item leaves the pipeline for ``reason``."""

    reason: str

    def __post_init__(self) -> None:
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValueError(f"Filtered needs a non-empty reason, got {self.reason!r}")


class _Outgoing(NamedTuple):
    # A NamedTuple, made once per item: a frozen dataclass takes twice as long to create.
    message_id: str
    destination: str
    body: str


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):  # DynamoDB numbers
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """Compact JSON of a stage result (DynamoDB ``Decimal`` numbers become JSON numbers)."""
    return json.dumps(value, separators=(",", ":"), default=_json_default, allow_nan=False)


@functools.cache
def _client(service: str) -> Any:
    """One boto3 client per service and container, created on first use.

    boto3 is imported here, not with the module: Lambda's runtime has it, but a CDK app that
    imports ``FilterPipeline`` (which reads this module's contract names) need not.
    """
    import boto3  # type: ignore[import-untyped]

    return boto3.client(service)


def _send(outgoing: list[_Outgoing], logger: Logger) -> set[str]:
    """Send every message to its destination in batches; return the ids of the failed ones."""
    failed: set[str] = set()
    by_destination: dict[str, list[_Outgoing]] = {}
    for message in outgoing:
        by_destination.setdefault(message.destination, []).append(message)
    for destination, messages in by_destination.items():
        for chunk in _chunks(messages):
            failed |= _send_chunk(destination, chunk, logger)
    return failed


def _chunks(messages: list[_Outgoing]) -> list[list[_Outgoing]]:
    chunks: list[list[_Outgoing]] = [[]]
    size = 0
    for message in messages:
        length = len(message.body.encode())
        if chunks[-1] and (
            len(chunks[-1]) == _MAX_BATCH_ENTRIES or size + length > _MAX_BATCH_BYTES
        ):
            chunks.append([])
            size = 0
        chunks[-1].append(message)
        size += length
    return chunks


def _send_chunk(destination: str, chunk: list[_Outgoing], logger: Logger) -> set[str]:
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    ids = {str(index): message.message_id for index, message in enumerate(chunk)}
    try:
        if destination.startswith("arn:"):
            response = _client("sns").publish_batch(
                TopicArn=destination,
                PublishBatchRequestEntries=[
                    {"Id": str(index), "Message": message.body}
                    for index, message in enumerate(chunk)
                ],
            )
        else:
            response = _client("sqs").send_message_batch(
                QueueUrl=destination,
                Entries=[
                    {"Id": str(index), "MessageBody": message.body}
                    for index, message in enumerate(chunk)
                ],
            )
    except (BotoCoreError, ClientError):
        logger.exception("sending failed", destination=destination, messages=len(chunk))
        return set(ids.values())
    failures = response.get("Failed", [])
    for failure in failures:
        logger.error(
            "message not accepted",
            destination=destination,
            message_id=ids[failure["Id"]],
            code=failure.get("Code"),
        )
    return {ids[failure["Id"]] for failure in failures}


def pipeline_stage(function: StageFunction) -> LambdaHandler:
    """Turn ``function(item) -> item | Filtered`` into the Lambda handler of a pipeline stage.

    Logger, Metrics and Tracer are created here, once per container; the service name is
    ``POWERTOOLS_SERVICE_NAME`` (else the function's name) and the namespace
    ``POWERTOOLS_METRICS_NAMESPACE`` (else ``ServerlessPatterns``).
    """
    service = os.environ.get(
        "POWERTOOLS_SERVICE_NAME", getattr(function, "__name__", "pipeline-stage")
    )
    logger = Logger(service=service)
    # Not patched at import: X-Ray's patch of botocore imports botocore's whole client stack, a
    # third of a cold start's import with active tracing. The handler patches on its first
    # invocation instead, before the stage function runs: the AWS calls of the helper and of
    # stage functions are traced as with auto_patch (the patch is class-wide, and calls made
    # during init have no trace to join in Lambda).
    tracer = Tracer(service=service, auto_patch=False)
    patch_once = functools.cache(tracer.patch)
    metrics = Metrics(
        service=service,
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ServerlessPatterns"),
    )

    @functools.cache
    def batch_processor() -> BatchProcessor:
        """This stage's batch processor, made on its first queue batch."""
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

        return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def record_counts(stage: str, passed: int, filtered: int, failed: int) -> None:
        metrics.add_dimension(name="stage", value=stage)
        metrics.add_metric(name="ItemsPassed", unit=MetricUnit.Count, value=passed)
        metrics.add_metric(name="ItemsFiltered", unit=MetricUnit.Count, value=filtered)
        metrics.add_metric(name="ItemsFailed", unit=MetricUnit.Count, value=failed)
        logger.info("stage ran", stage=stage, passed=passed, filtered=filtered, failed=failed)

    def run_state_machine_task(event: dict[str, Any]) -> dict[str, Any]:
        stage = str(event[STAGE_KEY])
        item = event.get("item")
        received = copy.deepcopy(item)  # the function may change the object it is given
        try:
            result = _checked(function(item))
            if isinstance(result, Filtered):
                record_counts(stage, 0, 1, 0)
                return {"outcome": "filtered", "reason": result.reason, "item": received}
            # Through JSON and back: a result Lambda could not serialize fails here, in the
            # stage, with its type named (rather than as Runtime.MarshalError).
            passed = json.loads(dumps(result))
        except Exception:
            record_counts(stage, 0, 0, 1)
            raise
        record_counts(stage, 1, 0, 0)
        return {"outcome": "passed", "item": passed}

    def run_queue_batch(event: dict[str, Any]) -> dict[str, Any]:
        stage = os.environ.get(STAGE_ENV, "")
        next_destination = os.environ.get(NEXT_ENV, "")
        rejected = os.environ.get(REJECTED_ENV, "")
        if not stage or not rejected:
            raise RuntimeError(
                f"{STAGE_ENV} and {REJECTED_ENV} must be set: FilterPipeline sets them on the "
                "functions of Connector.QUEUES stages"
            )
        # Imported here rather than with the module, like batch_processor().
        from aws_lambda_powertools.utilities.batch import process_partial_response

        outgoing: list[_Outgoing] = []
        debug = logger.log_level <= logging.DEBUG  # a discarded debug call still costs ~1 us

        def record_handler(record: SQSRecord) -> None:
            item = json.loads(record.body)
            result = _checked(function(item))
            if isinstance(result, Filtered):
                # The item as delivered: the function may have changed the object it was given.
                received = json.loads(record.body)
                body = dumps({"stage": stage, "reason": result.reason, "item": received})
                outgoing.append(_Outgoing(record.message_id, rejected, body))
                if debug:
                    logger.debug(
                        "item filtered", message_id=record.message_id, reason=result.reason
                    )
            else:
                body = dumps(result)
                if next_destination:
                    outgoing.append(_Outgoing(record.message_id, next_destination, body))

        # No context: given one, Powertools inspects the record handler's signature on every
        # invocation to pass it along.
        response: dict[str, Any] = dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=batch_processor()
            )
        )
        failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
        for message_id in _send(outgoing, logger) - failed:
            response["batchItemFailures"].append({"itemIdentifier": message_id})
            failed.add(message_id)
        total = len(event["Records"])
        filtered_sent = sum(
            1
            for message in outgoing
            if message.destination == rejected and message.message_id not in failed
        )
        record_counts(stage, total - len(failed) - filtered_sent, filtered_sent, len(failed))
        return response

    @logger.inject_lambda_context
    # Items are business data: keep them out of X-Ray metadata.
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        patch_once()
        if isinstance(event, dict) and STAGE_KEY in event:
            return run_state_machine_task(event)
        if isinstance(event, dict) and _is_sqs_event(event):
            return run_queue_batch(event)
        raise ValueError(
            "not a FilterPipeline stage event: expected a state machine task "
            f"({{'{STAGE_KEY}': ..., 'item': ...}}) or an SQS batch"
        )

    handler.__doc__ = function.__doc__
    handler.stage_function = function
    return cast(LambdaHandler, handler)


def _checked(result: Any) -> Any:
    """A stage function's result; ``None`` is almost always a forgotten ``return``."""
    if result is None:
        raise TypeError("the stage function returned None: return the item, or Filtered(reason)")
    return result


def _is_sqs_event(event: dict[str, Any]) -> bool:
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )
