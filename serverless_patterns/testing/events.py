"""Events in the shapes AWS delivers them to Lambda, for handler tests, and a check of a
partial batch response against its event.

Standard library only (no aws_cdk): the local runtime builds the records it delivers with the
same functions. Each builder takes what a construct's settings shape (a FIFO queue's message
group, a mapping's batch size, a tumbling window and its state) as arguments.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue"
STREAM_ARN = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/stream"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:topic"


def _text(value: str | bytes | Mapping[str, Any] | Sequence[Any]) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return value if isinstance(value, str) else json.dumps(value)


def _bytes(value: str | bytes | Mapping[str, Any] | Sequence[Any]) -> bytes:
    return value if isinstance(value, bytes) else _text(value).encode()


def _check_batch(kind: str, count: int, batch_size: int | None) -> None:
    if batch_size is not None and not 0 < count <= batch_size:
        raise ValueError(
            f"{kind}: {count} records, but the mapping's batch size is {batch_size}: Lambda "
            f"delivers 1 to {batch_size} records per invocation"
        )


# --- SQS --------------------------------------------------------------------------------------


def sqs_record_from_message(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """One message of SQS ``ReceiveMessage`` (with ``AttributeNames=["All"]``) as the record
    Lambda (and EventBridge Pipes) hand to the consumer."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": base64.b64encode(value["BinaryValue"]).decode()
                if isinstance(value.get("BinaryValue"), bytes)
                else value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value.get("DataType"),
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody")
        or hashlib.md5(str(message["Body"]).encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def sqs_event(
    bodies: Sequence[str | bytes | Mapping[str, Any]],
    *,
    queue_arn: str = QUEUE_ARN,
    batch_size: int | None = None,
    group_id: str = "group-1",
    attributes: Mapping[str, str] | None = None,
    receive_count: int = 1,
) -> dict[str, Any]:
    """An SQS event of ``bodies`` (dicts are sent as JSON). A queue ARN ending in ``.fifo``
    gives FIFO records: ``MessageGroupId`` ``group_id`` and a sequence number each.

    Args:
        bodies: the message bodies, in order.
        queue_arn: the source queue. Default a standard queue.
        batch_size: the mapping's batch size: more bodies than that is an error. Default none.
        group_id: the message group of a FIFO queue's records. Default ``group-1``.
        attributes: string message attributes, on every record. Default none.
        receive_count: ``ApproximateReceiveCount`` of every record. Default 1.
    """
    _check_batch("sqs_event", len(bodies), batch_size)
    fifo = queue_arn.endswith(".fifo")
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    messages = []
    for index, body in enumerate(bodies):
        system = {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(now),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(now),
        }
        if fifo:
            system.update(
                MessageGroupId=group_id,
                MessageDeduplicationId=hashlib.sha256(_bytes(body)).hexdigest(),
                SequenceNumber=str(18_849_496_460_467_696_128 + index),
            )
        messages.append(
            {
                "MessageId": str(uuid.uuid4()),
                "ReceiptHandle": base64.b64encode(uuid.uuid4().bytes).decode(),
                "Body": _text(body),
                "Attributes": system,
                "MessageAttributes": {
                    name: {"StringValue": value, "DataType": "String"}
                    for name, value in (attributes or {}).items()
                },
            }
        )
    return {"Records": [sqs_record_from_message(m, queue_arn) for m in messages]}


# --- Kinesis ----------------------------------------------------------------------------------


def kinesis_record(
    data: str | bytes | Mapping[str, Any],
    *,
    sequence_number: str,
    partition_key: str = "key",
    stream_arn: str = STREAM_ARN,
    shard_id: str = "shardId-000000000000",
    arrival: float | None = None,
    role_arn: str = f"arn:aws:iam::{ACCOUNT}:role/consumer",
) -> dict[str, Any]:
    """One Kinesis record as Lambda delivers it (``data`` base64-encoded)."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number,
            "data": base64.b64encode(_bytes(data)).decode("ascii"),
            "approximateArrivalTimestamp": arrival
            if arrival is not None
            else dt.datetime.now(dt.UTC).timestamp(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": stream_arn.split(":")[3],
        "eventSourceARN": stream_arn,
    }


def kinesis_event(
    records: Sequence[str | bytes | Mapping[str, Any]],
    *,
    stream_arn: str = STREAM_ARN,
    partition_key: str = "key",
    batch_size: int | None = None,
    shard_id: str = "shardId-000000000000",
    window: tuple[str, str] | None = None,
    state: Mapping[str, Any] | None = None,
    final: bool = False,
) -> dict[str, Any]:
    """A Kinesis event of ``records`` (sequence numbers ascending). With a tumbling ``window``
    (start, end as ISO timestamps) the event carries it, the ``state`` the previous invocation
    returned and whether this is the window's final invocation, as Lambda documents."""
    _check_batch("kinesis_event", len(records), batch_size)
    event: dict[str, Any] = {
        "Records": [
            kinesis_record(
                data,
                sequence_number=str(
                    49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898 + i
                ),
                partition_key=partition_key,
                stream_arn=stream_arn,
                shard_id=shard_id,
            )
            for i, data in enumerate(records)
        ]
    }
    if window is None:
        return event
    return in_window(
        event["Records"], window, state=state, final=final, shard_id=shard_id, stream_arn=stream_arn
    )


def in_window(
    records: Sequence[Mapping[str, Any]],
    window: tuple[str, str] | Mapping[str, str],
    *,
    state: Mapping[str, Any] | None = None,
    final: bool = False,
    shard_id: str = "shardId-000000000000",
    stream_arn: str = STREAM_ARN,
) -> dict[str, Any]:
    """Stream ``records`` as a mapping with a tumbling window delivers them: the window, the
    state the previous invocation of the window returned, and whether this is its final
    invocation (where the function reports the window's result)."""
    start, end = (window["start"], window["end"]) if isinstance(window, Mapping) else window
    return {
        "Records": list(records),
        "window": {"start": start, "end": end},
        "state": dict(state or {}),
        "shardId": shard_id,
        "eventSourceARN": stream_arn,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": False,
    }


# --- SNS, S3, EventBridge, Scheduler ----------------------------------------------------------


def sns_event(
    message: str | Mapping[str, Any],
    *,
    topic_arn: str = TOPIC_ARN,
    subject: str | None = None,
    attributes: Mapping[str, str | float | Sequence[str]] | None = None,
) -> dict[str, Any]:
    """One SNS notification as Lambda receives it, with typed message attributes."""

    def typed(value: str | float | Sequence[str]) -> dict[str, str]:
        if isinstance(value, (int, float)):
            return {"Type": "Number", "Value": str(value)}
        if isinstance(value, str):
            return {"Type": "String", "Value": value}
        return {"Type": "String.Array", "Value": json.dumps(list(value))}

    message_id = str(uuid.uuid4())
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": _text(message),
                    "Timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
                    + "Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.amazonaws.com/cert.pem",
                    "UnsubscribeUrl": f"https://sns.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}",
                    "MessageAttributes": {k: typed(v) for k, v in (attributes or {}).items()},
                },
            }
        ]
    }


def s3_record(
    bucket: str,
    key: str,
    *,
    size: int = 0,
    etag: str | None = None,
    event_name: str = "ObjectCreated:Put",
    event_time: str | None = None,
    configuration_id: str = "notification",
) -> dict[str, Any]:
    """One S3 notification record (as a bucket sends it to Lambda, SQS or SNS); ``key`` is
    URL-encoded in it, as S3 encodes it."""
    from urllib.parse import quote_plus

    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": event_time
        or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "EXAMPLE"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "EXAMPLE"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": quote_plus(key, safe="/"),
                "size": size,
                "eTag": etag or hashlib.md5(key.encode()).hexdigest(),
                "sequencer": "0055AED6DCD90281E5",
            },
        },
    }


def s3_event(bucket: str, key: str, **options: Any) -> dict[str, Any]:
    """An S3 notification of one object (the options of :func:`s3_record`)."""
    return {"Records": [s3_record(bucket, key, **options)]}


def sns_record_from_envelope(envelope: Mapping[str, Any], subscription_arn: str) -> dict[str, Any]:
    """An SNS notification as an SQS subscriber (or HTTP endpoint) gets it, as the record Lambda
    gets: the same fields, with Lambda's spelling of the two URLs."""
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": envelope["Type"],
            "MessageId": envelope["MessageId"],
            "TopicArn": envelope["TopicArn"],
            "Subject": envelope.get("Subject"),
            "Message": envelope["Message"],
            "Timestamp": envelope["Timestamp"],
            "SignatureVersion": envelope["SignatureVersion"],
            "Signature": envelope["Signature"],
            "SigningCertUrl": envelope["SigningCertURL"],
            "UnsubscribeUrl": envelope["UnsubscribeURL"],
            "MessageAttributes": dict(envelope.get("MessageAttributes") or {}),
        },
    }


def eventbridge_event(
    detail: Mapping[str, Any],
    *,
    source: str,
    detail_type: str,
    resources: Sequence[str] = (),
) -> dict[str, Any]:
    """One EventBridge event as a rule's target receives it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": list(resources),
        "detail": dict(detail),
    }


def scheduler_event(payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What an EventBridge Scheduler target receives: the schedule's ``Input``, as it is (an
    empty object when the schedule has none)."""
    return dict(payload or {})


# --- API Gateway ------------------------------------------------------------------------------


def _grouped(pairs: Sequence[tuple[str, str]] | Mapping[str, str] | None) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs or []):
        grouped.setdefault(key, []).append(value)
    return grouped


def api_gateway_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    body: str | bytes | Mapping[str, Any] | None = None,
    headers: Sequence[tuple[str, str]] | Mapping[str, str] | None = None,
    query: Sequence[tuple[str, str]] | Mapping[str, str] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    stage: str = "prod",
    stage_variables: Mapping[str, str] | None = None,
    request_id: str | None = None,
    identity: Mapping[str, Any] | None = None,
    authorizer: Mapping[str, Any] | None = None,
    request_context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A REST API (v1) Lambda proxy integration event: a binary ``body`` is base64-encoded,
    a dict sent as JSON; repeated headers and query parameters land in both shapes as API
    Gateway puts them (the last value in the single-value one). ``request_context`` replaces
    the example request context (the local API front passes its own)."""
    header_values, query_values = _grouped(headers), _grouped(query)
    binary = isinstance(body, bytes) and not is_text(body)
    text = (
        None
        if body is None
        else base64.b64encode(body).decode()
        if binary and isinstance(body, bytes)
        else _text(body)
    )
    context = (
        dict(request_context)
        if request_context is not None
        else {
            "accountId": ACCOUNT,
            "apiId": "a1b2c3d4e5",
            "resourcePath": resource or path,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id or str(uuid.uuid4()),
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "tests", **dict(identity or {})},
            **({"authorizer": dict(authorizer)} if authorizer else {}),
        }
    )
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in header_values.items()} or None,
        "multiValueHeaders": header_values or None,
        "queryStringParameters": {k: v[-1] for k, v in query_values.items()} or None,
        "multiValueQueryStringParameters": query_values or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": context,
        "body": text,
        "isBase64Encoded": binary,
    }


def is_text(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 text (API Gateway base64-encodes a body that is not)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- partial batch responses ------------------------------------------------------------------


def item_identifiers(event: Mapping[str, Any]) -> list[str]:
    """The identifiers a partial batch response may name: SQS message ids, Kinesis and
    DynamoDB stream sequence numbers."""
    found = []
    for record in event.get("Records") or []:
        if "messageId" in record:
            found.append(str(record["messageId"]))
        elif "kinesis" in record:
            found.append(str(record["kinesis"]["sequenceNumber"]))
        elif "dynamodb" in record:
            found.append(str(record["dynamodb"]["SequenceNumber"]))
    return found


def batch_response_problems(event: Mapping[str, Any], response: Any) -> list[str]:
    """What is wrong with ``response`` as the partial batch response to ``event`` (an empty
    list: nothing). Lambda fails the whole batch for a ``batchItemFailures`` that is not a list,
    an item without ``itemIdentifier``, an empty one, or one not in the batch; and takes a
    response whose key is misspelt as complete success, which loses the failed items."""
    if response in (None, "", {}):
        return []
    if not isinstance(response, dict):
        return [f"the response is a {type(response).__name__}, not an object"]
    if "batchItemFailures" not in response:
        misspelt = [k for k in response if k.lower().replace("_", "") == "batchitemfailures"]
        if misspelt:
            return [
                f"the key is {misspelt[0]!r}: Lambda reads 'batchItemFailures' only, and "
                "takes this response as complete success"
            ]
        return []
    failures = response["batchItemFailures"]
    if failures is None:
        return []
    if not isinstance(failures, list):
        return ["batchItemFailures is not a list: Lambda fails the whole batch"]
    known = set(item_identifiers(event))
    problems = []
    for index, item in enumerate(failures):
        if not isinstance(item, dict) or "itemIdentifier" not in item:
            keys = list(item) if isinstance(item, dict) else type(item).__name__
            problems.append(
                f"batchItemFailures[{index}] has no 'itemIdentifier' ({keys}): "
                "Lambda fails the whole batch"
            )
        elif not item["itemIdentifier"]:
            problems.append(
                f"batchItemFailures[{index}] has an empty itemIdentifier: Lambda "
                "fails the whole batch"
            )
        elif str(item["itemIdentifier"]) not in known:
            problems.append(
                f"batchItemFailures[{index}] names {item['itemIdentifier']!r}, "
                "which is not in the batch: Lambda fails the whole batch"
            )
    return problems


def failed_items(event: Mapping[str, Any], response: Any) -> list[str] | None:
    """The identifiers ``response`` reports failed, or None when Lambda would fail the whole
    batch for it (see :func:`batch_response_problems`); a misspelt key is complete success."""
    problems = batch_response_problems(event, response)
    if any("whole batch" in problem for problem in problems):
        return None
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return []
    return [str(item["itemIdentifier"]) for item in response["batchItemFailures"]]


def assert_batch_response(event: Mapping[str, Any], response: Any) -> None:
    """Fail (AssertionError saying what is wrong) unless ``response`` is a valid partial
    batch response to ``event``."""
    problems = batch_response_problems(event, response)
    assert not problems, "invalid partial batch response:\n" + "\n".join(f"  {p}" for p in problems)
