"""Kinesis on-failure records: the records they name read again from the stream and given to
the consumer as its event source mapping would have (synchronously), the failure record deleted
only when the consumer took them all.

An on-failure record carries no data, only where it was (``KinesisBatchInfo``): the shard and
the first and last sequence numbers. Records past the stream's retention are gone; the record
is then kept, and said so.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from serverless_patterns.redrive._aws import Aws
from serverless_patterns.redrive._routes import (
    Route,
    error_text,
    function_name,
    record_of,
    split_qualifier,
)
from serverless_patterns.redrive._sqs import Message

#: Lambda's limits: 10,000 records per Kinesis batch, 6 MB per synchronous request.
MAX_BATCH = 10_000
MAX_PAYLOAD_BYTES = 5_500_000
#: GetRecords calls before giving up on reaching the end sequence number.
MAX_READS = 1_000


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso(text: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class StreamRoute(Route):
    """Replay to the consumer of a Kinesis event source mapping."""

    functions: str
    #: The mapping's settings (None: unknown, as without a template).
    batch_size: int | None = None
    tumbling_seconds: int | None = None
    partial: bool = True
    #: The mapping's function: records of other consumers are not this route's.
    function_name: str | None = None
    _roles: dict[str, str] = field(default_factory=dict, repr=False)

    KIND: ClassVar[str] = "kinesis"

    def destination(self) -> str:
        return f"replay the records to {self.functions} (synchronously)"

    def accepts(self, message: Message) -> str | None:
        record = record_of(message) or {}
        info = record.get("KinesisBatchInfo")
        function = (record.get("requestContext") or {}).get("functionArn")
        keys = ("shardId", "startSequenceNumber", "endSequenceNumber", "streamArn")
        if not isinstance(info, Mapping) or not all(info.get(k) for k in keys) or not function:
            return "not a Kinesis on-failure record (KinesisBatchInfo, requestContext.functionArn)"
        name = function_name(str(function))
        if self.function_name and name != self.function_name:
            return f"a record of {name}, not of {self.functions}"
        return None

    def describe(self, message: Message) -> str:
        record = record_of(message) or {}
        info, context = record["KinesisBatchInfo"], record["requestContext"]
        return (
            f"{info.get('batchSize', '?')} record(s) {info['startSequenceNumber']}.."
            f"{info['endSequenceNumber']} of {info['shardId']} -> "
            f"{function_name(context['functionArn'])}; it failed: "
            f"{context.get('condition', '?')}"
        )

    def apply_one(self, aws: Aws, message: Message) -> str | None:
        record = record_of(message) or {}
        info = record["KinesisBatchInfo"]
        function = str(record["requestContext"]["functionArn"])
        records = read_records(aws, info)
        if isinstance(records, str):
            return records
        batch_size = self.batch_size or MAX_BATCH
        for batch in _batches(records, batch_size):
            problem = self._deliver(aws, function, info, batch)
            if problem:
                return problem
        return None

    def _role(self, aws: Aws, function: str) -> str:
        if function not in self._roles:
            try:
                configuration = aws.client("lambda").get_function_configuration(
                    FunctionName=split_qualifier(function)[0]
                )
                self._roles[function] = str(configuration.get("Role", ""))
            except Exception:
                self._roles[function] = ""
        return self._roles[function]

    def _deliver(
        self, aws: Aws, function: str, info: Mapping[str, Any], batch: Sequence[Mapping[str, Any]]
    ) -> str | None:
        from serverless_patterns.testing import events

        stream_arn, shard_id = str(info["streamArn"]), str(info["shardId"])
        role = self._role(aws, function)
        kinesis_records = [
            events.kinesis_record(
                bytes(r["Data"]),
                sequence_number=str(r["SequenceNumber"]),
                partition_key=str(r["PartitionKey"]),
                stream_arn=stream_arn,
                shard_id=shard_id,
                arrival=r["ApproximateArrivalTimestamp"].timestamp(),
                **({"role_arn": role} if role else {}),
            )
            for r in batch
        ]
        if not self.tumbling_seconds:
            event: dict[str, Any] = {"Records": kinesis_records}
            answer = _invoke(aws, function, event)
            return answer if isinstance(answer, str) else self._failures(event, answer)
        # A window of their own, from now: a result already written for the window the
        # records first arrived in is not replaced by the result of these alone.
        start = dt.datetime.now(dt.UTC)
        window = (_iso(start), _iso(start + dt.timedelta(seconds=self.tumbling_seconds)))
        event = events.in_window(kinesis_records, window, shard_id=shard_id, stream_arn=stream_arn)
        answer = _invoke(aws, function, event)
        if isinstance(answer, str):
            return answer
        problem = self._failures(event, answer)
        if problem:
            return problem
        state = answer.get("state") if isinstance(answer, Mapping) else None
        final = events.in_window(
            [], window, state=state or {}, final=True, shard_id=shard_id, stream_arn=stream_arn
        )
        closed = _invoke(aws, function, final)
        return closed if isinstance(closed, str) else None

    def _failures(self, event: Mapping[str, Any], answer: Any) -> str | None:
        from serverless_patterns.testing import events

        if not self.partial:
            return None
        failed = events.failed_items(event, answer)
        if failed is None:
            return "the consumer's partial batch response is invalid: Lambda fails the batch"
        if failed:
            return f"the consumer reported {len(failed)} batch item failure(s), from {failed[0]}"
        return None


def _invoke(aws: Aws, function: str, event: Mapping[str, Any]) -> Any:
    """The consumer's answer, or why there is none (an error of the function or of Lambda)."""
    name, qualifier = split_qualifier(function)
    try:
        answer = aws.client("lambda").invoke(
            FunctionName=name,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode(),
            **({"Qualifier": qualifier} if qualifier else {}),
        )
    except Exception as error:
        return f"invoking {name} failed: {error_text(error)}"
    payload = answer["Payload"].read() if "Payload" in answer else b""
    if answer.get("FunctionError"):
        text = payload.decode(errors="replace")
        try:
            document = json.loads(text)
            text = f"{document.get('errorType', '')}: {document.get('errorMessage', text)}"
        except (ValueError, AttributeError):
            pass
        return f"{name.rsplit(':', 1)[-1]} failed ({answer['FunctionError']}): {text[:200]}"
    try:
        return json.loads(payload or b"null")
    except ValueError:
        return None


def _batches(records: Sequence[Mapping[str, Any]], size: int) -> list[list[Mapping[str, Any]]]:
    batches: list[list[Mapping[str, Any]]] = [[]]
    weight = 0
    for record in records:
        cost = len(record["Data"]) * 4 // 3 + 600  # base64 data and the record's other fields
        if batches[-1] and (len(batches[-1]) >= size or weight + cost > MAX_PAYLOAD_BYTES):
            batches.append([])
            weight = 0
        batches[-1].append(record)
        weight += cost
    return [batch for batch in batches if batch]


def read_records(aws: Aws, info: Mapping[str, Any]) -> list[Mapping[str, Any]] | str:
    """The records from ``startSequenceNumber`` to ``endSequenceNumber``, or why not."""
    import botocore.exceptions  # type: ignore[import-untyped]

    kinesis = aws.client("kinesis")
    stream_arn, shard_id = str(info["streamArn"]), str(info["shardId"])
    stream = stream_arn.rsplit("/", 1)[-1]
    start, end = str(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    try:
        summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        hours = int(summary.get("RetentionPeriodHours", 24))
        arrival = _parse_iso(info.get("approximateArrivalOfFirstRecord"))
        if arrival is not None and arrival < dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours):
            return (
                f"the records arrived {_iso(arrival)}, past the stream's retention of {hours} h: "
                "they are no longer in the stream (the failure record is kept)"
            )
        iterator = kinesis.get_shard_iterator(
            StreamName=stream,
            ShardId=shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=start,
        )["ShardIterator"]
        records: list[Mapping[str, Any]] = []
        for _ in range(MAX_READS):
            if iterator is None:
                break
            answer = kinesis.get_records(ShardIterator=iterator, Limit=MAX_BATCH)
            for record in answer.get("Records", []):
                if int(record["SequenceNumber"]) > end:
                    iterator = None
                    break
                records.append(record)
            else:
                iterator = answer.get("NextShardIterator")
                if records and int(records[-1]["SequenceNumber"]) == end:
                    break
                if not answer.get("Records") and not answer.get("MillisBehindLatest"):
                    break
    except botocore.exceptions.ClientError as error:
        return f"the records cannot be read from {stream} ({shard_id}): {error_text(error)}"
    if not records or str(records[0]["SequenceNumber"]) != start:
        return (
            f"record {start} is no longer in {stream} ({shard_id}): past the stream's "
            "retention (the failure record is kept)"
        )
    if int(records[-1]["SequenceNumber"]) != end:
        last = records[-1]["SequenceNumber"]
        return f"{stream} ({shard_id}) returned records up to {last} only, not up to {end}"
    return records
