"""``make demo``: sample events through every example on the local runtime, and where each ended.

Needs a local ``make deploy`` (the emulator with the runtime keeps running afterwards). Each
scenario sends its events and waits, on the runtime's own status, until everything settled;
then it reads where the events are: a table row, an object, the rejected queue, a DLQ. The
end-to-end tests (tests/integration/test_end_to_end.py) run the same scenarios and assert the
outcomes.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import re
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tools import deploy  # noqa: E402


@dataclass
class Row:
    example: str
    event: str
    ended: str
    expected: str

    @property
    def ok(self) -> bool:
        return self.ended == self.expected


@dataclass
class Local:
    """Clients for the emulator at ``endpoint`` (dummy credentials: tooling is not checked)."""

    endpoint: str
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        import boto3

        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.endpoint,
                region_name=deploy.REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return self._clients[service]

    def outputs(self, stack: str) -> dict[str, str]:
        described = self.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}

    def resources(self, stack: str) -> dict[str, str]:
        paginator = self.client("cloudformation").get_paginator("list_stack_resources")
        return {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for page in paginator.paginate(StackName=stack)
            for r in page["StackResourceSummaries"]
        }

    def physical(self, stack: str, prefix: str) -> str:
        found = [
            v for k, v in self.resources(stack).items() if re.fullmatch(f"{prefix}[0-9A-F]{{8}}", k)
        ]
        if len(found) != 1:
            raise LookupError(f"{stack}: {len(found)} resources start with {prefix}")
        return found[0]

    def queue_url(self, url_or_name: str) -> str:
        name = url_or_name.rsplit("/", 1)[-1]
        return f"{self.endpoint}/{deploy.ACCOUNT}/{name}"

    def depth(self, queue: str) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url(queue),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def messages(self, queue: str) -> list[dict[str, Any]]:
        """Every message of ``queue``, peeked: each is received (hidden, so that the next
        receive returns others) and made visible again once all were read."""
        sqs, url = self.client("sqs"), self.queue_url(queue)
        seen: dict[str, dict[str, Any]] = {}
        try:
            while True:
                answer = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    VisibilityTimeout=300,
                    MessageAttributeNames=["All"],
                )
                fresh = [m for m in answer.get("Messages", []) if m["MessageId"] not in seen]
                if not fresh:  # (under a time scale, hidden ones may come back: seen already)
                    return list(seen.values())
                seen.update((m["MessageId"], m) for m in fresh)
        finally:
            receipts = [m["ReceiptHandle"] for m in seen.values()]
            for start in range(0, len(receipts), 10):
                sqs.change_message_visibility_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": 0}
                        for i, r in enumerate(receipts[start : start + 10])
                    ],
                )

    def items(self, table: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize
        paginator = self.client("dynamodb").get_paginator("scan")
        return [
            {k: deserialize(v) for k, v in item.items()}
            for page in paginator.paginate(TableName=table)
            for item in page["Items"]
        ]

    def count(self, table: str, attribute: str, prefix: str) -> int:
        """How many items of ``table`` have ``attribute`` starting with ``prefix`` (a counting
        scan: the items themselves do not cross the wire)."""
        paginator = self.client("dynamodb").get_paginator("scan")
        return sum(
            page["Count"]
            for page in paginator.paginate(
                TableName=table,
                Select="COUNT",
                FilterExpression="begins_with(#a, :p)",
                ExpressionAttributeNames={"#a": attribute},
                ExpressionAttributeValues={":p": {"S": prefix}},
            )
        )

    def control(self, path: str, *, method: str = "GET", body: Any = None) -> Any:
        """A call to the local runtime's control endpoints (``/_sp_local/<path>``)."""
        request = urllib.request.Request(
            f"{self.endpoint}/_sp_local/{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read() or b"null")

    def status(self) -> dict[str, Any]:
        return dict(self.control("status"))

    def settle(
        self, *, quiet: float = 3.0, timeout: float = 120.0, until: Callable[[], bool] | None = None
    ) -> bool:
        """Wait until ``until()`` holds (or, without it, nothing ran for ``quiet`` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if until is not None:
                if until():
                    return True
            elif self.status()["quiet_seconds"] >= quiet and not self.status()["async_queued"]:
                return True
            time.sleep(0.5)
        return False

    def apis(self) -> dict[str, str]:
        """The local URL of each deployed REST API stage, by stack name. The front re-reads
        the stacks first: its periodic view may predate a stack that just finished deploying."""
        return {a["stack"]: a["url"] for a in self.control("refresh", method="POST")["apis"]}

    def caller(self, name: str, *, allowed: bool = True) -> dict[str, str]:
        """Credentials of a new IAM user of the emulator: with ``allowed``, it may
        ``execute-api:Invoke`` the stage ``v1`` of every API; without, nothing."""
        iam = self.client("iam")
        user = f"{name}-{uuid.uuid4().hex[:6]}"
        iam.create_user(UserName=user)
        if allowed:
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "execute-api:Invoke",
                        "Resource": f"arn:aws:execute-api:{deploy.REGION}:{deploy.ACCOUNT}:*/v1/*",
                    }
                ],
            }
            iam.put_user_policy(
                UserName=user, PolicyName="invoke", PolicyDocument=json.dumps(policy)
            )
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"], "user": user}

    def fault(self, **fault: Any) -> None:
        """Make the emulator fail the next calls of one operation (see ``/_sp_local/faults``)."""
        self.control("faults", method="POST", body=fault)

    def clear_faults(self) -> None:
        self.control("faults", method="DELETE")

    def set_time_scale(self, scale: float) -> None:
        self.control("time-scale", method="POST", body={"scale": scale})

    @contextlib.contextmanager
    def time_scale_at_least(self, scale: float) -> Iterator[bool]:
        """Long waits pass at least ``scale`` times faster for the block, then at the scale of
        before, pass or fail; yields whether the scale was raised (False: it was ``scale`` or
        more already, and is left alone)."""
        before = float(self.status().get("time_scale", 1))
        if before >= scale:
            yield False
            return
        self.set_time_scale(scale)
        try:
            yield True
        finally:
            self.set_time_scale(before)

    @contextlib.contextmanager
    def retries_faster(self) -> Iterator[None]:
        """:meth:`time_scale_at_least` :data:`RETRY_TIME_SCALE` for the block.

        Only for a wait where all that is left in flight fails at once, so that its receives
        (each after a visibility timeout) are all the wait is: a message still being processed
        could outlast the shorter visibility timeout and be received a second time.
        """
        with self.time_scale_at_least(RETRY_TIME_SCALE):
            yield

    def run_schedule(self, name: str) -> None:
        self.control(f"schedules/{name}/run", method="POST")

    def invoke(self, function: str, event: Any) -> Any:
        answer = self.client("lambda").invoke(
            FunctionName=function, Payload=json.dumps(event).encode()
        )
        return json.loads(answer["Payload"].read() or b"null")

    def log_lines(self, group: str, pattern: str = "") -> list[str]:
        logs = self.client("logs")
        lines: list[str] = []
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            pages = logs.get_paginator("filter_log_events").paginate(
                logGroupName=group, **({"filterPattern": pattern} if pattern else {})
            )
            for page in pages:
                lines += [e["message"] for e in page["events"]]
        return lines


def png(width: int, height: int) -> bytes:
    """A real (tiny, blank) PNG of that size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def order(order_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_id": "c-1",
        "country": "DE",
        "items": [{"sku": "MUG-002", "quantity": 2, "unit_price": 3}],
        **extra,
    }


# --- the scenarios ----------------------------------------------------------------------------


def queue_worker(local: Local, *, good: int = 5, poison: int = 1) -> dict[str, int]:
    """Orders onto the QueueWorker example's queue: priced ones in the table, poison in the DLQ."""
    out = local.outputs("QueueWorkerExample")
    run = uuid.uuid4().hex[:8]
    sqs = local.client("sqs")
    bodies = [
        json.dumps({"order_id": f"{run}-{i}", "items": [{"quantity": 1, "unit_price": 2}]})
        for i in range(good)
    ]
    bodies += [f"poison {run} {i}" for i in range(poison)]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=local.queue_url(out["QueueUrl"]),
            Entries=[
                {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])
            ],
        )

    def counts() -> dict[str, int]:
        stored = local.count(out["TableName"], "order_id", run)
        dead = sum(1 for m in local.messages(out["DeadLetterQueueUrl"]) if run in m["Body"])
        return {
            "sent": len(bodies),
            "processed": stored,
            "dead_lettered": dead,
            "queued": local.depth(out["QueueUrl"]),
        }

    def ended(c: dict[str, int]) -> bool:
        return c["processed"] + c["dead_lettered"] >= len(bodies)

    # Each poll reads the table and the DLQ once.
    local.settle(until=lambda: ended(c := counts()) or c["processed"] >= good, timeout=180)
    with local.retries_faster():  # only the poison is left: received until it is dead-lettered
        local.settle(until=lambda: ended(counts()), timeout=180)
    return counts()


def fan_out(local: Local) -> list[Row]:
    out = local.outputs("FanOutExample")
    run = uuid.uuid4().hex[:8]
    s3 = local.client("s3")
    image, text = f"uploads/{run}-cat.png", f"uploads/{run}-notes.txt"
    s3.put_object(Bucket=out["UploadBucketName"], Key=image, Body=png(640, 480))
    s3.put_object(Bucket=out["UploadBucketName"], Key=text, Body=b"hello")

    def records(key: str) -> set[str]:
        return {
            str(i["record"]).split("#")[0]
            for i in local.items(out["MediaTableName"])
            if i.get("object_key") == key
        }

    def thumbnails() -> list[str]:
        listed = s3.list_objects_v2(Bucket=out["UploadBucketName"], Prefix="thumbnails/")
        return [o["Key"] for o in listed.get("Contents", []) if run in o["Key"]]

    local.settle(
        until=lambda: (
            records(image) >= {"audit", "metadata"}
            and bool(thumbnails())
            and records(text) >= {"audit", "metadata"}
        ),
    )
    return [
        Row(
            "fan-out",
            f"upload {image}",
            f"table: {sorted(records(image))}, thumbnail: {len(thumbnails())}",
            "table: ['audit', 'metadata', 'thumbnail'], thumbnail: 1",
        ),
        Row(
            "fan-out",
            f"upload {text}",
            f"table: {sorted(records(text))}",
            "table: ['audit', 'metadata']",
        ),
    ]


#: Where a pipeline's poison message ends: the first stage's DLQ (queues), the input queue's
#: DLQ (state machine: the execution fails outside its Catches, the pipe does not delete it).
POISON_QUEUE = {
    "PipelineQueuesExample": "OrdersStagesvalidateDeadLetterQueue",
    "PipelineStateMachineExample": "OrdersInputDeadLetterQueue",
}


def pipeline(local: Local, stack: str) -> list[Row]:
    out = local.outputs(stack)
    run = uuid.uuid4().hex[:8]
    sqs = local.client("sqs")
    accepted, rejected = f"{run}-ok", f"{run}-bad"
    sqs.send_message(
        QueueUrl=local.queue_url(out["InputQueueUrl"]), MessageBody=json.dumps(order(accepted))
    )
    sqs.send_message(
        QueueUrl=local.queue_url(out["InputQueueUrl"]),
        MessageBody=json.dumps(order(rejected, country="Germany")),
    )
    poison = f"{run} is not JSON"
    sqs.send_message(QueueUrl=local.queue_url(out["InputQueueUrl"]), MessageBody=poison)
    dlq = local.physical(stack, POISON_QUEUE[stack])

    def dead_lettered() -> bool:
        return any(m["Body"] == poison for m in local.messages(dlq))

    def stored() -> bool:
        return any(i.get("order_id") == accepted for i in local.items(out["TableName"]))

    def refused() -> str:
        for message in local.messages(out["RejectedQueueUrl"]):
            body = json.loads(message["Body"])
            if (body.get("item") or {}).get("order_id") == rejected:
                return f"rejected queue ({body.get('stage')}: {body.get('reason')})"
        return "nowhere yet"

    local.settle(until=lambda: stored() and refused() != "nowhere yet", timeout=180)
    with local.retries_faster():  # only the poison is left: received until it is dead-lettered
        local.settle(until=dead_lettered, timeout=180)
    return [
        Row(stack, f"order {accepted}", "table" if stored() else "nowhere yet", "table"),
        Row(
            stack,
            f"order {rejected} (country 'Germany')",
            refused().split(" (")[0],
            "rejected queue",
        ),
        Row(
            stack,
            "a message that is not JSON",
            "DLQ" if dead_lettered() else "nowhere yet",
            "DLQ",
        ),
    ]


def clicks(local: Local, *, good: int = 40, malformed: int = 2) -> dict[str, int]:
    out = local.outputs("KinesisExample")
    kinesis = local.client("kinesis")
    run = uuid.uuid4().hex[:6]
    pages = [f"/{run}/p{i % 4}" for i in range(good)]
    records = [
        {
            "Data": json.dumps({"page": p, "user_id": f"u{i}", "timestamp": time.time()}).encode(),
            "PartitionKey": f"u{i % 3}",
        }
        for i, p in enumerate(pages)
    ]
    records += [{"Data": b"not a click", "PartitionKey": "x"} for _ in range(malformed)]
    for start in range(0, len(records), 500):
        kinesis.put_records(StreamName=out["StreamName"], Records=records[start : start + 500])

    counted, archived = _click_counts(local, run, good)
    return {"sent": good, "malformed": malformed, "counted": counted, "archived": archived}


def _click_counts(local: Local, run: str, expected: int) -> tuple[int, int]:
    """The views counted and the clicks archived of ``run``, once both reach ``expected`` (or
    the wait ends)."""
    out = local.outputs("KinesisExample")

    def counted() -> int:
        return sum(
            int(i["views"])
            for i in local.items(out["PageViewsTableName"])
            if str(i["page"]).startswith(f"/{run}/")
        )

    def archived() -> int:
        s3 = local.client("s3")
        bucket = local.physical("KinesisExample", "ArchiveBucket")
        total = 0
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            total += body.count(f"/{run}/")
        return total

    local.settle(until=lambda: counted() >= expected and archived() >= expected, timeout=180)
    return counted(), archived()


class BackgroundHTTPServer(http.server.ThreadingHTTPServer):
    # Slow handlers outlive their client; never wait for them.
    daemon_threads = True
    block_on_close = False


@contextlib.contextmanager
def serve_http(
    handler: type[http.server.BaseHTTPRequestHandler], thread_name: str, *, port: int = 0
) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 (``port`` 0: a free one) from a background thread; yield
    the base URL; stop serving afterwards."""
    server = BackgroundHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, name=thread_name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def http_site() -> Iterator[str]:
    """A website on 127.0.0.1 for the probe to check."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>ok</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serve_http(Handler, "probe-site") as url:
        yield url + "/"


def probe(local: Local) -> list[Row]:
    """Point the probe at a local site and a closed port, run its schedule now, read its
    Availability metrics from its log group."""
    function = local.physical("ProbeExample", "WebsitesFunction")
    lambda_ = local.client("lambda")
    config = lambda_.get_function_configuration(FunctionName=function)
    original = dict(config["Environment"]["Variables"])
    with http_site() as url:
        targets = [
            {"name": "local-site", "url": url},
            {"name": "closed-port", "url": "http://127.0.0.1:9/", "timeout": 2},
        ]
        lambda_.update_function_configuration(
            FunctionName=function,
            Environment={"Variables": {**original, "PROBE_TARGETS": json.dumps(targets)}},
        )
        group = f"/aws/lambda/{function}"
        resource = local.physical("ProbeExample", "WebsitesFunctionLogGroup")
        group = resource or group
        before = len(local.log_lines(group))
        local.run_schedule(
            "WebsitesSchedule"
        )  # moto's CloudFormation skips schedules: by logical id

        def availability() -> dict[str, float]:
            found: dict[str, float] = {}
            for line in local.log_lines(group)[before:]:
                with contextlib.suppress(ValueError, TypeError):
                    document = json.loads(line)
                    if isinstance(document, dict) and "Availability" in document:
                        found[str(document.get("Target"))] = float(
                            document["Availability"][0]
                            if isinstance(document["Availability"], list)
                            else document["Availability"]
                        )
            return found

        local.settle(until=lambda: len(availability()) >= 2, timeout=60)
        lambda_.update_function_configuration(
            FunctionName=function, Environment={"Variables": original}
        )
    seen = availability()
    return [
        Row(
            "probe",
            f"check {name}",
            f"Availability {seen.get(name, 'none')}",
            f"Availability {expected}",
        )
        for name, expected in (("local-site", 1.0), ("closed-port", 0.0))
    ]


def command_router(local: Local) -> list[Row]:
    router = local.physical("CommandRouterExample", "AccountsRouterFunction")
    user = f"u-{uuid.uuid4().hex[:6]}"
    rows = []
    created = local.invoke(
        router, {"command": "create-user", "payload": {"id": user, "name": "Ada"}}
    )
    rows.append(
        Row("command-router", "create-user", f"status {created.get('statusCode')}", "status 200")
    )
    for version in ("v1", "v2"):
        got = local.invoke(
            router, {"command": "get-user", "version": version, "payload": {"id": user}}
        )
        rows.append(
            Row(
                "command-router",
                f"get-user {version}",
                f"status {got.get('statusCode')}",
                "status 200",
            )
        )
    welcome = local.invoke(router, {"command": "send-welcome-email", "payload": {"id": user}})
    rows.append(
        Row(
            "command-router",
            "send-welcome-email (async)",
            f"status {welcome.get('statusCode')}",
            "status 202",
        )
    )
    unknown = local.invoke(router, {"command": "no-such-command"})
    code = ((unknown.get("body") or {}).get("error") or {}).get("code")
    rows.append(
        Row(
            "command-router",
            "no-such-command",
            f"status {unknown.get('statusCode')} {code}",
            f"status 404 {code}",
        )
    )
    return rows


@dataclass
class Answer:
    status: int
    body: str
    headers: dict[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def call_api(
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    caller: dict[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    """One HTTP call, signed with SigV4 for ``execute-api`` when a ``caller`` is given (as
    ``curl --aws-sigv4`` or an SDK signs it)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    data = (
        body.encode()
        if isinstance(body, str)
        else None
        if body is None
        else json.dumps(body).encode()
    )
    request = AWSRequest(
        method=method,
        url=url,
        data=data,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    if caller is not None:
        credentials = Credentials(caller["key"], caller["secret"])
        SigV4Auth(credentials, "execute-api", deploy.REGION).add_auth(request)
    outgoing = urllib.request.Request(
        url, data=request.body or None, headers=dict(request.headers.items()), method=method
    )
    try:
        with urllib.request.urlopen(outgoing, timeout=timeout) as reply:
            return Answer(reply.status, reply.read().decode(), dict(reply.headers.items()))
    except urllib.error.HTTPError as reply:
        return Answer(reply.code, reply.read().decode(), dict(reply.headers.items()))


#: The legacy inventory the LegacyProxyExample fronts, when deployed locally.
LEGACY_ITEMS = {"1": ("A-1", "Bolt", 12), "2": ("B-2", "Nut", 40), "3": ("C-3", "Washer", 7)}
LEGACY_SECRET = "ORA-00942 at db-7.internal:1521"
LEGACY_SLOW_SECONDS = 3.0
#: The paths the legacy service was asked for, in order (tests read it to see cache hits).
LEGACY_REQUESTS: list[str] = []


def _legacy_handler() -> type[http.server.BaseHTTPRequestHandler]:
    class Legacy(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            LEGACY_REQUESTS.append(path)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                if path.startswith("/inventory/item/"):
                    self._item(path.rsplit("/", 1)[-1])
                elif path == "/inventory/items":
                    items = "".join(
                        f'<item id="{i}"><sku>{sku}</sku><name>{name}</name></item>'
                        for i, (sku, name, _) in LEGACY_ITEMS.items()
                    )
                    self._send(200, f"<items>{items}</items>", "application/xml")
                elif path == "/status":
                    self._send(200, "legacy inventory: up", "text/plain")
                else:
                    self._send(404, "Not Found", "text/plain")

        def _item(self, item: str) -> None:
            if item == "crash":
                self._send(
                    500, f"<error><message>{LEGACY_SECRET}</message></error>", "application/xml"
                )
            elif item == "slow":
                time.sleep(LEGACY_SLOW_SECONDS)
                self._send(200, '<item id="slow"><sku>S</sku></item>', "application/xml")
            elif item == "xxe":
                self._send(
                    200,
                    '<?xml version="1.0"?>\n<!DOCTYPE item [<!ENTITY xxe SYSTEM '
                    '"file:///etc/passwd">]>\n<item><sku>&xxe;</sku></item>',
                    "application/xml",
                )
            elif item in LEGACY_ITEMS:
                sku, name, stock = LEGACY_ITEMS[item]
                self._send(
                    200,
                    f'<item id="{item}"><sku>{sku}</sku><name>{name}</name>'
                    f"<stock>{stock}</stock></item>",
                    "application/xml",
                )
            else:
                self._send(404, "<error><message>no such item</message></error>", "application/xml")

        def _send(self, status: int, body: str, content_type: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Legacy


@contextlib.contextmanager
def legacy_inventory(port: int = 0) -> Iterator[str]:
    """The legacy XML inventory service on 127.0.0.1 (``port`` 0: a free one); yields its URL."""
    with serve_http(_legacy_handler(), "legacy-inventory", port=port) as url:
        yield url


def router_http(local: Local) -> list[Row]:
    """Commands over HTTP, signed: versions by header and query, the default version, an
    asynchronous command, an unknown command, a caller without the grant."""
    base = local.apis()["CommandRouterExample"]
    caller, stranger = local.caller("router-caller"), local.caller("stranger", allowed=False)
    user = f"u-{uuid.uuid4().hex[:6]}"
    calls = [
        (
            "POST create-user",
            "POST",
            "commands/create-user",
            {"id": user, "name": "Ada"},
            {},
            caller,
            200,
        ),
        (
            "POST get-user (default version)",
            "POST",
            "commands/get-user",
            {"id": user},
            {},
            caller,
            200,
        ),
        (
            "POST get-user?version=v1",
            "POST",
            "commands/get-user?version=v1",
            {"id": user},
            {},
            caller,
            200,
        ),
        (
            "POST get-user, X-Command-Version: v2",
            "POST",
            "commands/get-user",
            {"id": user},
            {"X-Command-Version": "v2"},
            caller,
            200,
        ),
        (
            "POST send-welcome-email (async)",
            "POST",
            "commands/send-welcome-email",
            {"id": user},
            {},
            caller,
            202,
        ),
        ("POST no-such-command", "POST", "commands/no-such-command", {}, {}, caller, 404),
        ("GET commands, unsigned", "GET", "commands", None, {}, None, 403),
        ("GET commands, caller without the grant", "GET", "commands", None, {}, stranger, 403),
    ]
    rows = []
    for event, method, path, body, headers, who, expected in calls:
        answer = call_api(method, base + path, body=body, headers=headers, caller=who)
        rows.append(Row("router HTTP", event, f"HTTP {answer.status}", f"HTTP {expected}"))
    return rows


def legacy_http(local: Local) -> list[Row]:
    """The inventory API over HTTP against the legacy service, where the example was deployed
    with a local legacy URL (``make deploy`` does that)."""
    base = local.apis()["LegacyProxyExample"]
    translator = local.physical("LegacyProxyExample", "InventoryTranslatorFunction")
    env = local.client("lambda").get_function_configuration(FunctionName=translator)
    legacy_url = env["Environment"]["Variables"].get("LEGACY_BASE_URL", "")
    legacy = urllib.parse.urlsplit(legacy_url)
    if legacy.hostname != "127.0.0.1" or legacy.port is None:
        return [Row("legacy HTTP", f"legacy service at {legacy_url}", "not local", "local")]
    caller = local.caller("inventory-caller")
    rows = []
    with legacy_inventory(legacy.port):
        for item in ("1", "2", "1"):
            answer = call_api("GET", f"{base}items/{item}", caller=caller)
            got = (answer.json() or {}).get("sku")
            rows.append(
                Row(
                    "legacy HTTP",
                    f"GET items/{item}",
                    f"HTTP {answer.status} {got}",
                    f"HTTP 200 {LEGACY_ITEMS[item][0]}",
                )
            )
        for event, path, expected in (
            ("GET items (list)", "items", 200),
            ("GET legacy/status (passthrough)", "legacy/status", 200),
            ("GET items/crash (legacy 500)", "items/crash", 502),
            ("GET items/xxe (entity refused)", "items/xxe", 502),
        ):
            answer = call_api("GET", base + path, caller=caller)
            leaked = " (leaked the legacy error)" if LEGACY_SECRET in answer.body else ""
            rows.append(
                Row("legacy HTTP", event, f"HTTP {answer.status}{leaked}", f"HTTP {expected}")
            )
    return rows


def ingest_http(local: Local, *, good: int = 20) -> list[Row]:
    """Clicks through the ingest API (single and batch, a partition key with quotes), a
    throttled stream answered 429, and the clicks reaching both consumers."""
    base = local.apis()["KinesisExample"]
    caller = local.caller("ingest-caller")
    run = uuid.uuid4().hex[:6]
    click = lambda i: {"page": f"/{run}/p{i % 4}", "user_id": f"u{i}", "timestamp": time.time()}  # noqa: E731
    single = call_api(
        "POST", base + "records", body={"data": click(0), "partitionKey": 'user "0"'}, caller=caller
    )
    batch = call_api(
        "POST",
        base + "records/batch",
        body={
            "records": [{"data": click(i), "partitionKey": f"u'{i % 3}"} for i in range(1, good)]
        },
        caller=caller,
    )
    local.fault(
        service="kinesis",
        operation="PutRecord",
        error="ProvisionedThroughputExceededException",
        count=1,
    )
    throttled = call_api(
        "POST", base + "records", body={"data": click(0), "partitionKey": "u0"}, caller=caller
    )
    local.clear_faults()
    counted, archived = _click_counts(local, run, good)
    retryable = ((throttled.json() or {}).get("error") or {}).get("retryable")
    return [
        Row("ingest HTTP", "POST records (key with quotes)", f"HTTP {single.status}", "HTTP 200"),
        Row("ingest HTTP", f"POST records/batch ({good - 1})", f"HTTP {batch.status}", "HTTP 200"),
        Row(
            "ingest HTTP",
            "POST records, stream throttled",
            f"HTTP {throttled.status} retryable={retryable}",
            "HTTP 429 retryable=True",
        ),
        Row(
            "ingest HTTP",
            f"{good} clicks reach both consumers",
            f"counted {counted}, archived {archived}",
            f"counted {good}, archived {good}",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.parse_args(argv)
    emulator = deploy.running_emulator()
    if emulator is None:
        print("make demo: no local emulator is running; run `make deploy` first.", file=sys.stderr)
        return 1
    local = Local(emulator.endpoint)
    # The poison messages' redrive takes minutes in real time.
    with local.time_scale_at_least(DEMO_TIME_SCALE) as raised:
        if raised:
            print(f"make demo: long waits run {DEMO_TIME_SCALE:g} times faster while it runs")
        return _demo(local)


DEMO_TIME_SCALE = 60.0
#: The time scale of :meth:`Local.retries_faster`: a 180 s visibility timeout lasts 0.6 s.
RETRY_TIME_SCALE = 300.0


def _demo(local: Local) -> int:
    started = time.monotonic()
    rows: list[Row] = []

    def step(name: str) -> None:
        print(f"[{time.monotonic() - started:5.1f} s] {name}", flush=True)

    step("queue worker")
    counts = queue_worker(local)
    rows.append(
        Row(
            "queue-worker",
            f"{counts['sent'] - 1} orders",
            f"table: {counts['processed']}",
            f"table: {counts['sent'] - 1}",
        )
    )
    rows.append(
        Row("queue-worker", "1 poison message", f"DLQ: {counts['dead_lettered']}", "DLQ: 1")
    )
    step("fan out")
    rows += fan_out(local)
    step("pipelines")
    rows += pipeline(local, "PipelineQueuesExample")
    rows += pipeline(local, "PipelineStateMachineExample")
    step("kinesis")
    kinesis = clicks(local)
    rows.append(
        Row(
            "kinesis",
            f"{kinesis['sent']} clicks",
            f"counted: {kinesis['counted']}, archived: {kinesis['archived']}",
            f"counted: {kinesis['sent']}, archived: {kinesis['sent']}",
        )
    )
    step("probe")
    rows += probe(local)
    step("command router (direct invoke)")
    rows += command_router(local)
    step("command router over HTTP")
    rows += router_http(local)
    step("legacy inventory over HTTP")
    rows += legacy_http(local)
    step("clickstream ingest over HTTP")
    rows += ingest_http(local)
    width = max(len(r.event) for r in rows)
    for row in rows:
        mark = "ok " if row.ok else "!! "
        print(
            f"{mark}{row.example:<28} {row.event:<{width}}  -> {row.ended}"
            + ("" if row.ok else f"   (expected {row.expected})")
        )
    print(
        f"\n{sum(r.ok for r in rows)} of {len(rows)} events ended where the docs say, "
        f"in {time.monotonic() - started:.0f} s."
    )
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
