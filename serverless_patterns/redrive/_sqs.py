"""SQS as the redrive uses it: queues by URL and ARN, messages received with every attribute,
sent again with them, deleted only after, and peeked without being consumed."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from serverless_patterns.redrive._aws import Aws, Client

#: How long a received message stays hidden while it is handled (a dry run's peek, too: its
#: messages are made visible again at the end). Failed ones are made visible again at the end.
VISIBILITY_SECONDS = 300
#: Long polling: a short poll may answer nothing while the queue has messages (SQS samples
#: its servers), which would end a run early.
RECEIVE_WAIT_SECONDS = 1
#: System attributes SendMessage takes back (the X-Ray trace header only).
RESENT_SYSTEM_ATTRIBUTES = ("AWSTraceHeader",)


@dataclass(frozen=True)
class QueueRef:
    url: str
    arn: str
    #: The construct path, else the queue's name.
    label: str

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")


def queue_ref(aws: Aws, url_or_arn: str, label: str = "") -> QueueRef:
    """The queue of a URL, a physical id or an ARN, with its URL as this endpoint serves it."""
    sqs = aws.client("sqs")
    if url_or_arn.startswith("arn:"):
        _, _, _, _, account, name = url_or_arn.split(":", 5)
    else:
        parts = url_or_arn.rstrip("/").split("/")
        name, account = parts[-1], parts[-2] if len(parts) > 1 else ""
    owner = {"QueueOwnerAWSAccountId": account} if re.fullmatch(r"\d{12}", account) else {}
    url = sqs.get_queue_url(QueueName=name, **owner)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return QueueRef(url=url, arn=arn, label=label or name)


@dataclass
class Message:
    id: str
    receipt: str
    body: str
    attributes: Mapping[str, str]
    message_attributes: Mapping[str, Any]
    _parsed: Any = field(default=None, repr=False)
    _parsed_done: bool = field(default=False, repr=False)

    @classmethod
    def of(cls, received: Mapping[str, Any]) -> Message:
        return cls(
            id=str(received["MessageId"]),
            receipt=str(received["ReceiptHandle"]),
            body=str(received.get("Body", "")),
            attributes=dict(received.get("Attributes") or {}),
            message_attributes=dict(received.get("MessageAttributes") or {}),
        )

    def json(self) -> Any:
        """The body as JSON (None when it is not JSON)."""
        if not self._parsed_done:
            try:
                self._parsed = json.loads(self.body)
            except ValueError:
                self._parsed = None
            self._parsed_done = True
        return self._parsed


def _system_attributes(sqs: Client) -> dict[str, list[str]]:
    """Every system attribute, by the parameter this botocore knows (boto3 before mid-2024
    has only the now deprecated ``AttributeNames``)."""
    try:
        members = sqs.meta.service_model.operation_model("ReceiveMessage").input_shape.members
    except Exception:
        members = {}
    name = (
        "MessageSystemAttributeNames"
        if "MessageSystemAttributeNames" in members
        else "AttributeNames"
    )
    return {name: ["All"]}


def receive(sqs: Client, url: str, count: int) -> list[Message]:
    answer = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=max(1, min(10, count)),
        VisibilityTimeout=VISIBILITY_SECONDS,
        WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
        MessageAttributeNames=["All"],
        **_system_attributes(sqs),
    )
    return [Message.of(m) for m in answer.get("Messages", [])]


def depth(sqs: Client, url: str) -> int:
    """Messages in the queue: visible, in flight and delayed (SQS's approximate counts)."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def visible(sqs: Client, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0))


def _chunks(items: Sequence[Any], size: int = 10) -> list[Sequence[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def delete(sqs: Client, url: str, messages: Sequence[Message]) -> dict[str, str]:
    """Delete ``messages``; the ones SQS did not delete, with its reason, by message id."""
    failed: dict[str, str] = {}
    for chunk in _chunks(messages):
        answer = sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(chunk)],
        )
        for entry in answer.get("Failed", []):
            failed[chunk[int(entry["Id"])].id] = f"not deleted: {entry.get('Message', entry)}"
    return failed


def release(sqs: Client, url: str, messages: Sequence[Message]) -> None:
    """Make ``messages`` visible again (peeked, or kept after a failure)."""
    for chunk in _chunks(messages):
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m.receipt, "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ],
        )


def message_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Received message attributes as SendMessage takes them (without the empty list values
    ReceiveMessage adds)."""
    sent: dict[str, Any] = {}
    for name, value in attributes.items():
        sent[name] = {
            key: item
            for key, item in value.items()
            if key in ("DataType", "StringValue", "BinaryValue") and item is not None
        }
    return sent


def entry(
    message: Message,
    *,
    fifo: bool,
    body: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A SendMessageBatch entry for ``message``: its body and attributes (and the trace
    header), and for a FIFO queue its message group with a fresh deduplication id, so that
    SQS does not drop it as a duplicate of the message it was."""
    sent: dict[str, Any] = {
        "MessageBody": message.body if body is None else body,
    }
    kept = message_attributes(message.message_attributes if attributes is None else attributes)
    if kept:
        sent["MessageAttributes"] = kept
    system = {
        name: {"DataType": "String", "StringValue": message.attributes[name]}
        for name in RESENT_SYSTEM_ATTRIBUTES
        if message.attributes.get(name)
    }
    if system:
        sent["MessageSystemAttributes"] = system
    if fifo:
        sent["MessageGroupId"] = message.attributes.get("MessageGroupId") or "redrive"
        sent["MessageDeduplicationId"] = uuid.uuid4().hex
    return sent


def send(sqs: Client, queue: QueueRef, entries: Sequence[dict[str, Any]]) -> list[str | None]:
    """Send ``entries`` to ``queue`` in batches; per entry None (sent) or why not."""
    results: list[str | None] = []
    if any("MessageSystemAttributes" in e for e in entries):
        # One by one: moto's SendMessageBatch drops the trace header (SendMessage keeps it).
        for sent in entries:
            try:
                sqs.send_message(QueueUrl=queue.url, **sent)
                results.append(None)
            except Exception as error:
                results.append(f"{queue.label} refused it: {error}")
        return results
    for chunk in _chunks(entries):
        answer = sqs.send_message_batch(
            QueueUrl=queue.url, Entries=[{"Id": str(i), **e} for i, e in enumerate(chunk)]
        )
        failed = {
            int(f["Id"]): f"{queue.label} refused it: {f.get('Code')}: {f.get('Message', '')}"
            for f in answer.get("Failed", [])
        }
        results += [failed.get(i) for i in range(len(chunk))]
    return results
