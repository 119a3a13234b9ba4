"""Where dead-lettered work goes back to, one class per kind of failure.

A route ``accepts`` a message of the shape it knows (None, or why not) and ``apply`` does the
work for a batch of them (per message: None when done, else why not). Nothing is deleted
here: the runner deletes a message only after its route reported it done.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from serverless_patterns.redrive import _sqs
from serverless_patterns.redrive._aws import Aws
from serverless_patterns.redrive._sqs import Message, QueueRef

MOVED = "moved"
REPLAYED = "replayed"


def error_text(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        detail = response.get("Error") or {}
        return f"{detail.get('Code', type(error).__name__)}: {detail.get('Message', '')}".strip()
    return f"{type(error).__name__}: {error}"


def excerpt(value: Any, width: int = 60) -> str:
    """A short one-line rendering of a body or payload, for a dry run's samples."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[: width - 3] + "...")


def function_name(function_arn: str) -> str:
    return split_qualifier(function_arn)[0].rsplit(":", 1)[-1]


def split_qualifier(function_arn: str) -> tuple[str, str | None]:
    """A function ARN without its qualifier, and the qualifier ($LATEST is the default)."""
    parts = function_arn.split(":")
    if len(parts) == 8 and parts[5] == "function":
        qualifier = parts[7]
        return ":".join(parts[:7]), None if qualifier == "$LATEST" else qualifier
    return function_arn, None


def invoke_async(aws: Aws, function: str, payload: Any) -> str | None:
    """Invoke ``function`` with ``payload`` as an event (InvocationType Event)."""
    import botocore.exceptions  # type: ignore[import-untyped]

    name, qualifier = split_qualifier(function)
    try:
        answer = aws.client("lambda").invoke(
            FunctionName=name,
            InvocationType="Event",
            Payload=json.dumps(payload).encode(),
            **({"Qualifier": qualifier} if qualifier else {}),
        )
    except botocore.exceptions.ClientError as error:
        return f"invoking {name} failed: {error_text(error)}"
    status = int(answer.get("StatusCode", 0))
    return None if status == 202 else f"invoking {name} answered {status}, not 202"


class Route:
    KIND: ClassVar[str] = "unknown"
    VERB: ClassVar[str] = REPLAYED

    def kind(self) -> str:
        return self.KIND

    def verb(self) -> str:
        """What a done message was: moved (to a queue) or replayed (work started again)."""
        return self.VERB

    def destination(self) -> str:
        raise NotImplementedError

    def accepts(self, message: Message) -> str | None:
        return None

    def apply(self, aws: Aws, messages: Sequence[Message]) -> list[str | None]:
        return [self.apply_one(aws, message) for message in messages]

    def apply_one(self, aws: Aws, message: Message) -> str | None:
        raise NotImplementedError

    def describe(self, message: Message) -> str:
        """What the route would do with ``message`` (a dry run's words)."""
        return self.destination()


@dataclass
class Refused(Route):
    """A dead-letter queue the redrive does not handle, and why."""

    kind_name: str
    reason: str

    def kind(self) -> str:
        return self.kind_name

    def destination(self) -> str:
        return f"refused: {self.reason}"

    def accepts(self, message: Message) -> str | None:
        return self.reason


@dataclass
class QueueRoute(Route):
    """Back to the source queue (an SQS redrive policy's), or to ``--target-url``."""

    sources: Sequence[QueueRef]
    #: The target was given (``--target-url``): every message goes there.
    explicit: bool = False

    KIND = "queue"
    VERB = MOVED

    def target(self, aws: Aws, message: Message) -> QueueRef | str:
        if self.explicit:
            return self.sources[0]
        origin = message.attributes.get("DeadLetterQueueSourceArn")
        if origin:
            known = [s for s in self.sources if s.arn == origin]
            return known[0] if known else _sqs.queue_ref(aws, origin)
        if len(self.sources) == 1:
            return self.sources[0]
        if not self.sources:
            return "no source queue is known: give --dlq-url with --target-url"
        return (
            f"it could come from {len(self.sources)} source queues and does not say which: "
            "give --dlq-url with --target-url"
        )

    def describe(self, message: Message) -> str:
        return f"{excerpt(message.body)} -> {self.destination()}"

    def destination(self) -> str:
        return "back to " + (", ".join(s.label for s in self.sources) or "its source queue")

    def apply(self, aws: Aws, messages: Sequence[Message]) -> list[str | None]:
        results: dict[int, str | None] = {}
        by_queue: dict[str, tuple[QueueRef, list[int]]] = {}
        for index, message in enumerate(messages):
            target = self.target(aws, message)
            if isinstance(target, str):
                results[index] = target
            else:
                by_queue.setdefault(target.url, (target, []))[1].append(index)
        sqs = aws.client("sqs")
        for queue, indexes in by_queue.values():
            entries = [_sqs.entry(messages[i], fifo=queue.fifo) for i in indexes]
            try:
                sent = _sqs.send(sqs, queue, entries)
            except Exception as error:  # the batch as a whole: keep every message of it
                sent = [f"sending to {queue.label} failed: {error_text(error)}"] * len(indexes)
            results.update(zip(indexes, sent, strict=True))
        return [results[i] for i in range(len(messages))]


def record_of(message: Message) -> Mapping[str, Any] | None:
    body = message.json()
    return body if isinstance(body, Mapping) else None


@dataclass
class AsyncRoute(Route):
    """Lambda's asynchronous invocation records: the function again, with the payload."""

    functions: str

    KIND = "lambda-async"

    def destination(self) -> str:
        return f"invoke {self.functions} again (Event) with requestPayload"

    def accepts(self, message: Message) -> str | None:
        record = record_of(message)
        function = (record or {}).get("requestContext", {}).get("functionArn")
        if not isinstance(function, str) or "requestPayload" not in (record or {}):
            return (
                "not an asynchronous invocation record (requestContext.functionArn, requestPayload)"
            )
        return None

    def describe(self, message: Message) -> str:
        record = record_of(message) or {}
        context = record["requestContext"]
        return (
            f"{excerpt(record['requestPayload'])} -> {function_name(context['functionArn'])} "
            f"(Event); it failed: {context.get('condition', '?')} after "
            f"{context.get('approximateInvokeCount', '?')} attempt(s)"
        )

    def apply_one(self, aws: Aws, message: Message) -> str | None:
        record = record_of(message) or {}
        return invoke_async(
            aws, str(record["requestContext"]["functionArn"]), record["requestPayload"]
        )


@dataclass
class FunctionDlqRoute(Route):
    """A function's own dead-letter queue (``DeadLetterConfig``): the body is the event."""

    function: str
    label: str

    KIND = "lambda-dlq"

    def destination(self) -> str:
        return f"invoke {self.label} again (Event) with the message body"

    def accepts(self, message: Message) -> str | None:
        return None if message.json() is not None else "the body is not JSON, so not an event"

    def describe(self, message: Message) -> str:
        return f"{excerpt(message.body)} -> {self.label} (Event)"

    def apply_one(self, aws: Aws, message: Message) -> str | None:
        return invoke_async(aws, self.function, message.json())


@dataclass
class PipelineRoute(Route):
    """FilterPipeline's dead-letter queue: the failed ``item`` back onto the pipeline's input
    (its input queue, else a new execution as its source rule starts one)."""

    state_machine_arn: str
    input_queue: QueueRef | None
    label: str

    KIND = "pipeline"

    def destination(self) -> str:
        if self.input_queue is not None:
            return f"item onto {self.input_queue.label}"
        return f"item into a new execution of {self.label}"

    def accepts(self, message: Message) -> str | None:
        record = record_of(message)
        if record is None or "item" not in record or "stage" not in record:
            return "not a pipeline dead letter (a JSON object with stage and item)"
        return None

    def describe(self, message: Message) -> str:
        record = record_of(message) or {}
        error = record.get("error")
        cause = error.get("Error") if isinstance(error, Mapping) else error
        return (
            f"item {excerpt(record['item'])} -> {self.destination()}; it failed at stage "
            f"{record.get('stage')}: {cause}"
        )

    def apply_one(self, aws: Aws, message: Message) -> str | None:
        item = (record_of(message) or {})["item"]
        try:
            if self.input_queue is not None:
                aws.client("sqs").send_message(
                    QueueUrl=self.input_queue.url, MessageBody=json.dumps(item)
                )
            else:
                aws.client("stepfunctions").start_execution(
                    stateMachineArn=self.state_machine_arn,
                    name=f"redrive-{uuid.uuid4().hex}",
                    input=json.dumps({"item": item}),
                )
        except Exception as error:
            return f"{self.destination()} failed: {error_text(error)}"
        return None


def _envelope(message: Message) -> dict[str, Any] | None:
    """The SNS envelope a subscription DLQ keeps, with SNS's spelling of its two URLs (the
    local runtime keeps Lambda's), or None when the message is not one (raw delivery)."""
    body = record_of(message)
    if body is None or body.get("Type") != "Notification" or "Message" not in body:
        return None
    envelope = {
        "MessageId": message.id,
        "Timestamp": "",
        "SignatureVersion": "1",
        "Signature": "",
        **body,
    }
    envelope["SigningCertURL"] = envelope.pop("SigningCertUrl", envelope.get("SigningCertURL", ""))
    envelope["UnsubscribeURL"] = envelope.pop("UnsubscribeUrl", envelope.get("UnsubscribeURL", ""))
    return envelope


def _wrapped(message: Message, topic_arn: str) -> dict[str, Any]:
    """A raw message (and its attributes) in the envelope SNS would have wrapped it in."""
    return {
        "Type": "Notification",
        "MessageId": message.id,
        "TopicArn": topic_arn,
        "Message": message.body,
        "Timestamp": "",
        "SignatureVersion": "1",
        "Signature": "",
        "SigningCertURL": "",
        "UnsubscribeURL": "",
        "MessageAttributes": {
            name: {"Type": value.get("DataType", "String"), "Value": value.get("StringValue")}
            for name, value in message.message_attributes.items()
            if "StringValue" in value
        },
    }


def _sqs_attributes(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """SNS message attributes as SNS gives them to a raw-delivery SQS subscriber."""
    sent: dict[str, Any] = {}
    for name, value in (envelope.get("MessageAttributes") or {}).items():
        kind = str(value.get("Type", "String"))
        if kind == "Binary":
            import base64

            sent[name] = {"DataType": kind, "BinaryValue": base64.b64decode(value["Value"])}
        else:
            sent[name] = {"DataType": kind, "StringValue": str(value.get("Value"))}
    return sent


@dataclass
class SubscriptionRoute(Route):
    """An SNS subscription's dead-letter queue: the notification to the subscriber again, as
    SNS would have delivered it (an SQS endpoint gets the envelope, or the raw message with its
    attributes; a Lambda endpoint is invoked asynchronously with the SNS event)."""

    protocol: str
    topic_arn: str
    raw: bool
    label: str
    queue: QueueRef | None = None
    function: str | None = None
    subscription_arn: str | None = None

    KIND = "sns-subscription"

    def verb(self) -> str:
        return MOVED if self.queue is not None else REPLAYED

    def destination(self) -> str:
        if self.queue is not None:
            return f"send to the subscriber {self.queue.label}"
        return f"invoke the subscriber {self.label} (Event) with the SNS event"

    def describe(self, message: Message) -> str:
        envelope = _envelope(message)
        shown = envelope["Message"] if envelope is not None else message.body
        return f"{excerpt(shown)} -> {self.destination()}"

    def apply(self, aws: Aws, messages: Sequence[Message]) -> list[str | None]:
        if self.queue is None:
            return super().apply(aws, messages)
        entries = []
        for message in messages:
            envelope = _envelope(message)
            if envelope is None and self.raw:  # kept as SNS delivered it: body and attributes
                entries.append(_sqs.entry(message, fifo=self.queue.fifo))
            elif envelope is not None and self.raw:
                body, attributes = str(envelope["Message"]), _sqs_attributes(envelope)
                entries.append(
                    _sqs.entry(message, fifo=self.queue.fifo, body=body, attributes=attributes)
                )
            else:
                envelope = envelope or _wrapped(message, self.topic_arn)
                entries.append(
                    _sqs.entry(
                        message, fifo=self.queue.fifo, body=json.dumps(envelope), attributes={}
                    )
                )
        return _sqs.send(aws.client("sqs"), self.queue, entries)

    def apply_one(self, aws: Aws, message: Message) -> str | None:
        from serverless_patterns.testing import events

        assert self.function is not None
        envelope = _envelope(message) or _wrapped(message, self.topic_arn)
        subscription = self.subscription_arn or f"{self.topic_arn}:redrive"
        event = {"Records": [events.sns_record_from_envelope(envelope, subscription)]}
        return invoke_async(aws, self.function, event)
