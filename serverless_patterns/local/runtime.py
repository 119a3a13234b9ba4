"""The local runtime: runs deployed functions and wires their event sources as AWS does.

It lives in the emulator's process (``python -m serverless_patterns.local serve``) and works
from the emulator's CloudFormation stacks (:mod:`.catalog`), re-read every few seconds, so a
redeploy is picked up. What each source does, point by point against AWS's documentation, is in
the fidelity table of docs/local.md; the short version:

- event source mappings are polled here, with the function's execution role (so a missing
  ``sqs:ReceiveMessage`` fails as on AWS), not by moto's own hooks (which moto_patches turns off);
- asynchronous invocations (``InvocationType=Event``, SNS, S3, EventBridge, Scheduler) go
  through one queue with the function's EventInvokeConfig: retries, maximum event age,
  on-failure and on-success destinations with the documented record;
- SNS subscriptions, bucket notifications, Scheduler schedules, EventBridge Pipes and
  EventInvokeConfigs that moto's CloudFormation skips are applied from the templates.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import logging
import math
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from serverless_patterns.local import catalog
from serverless_patterns.local.clock import Clock
from serverless_patterns.local.sandbox import FunctionPool, FunctionSpec, InvokeResult
from serverless_patterns.testing import events

LOG = logging.getLogger("serverless_patterns.local")
#: Session names of the credentials the runtime issues: calls signed with them are checked
#: against the role's policies (moto_patches enforces IAM for these only).
SESSION_PREFIX = "sp-local-"
REFRESH_SECONDS = 2.0


def _iso(timestamp: float) -> str:
    return (
        dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds")
    ).replace("+00:00", "Z")


def _arn_parts(arn: str) -> list[str]:
    return arn.split(":", 5)


def queue_url(endpoint: str, arn: str) -> str:
    parts = _arn_parts(arn)
    return f"{endpoint}/{parts[4]}/{parts[5]}"


class Activity:
    """In-flight work, so that tests and ``make demo`` can wait until everything settled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self.last_change = time.monotonic()
        self.invocations = 0
        self.errors = 0

    @contextlib.contextmanager
    def busy(self) -> Any:
        with self._lock:
            self.in_flight += 1
            self.last_change = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1
                self.last_change = time.monotonic()

    def touch(self) -> None:
        with self._lock:
            self.last_change = time.monotonic()

    def quiet_for(self) -> float:
        with self._lock:
            return 0.0 if self.in_flight else time.monotonic() - self.last_change


class Runtime:
    """Everything that runs beside the emulator; :meth:`start` and :meth:`stop` it."""

    def __init__(self, *, endpoint: str, state_dir: Path, clock: Clock) -> None:
        self.endpoint = endpoint
        self.clock = clock
        self.activity = Activity()
        self.issued_keys: set[str] = set()
        self._credentials: dict[str, tuple[float, dict[str, str]]] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.RLock()
        #: Called after every refresh (the API front reloads its APIs there).
        self.on_refresh: list[Callable[[], None]] = []
        self.pool = FunctionPool(
            state_dir / "runtime",
            endpoint=endpoint,
            region="us-east-1",
            credentials=self.function_credentials,
            log_sink=self.write_logs,
        )
        self.async_queue: queue.Queue[AsyncEvent | None] = queue.Queue()
        self._workers: dict[str, Worker] = {}
        self._applied: dict[str, str] = {}
        self.invoke_configs: dict[str, dict[str, Any]] = {}
        self.schedules: dict[str, Schedule] = {}
        self._threads: list[threading.Thread] = []
        #: Template properties of functions (layers, log group), re-read on every refresh.
        self._function_props: dict[str, dict[str, Any]] = {}

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        for target in (self._refresh_loop, *([self._async_loop] * 4)):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self.clock.stopping.set()
        for _ in range(4):
            self.async_queue.put(None)
        self.pool.close()

    def _refresh_loop(self) -> None:
        while not self.clock.stopping.is_set():
            try:
                self.refresh()
            except Exception:
                LOG.exception("refresh failed")
            self.clock.pause(REFRESH_SECONDS)

    def refresh(self) -> None:
        """Bring the wiring in line with the deployed templates."""
        with self._lock:
            self._function_props = {
                str(r.physical_id): r.properties
                for r in catalog.resources("AWS::Lambda::Function")
                if r.physical_id
            }
            wanted: dict[str, Callable[[], Worker]] = {}
            for resource in catalog.resources(
                "AWS::Lambda::EventSourceMapping",
                "AWS::Pipes::Pipe",
                "AWS::Scheduler::Schedule",
                "AWS::SNS::Subscription",
                "AWS::S3::Bucket",
                "AWS::Lambda::EventInvokeConfig",
            ):
                self._wire(resource, wanted)
            for key in set(self._workers) - set(wanted):
                self._workers.pop(key).stop()
            for key, make in wanted.items():
                if key not in self._workers:
                    worker = make()
                    self._workers[key] = worker
                    worker.start()
        for listener in self.on_refresh:
            listener()

    def _wire(self, resource: catalog.Resource, wanted: dict[str, Callable[[], Worker]]) -> None:
        props = resource.properties
        digest = hashlib.sha256(json.dumps(props, sort_keys=True, default=str).encode()).hexdigest()
        key = f"{resource.key}#{digest[:12]}"
        if resource.type == "AWS::Lambda::EventSourceMapping":
            if props.get("Enabled", True) in (False, "false"):
                return
            source = str(props.get("EventSourceArn", ""))
            if ":sqs:" in source:
                wanted[key] = lambda: SqsMapping(self, resource)
            elif ":kinesis:" in source:
                wanted[key] = lambda: KinesisMapping(self, resource)
        elif resource.type == "AWS::Pipes::Pipe":
            if str(props.get("Source", "")).split(":")[2:3] == ["sqs"]:
                wanted[key] = lambda: SqsPipe(self, resource)
        elif resource.type == "AWS::Scheduler::Schedule":
            wanted[key] = lambda: Schedule(self, resource)
        elif self._applied.get(resource.key) != digest:
            try:
                if resource.type == "AWS::SNS::Subscription":
                    self._subscribe(resource)
                elif resource.type == "AWS::S3::Bucket":
                    self._bucket_notifications(resource)
                elif resource.type == "AWS::Lambda::EventInvokeConfig":
                    self._invoke_config(resource)
            except Exception:
                LOG.exception("could not apply %s", resource.key)
                return
            self._applied[resource.key] = digest

    # --- credentials and clients --------------------------------------------------------------

    def role_credentials(self, role_arn: str, session: str) -> dict[str, str]:
        """Credentials of ``role_arn``, assumed through the emulator's STS (cached 50 min)."""
        with self._lock:
            cached = self._credentials.get(role_arn)
            if cached and cached[0] > time.time():
                return cached[1]
        sts = self.admin_client("sts")
        name = (SESSION_PREFIX + re.sub(r"[^\w+=,.@-]", "-", session))[:64]
        answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=name)["Credentials"]
        credentials = {
            "AWS_ACCESS_KEY_ID": answer["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": answer["SecretAccessKey"],
            "AWS_SESSION_TOKEN": answer["SessionToken"],
        }
        with self._lock:
            self.issued_keys.add(answer["AccessKeyId"])
            self._credentials[role_arn] = (time.time() + 3000, credentials)
        return credentials

    def allowed(self, role_arn: str, action: str, resource: str) -> bool:
        """Whether ``role_arn``'s policies allow ``action`` on ``resource`` (moto's evaluator),
        for calls the runtime makes on a role's behalf without a request to sign."""
        from moto.iam.access_control import IAMPolicy, PermissionResult
        from moto.iam.models import iam_backends

        backend = iam_backends["123456789012"]["aws"]
        name = role_arn.rsplit("/", 1)[-1]
        policies: list[Any] = [
            backend.get_role_policy(name, p)[1] for p in backend.list_role_policies(name)
        ]
        attached, _ = backend.list_attached_role_policies(name)
        policies += list(attached)  # IAMPolicy reads a managed policy's default version
        results = [IAMPolicy(p).is_action_permitted(action, resource) for p in policies]
        return PermissionResult.DENIED not in results and PermissionResult.PERMITTED in results

    def function_credentials(self, spec: FunctionSpec) -> Mapping[str, str]:
        return self.role_credentials(spec.role_arn, spec.name) if spec.role_arn else {}

    def admin_client(self, service: str) -> Any:
        return self._client(service, "", {})

    def role_client(self, service: str, role_arn: str, session: str) -> Any:
        """A client signed with ``role_arn``'s credentials: IAM is enforced for its calls."""
        return self._client(service, role_arn, self.role_credentials(role_arn, session))

    def _client(self, service: str, role_arn: str, credentials: Mapping[str, str]) -> Any:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        key = (service, role_arn, credentials.get("AWS_ACCESS_KEY_ID", ""))
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = boto3.session.Session().client(
                    service,
                    endpoint_url=self.endpoint,
                    region_name="us-east-1",
                    aws_access_key_id=credentials.get("AWS_ACCESS_KEY_ID", "testing"),
                    aws_secret_access_key=credentials.get("AWS_SECRET_ACCESS_KEY", "testing"),
                    aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
                    config=Config(retries={"max_attempts": 2}, read_timeout=70),
                )
                self._clients[key] = client
            return client

    # --- functions ---------------------------------------------------------------------------

    def function_spec(self, name_or_arn: str) -> FunctionSpec:
        from moto.awslambda.utils import get_backend

        parts = name_or_arn.split(":")
        account, region = (parts[4], parts[3]) if len(parts) >= 7 else ("123456789012", "us-east-1")
        backend = get_backend(account, region)
        function = backend.get_function(name_or_arn)
        props = self._function_props.get(function.function_name)
        if props is None:
            resource = catalog.function_resource(function.function_name)
            props = resource.properties if resource else {}
            with self._lock:
                self._function_props[function.function_name] = props
        layers = []
        for arn in props.get("Layers") or []:
            layer = backend.layers_versions_by_arn(str(arn))
            if layer is not None:
                layers.append(layer.code_bytes)
        concurrency = props.get("ReservedConcurrentExecutions")
        return FunctionSpec(
            name=function.function_name,
            arn=function.function_arn,
            handler=str(function.handler),
            runtime=str(function.run_time),
            timeout=float(function.timeout),
            memory_size=int(function.memory_size),
            environment={k: str(v) for k, v in (function.environment_vars or {}).items()},
            code=function.code_bytes,
            layers=tuple(layers),
            role_arn=str(function.role),
            log_group=str((props.get("LoggingConfig") or {}).get("LogGroup") or ""),
            reserved_concurrency=int(concurrency) if concurrency is not None else None,
        )

    def invoke(self, name_or_arn: str, event: Any) -> InvokeResult:
        """Run one synchronous invocation."""
        spec = self.function_spec(name_or_arn)
        with self.activity.busy():
            result = self.pool.invoke(spec, event)
        self.activity.invocations += 1
        if not result.ok:
            self.activity.errors += 1
        return result

    def write_logs(self, group: str, stream: str, lines: Sequence[str]) -> None:
        from moto.logs.models import logs_backends

        backend = logs_backends["123456789012"]["us-east-1"]
        with contextlib.suppress(Exception):
            backend.create_log_group(group, {})
        with contextlib.suppress(Exception):
            backend.create_log_stream(group, stream)
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in lines if line is not None]
        if events:
            backend.put_log_events(group, stream, events)

    # --- asynchronous invocation ----------------------------------------------------------

    def invoke_async(self, name_or_arn: str, event: Any, *, source: str = "lambda") -> str:
        """Accept an asynchronous invocation (as Lambda's internal queue does) and return its
        request id."""
        request = AsyncEvent(function=name_or_arn, event=event, source=source)
        self.activity.touch()
        self.async_queue.put(request)
        return request.request_id

    def _async_loop(self) -> None:
        while True:
            request = self.async_queue.get()
            if request is None:
                return
            with self.activity.busy():
                try:
                    self._run_async(request)
                except Exception:
                    LOG.exception("asynchronous invocation of %s failed", request.function)

    def _run_async(self, request: AsyncEvent) -> None:
        spec = self.function_spec(request.function)
        config = self.invoke_configs.get(spec.name, {})
        retries = int(config.get("MaximumRetryAttempts", 2))
        max_age = float(config.get("MaximumEventAgeInSeconds", 21600))
        destinations = config.get("DestinationConfig") or {}
        result = InvokeResult()
        condition = "RetriesExhausted"
        for attempt in range(retries + 1):
            # Lambda waits about a minute before the first retry and two before the second.
            if attempt and not self.clock.sleep(60.0 * attempt):
                return
            if time.time() - request.received > self.clock.scaled(max_age):
                condition = "EventAgeExceeded"
                break
            result = self.pool.invoke(spec, request.event)
            request.attempts += 1
            self.activity.invocations += 1
            if result.ok:
                target = (destinations.get("OnSuccess") or {}).get("Destination")
                if target:
                    self._send_record(
                        spec, str(target), self._async_record(spec, request, result, "Success")
                    )
                return
            self.activity.errors += 1
        target = (destinations.get("OnFailure") or {}).get("Destination")
        if target:
            self._send_record(
                spec, str(target), self._async_record(spec, request, result, condition)
            )
            return
        function = self._function_model(spec.name)
        dlq = (getattr(function, "dead_letter_config", None) or {}).get("TargetArn")
        if dlq:
            self._send_record(spec, str(dlq), request.event)
        else:
            LOG.warning(
                "asynchronous event for %s discarded after %d attempts", spec.name, request.attempts
            )

    def _function_model(self, name: str) -> Any:
        from moto.awslambda.utils import get_backend

        with contextlib.suppress(Exception):
            return get_backend("123456789012", "us-east-1").get_function(name)
        return None

    @staticmethod
    def _async_record(
        spec: FunctionSpec, request: AsyncEvent, result: InvokeResult, condition: str
    ) -> dict[str, Any]:
        """The invocation record Lambda sends to an asynchronous destination."""
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": _iso(time.time()),
            "requestContext": {
                "requestId": request.request_id,
                "functionArn": f"{spec.arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": request.attempts,
            },
            "requestPayload": request.event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        }
        if result.ok:
            record["responsePayload"] = result.payload
        else:
            record["responseContext"]["functionError"] = "Unhandled"
            record["responsePayload"] = result.error
        return record

    def _send_record(self, spec: FunctionSpec, target: str, record: Any) -> None:
        """Deliver to an SQS, SNS, Lambda or EventBridge destination with the function's role
        (Lambda uses the execution role for destinations)."""
        body = json.dumps(record, default=str)
        service = target.split(":")[2]
        if service == "sqs":
            self.role_client("sqs", spec.role_arn, spec.name).send_message(
                QueueUrl=queue_url(self.endpoint, target), MessageBody=body
            )
        elif service == "sns":
            self.role_client("sns", spec.role_arn, spec.name).publish(TopicArn=target, Message=body)
        elif service == "lambda":
            self.invoke_async(target, record)
        elif service == "events":
            self.role_client("events", spec.role_arn, spec.name).put_events(
                Entries=[
                    {
                        "Source": "lambda",
                        "DetailType": "Lambda Function Invocation Result",
                        "Detail": body,
                        "EventBusName": target,
                    }
                ]
            )

    # --- wiring applied from the templates --------------------------------------------------

    def _invoke_config(self, resource: catalog.Resource) -> None:
        props = resource.properties
        name = str(props.get("FunctionName", "")).split(":")[-1]
        self.invoke_configs[name] = props

    def _subscribe(self, resource: catalog.Resource) -> None:
        """Create an SNS subscription moto's CloudFormation skipped, with its attributes."""
        props = resource.properties
        from moto.sns.models import sns_backends

        topic_arn = str(props["TopicArn"])
        backend = sns_backends[resource.account][topic_arn.split(":")[3]]
        topic = backend.get_topic(topic_arn)
        for existing in list(backend.subscriptions.values()):
            if existing.topic.arn == topic_arn and existing.endpoint == props["Endpoint"]:
                backend.unsubscribe(existing.arn)
        subscription = backend.subscribe(topic.arn, str(props["Endpoint"]), str(props["Protocol"]))
        # The scope first: moto checks a nested (MessageBody) policy against it.
        for name in (
            "FilterPolicyScope",
            "FilterPolicy",
            "RawMessageDelivery",
            "RedrivePolicy",
            "DeliveryPolicy",
        ):
            if name in props:
                value = props[name]
                text = (
                    json.dumps(value)
                    if isinstance(value, dict)
                    else str(value).lower()
                    if isinstance(value, bool)
                    else str(value)
                )
                backend.set_subscription_attributes(subscription.arn, name, text)

    def _bucket_notifications(self, resource: catalog.Resource) -> None:
        """Apply a bucket's NotificationConfiguration, which moto's CloudFormation ignores."""
        config = resource.properties.get("NotificationConfiguration")
        if not config or not resource.physical_id:
            return
        converted: dict[str, Any] = {}
        for kind, target_key, api_key in (
            ("TopicConfigurations", "Topic", "TopicArn"),
            ("QueueConfigurations", "Queue", "QueueArn"),
            ("LambdaConfigurations", "Function", "LambdaFunctionArn"),
        ):
            for item in config.get(kind) or []:
                entry: dict[str, Any] = {api_key: item[target_key], "Events": [item["Event"]]}
                rules = ((item.get("Filter") or {}).get("S3Key") or {}).get("Rules")
                if rules:
                    entry["Filter"] = {"Key": {"FilterRules": rules}}
                converted.setdefault(kind, []).append(entry)
        if (config.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled") in (
            True,
            "true",
        ):
            converted["EventBridgeConfiguration"] = {}
        self.admin_client("s3").put_bucket_notification_configuration(
            Bucket=resource.physical_id, NotificationConfiguration=converted
        )

    # --- control ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            workers = [worker.describe() for worker in self._workers.values()]
        return {
            "workers": workers,
            "in_flight": self.activity.in_flight,
            "quiet_seconds": round(self.activity.quiet_for(), 3),
            "invocations": self.activity.invocations,
            "errors": self.activity.errors,
            "async_queued": self.async_queue.qsize(),
            "time_scale": self.clock.scale,
            "notes": dict(self.pool.notes),
        }

    def run_schedule(self, name: str) -> bool:
        with self._lock:
            matches = [
                w
                for w in self._workers.values()
                if isinstance(w, Schedule)
                and (name == w.name or w.resource.logical_id.startswith(name))
            ]
        for schedule in matches:
            schedule.fire()
        return bool(matches)


@dataclass
class AsyncEvent:
    function: str
    event: Any
    source: str = "lambda"
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    received: float = field(default_factory=time.time)
    attempts: int = 0


# --- workers -------------------------------------------------------------------------------


class Worker:
    """A wiring that runs in threads of its own (a mapping, a pipe, a schedule)."""

    kind = "worker"

    def __init__(self, runtime: Runtime, resource: catalog.Resource) -> None:
        self.runtime = runtime
        self.resource = resource
        self.props = resource.properties
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.counters: dict[str, int] = {}

    def count(self, name: str, value: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + value

    def running(self) -> bool:
        return not (self.stopping.is_set() or self.runtime.clock.stopping.is_set())

    def start(self) -> None:
        for _ in range(self.concurrency()):
            thread = threading.Thread(target=self._loop, daemon=True, name=self.resource.key)
            thread.start()
            self.threads.append(thread)

    def concurrency(self) -> int:
        return 1

    def stop(self) -> None:
        self.stopping.set()

    def _loop(self) -> None:
        while self.running():
            try:
                if not self.poll():
                    self.runtime.clock.pause(0.2)
            except Exception:
                LOG.exception("%s failed", self.resource.key)
                self.runtime.clock.pause(1.0)

    def poll(self) -> bool:
        """One round of work; False when there was none."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "resource": self.resource.key, **self.counters}


def _sqs_record(message: dict[str, Any], source_arn: str) -> dict[str, Any]:
    """A message as Lambda (and Pipes) hand it to the consumer (the testing kit's shape)."""
    return events.sqs_record_from_message(message, source_arn)


def delete_records(sqs: Any, url: str, records: Sequence[dict[str, Any]]) -> None:
    """Delete consumed records (in SQS's batches of ten), as a mapping or pipe does."""
    for start in range(0, len(records), 10):
        chunk = records[start : start + 10]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)
            ],
        )


def _matches(filters: Iterable[Any], document: Any) -> bool:
    """Whether ``document`` passes an event source mapping's FilterCriteria (any pattern)."""
    from moto.events.models import EventPattern

    patterns = [f.get("Pattern") for f in filters if isinstance(f, dict) and f.get("Pattern")]
    if not patterns:
        return True
    return any(EventPattern.load(str(pattern)).matches_event(document) for pattern in patterns)


def batch_failures(payload: Any, identifiers: Sequence[str]) -> list[str] | None:
    """The item identifiers of a partial batch response, or None when the response is invalid
    (Lambda then treats the whole batch as failed): unknown, empty or missing identifiers,
    or a ``batchItemFailures`` that is not a list (the testing kit's reading of the docs)."""
    return events.failed_items({"Records": [{"messageId": i} for i in identifiers]}, payload)


class SqsMapping(Worker):
    """An SQS event source mapping: batch size, batching window, visibility timeout, partial
    batch responses, filters and maximum concurrency as Lambda documents them; redrive after
    ``maxReceiveCount`` is the queue's own (moto's SQS moves the message)."""

    kind = "sqs-mapping"

    def __init__(self, runtime: Runtime, resource: catalog.Resource) -> None:
        super().__init__(runtime, resource)
        self.source_arn = str(self.props["EventSourceArn"])
        self.url = queue_url(runtime.endpoint, self.source_arn)
        self.function = str(self.props["FunctionName"])
        self.batch_size = int(self.props.get("BatchSize") or 10)
        self.window = float(self.props.get("MaximumBatchingWindowInSeconds") or 0)
        self.partial = "ReportBatchItemFailures" in (self.props.get("FunctionResponseTypes") or [])
        self.filters = list(((self.props.get("FilterCriteria") or {}).get("Filters")) or [])

    def concurrency(self) -> int:
        limit = (self.props.get("ScalingConfig") or {}).get("MaximumConcurrency")
        return max(1, min(int(limit) if limit else 2, 2))

    def poll(self) -> bool:
        spec = self.runtime.function_spec(self.function)
        sqs = self.runtime.role_client("sqs", spec.role_arn, spec.name)
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.runtime.clock.scaled(self.window)
        while len(messages) < self.batch_size and self.running():
            answer = sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=0 if messages else 1,
                AttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = answer.get("Messages", [])
            messages += received
            if not received and (not messages or time.monotonic() >= deadline):
                break
            if time.monotonic() >= deadline and messages:
                break
        if not messages:
            return False
        self.runtime.activity.touch()
        spec = self.runtime.function_spec(self.function)  # as of now, not of the long poll
        records = [_sqs_record(m, self.source_arn) for m in messages]
        kept: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for record in records:
            body: Any = record["body"]
            with contextlib.suppress(ValueError):
                body = json.loads(body)
            (kept if _matches(self.filters, {**record, "body": body}) else dropped).append(record)
        if dropped:  # Lambda deletes the messages its filters leave out
            delete_records(sqs, self.url, dropped)
            self.count("filtered_out", len(dropped))
        if not kept:
            return True
        with self.runtime.activity.busy():
            result = self.runtime.pool.invoke(spec, {"Records": kept})
        self.runtime.activity.invocations += 1
        self.count("invocations")
        if not result.ok:
            self.runtime.activity.errors += 1
            self.count("failed_batches")
            return True  # the messages come back after the visibility timeout
        identifiers = [r["messageId"] for r in kept]
        failed = batch_failures(result.payload, identifiers) if self.partial else []
        if failed is None:
            self.count("invalid_responses")
            return True
        self.count("failed_items", len(failed))
        done = [r for r in kept if r["messageId"] not in failed]
        delete_records(sqs, self.url, done)
        self.count("deleted", len(done))
        return True


class SqsPipe(Worker):
    """An EventBridge Pipe from an SQS queue to a state machine, with the pipe's role:
    REQUEST_RESPONSE waits for the execution and deletes the message only when it succeeded;
    FIRE_AND_FORGET deletes once the execution started."""

    kind = "sqs-pipe"

    def __init__(self, runtime: Runtime, resource: catalog.Resource) -> None:
        super().__init__(runtime, resource)
        self.source_arn = str(self.props["Source"])
        self.url = queue_url(runtime.endpoint, self.source_arn)
        self.target = str(self.props["Target"])
        source = (self.props.get("SourceParameters") or {}).get("SqsQueueParameters") or {}
        self.batch_size = int(source.get("BatchSize") or 10)
        target = (self.props.get("TargetParameters") or {}).get(
            "StepFunctionStateMachineParameters"
        ) or {}
        self.synchronous = target.get("InvocationType", "FIRE_AND_FORGET") == "REQUEST_RESPONSE"
        self.role = str(self.props["RoleArn"])

    def poll(self) -> bool:
        if ":states:" not in self.target:
            return False
        sqs = self.runtime.role_client("sqs", self.role, self.resource.logical_id)
        answer = sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=min(10, self.batch_size),
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return False
        records = [_sqs_record(m, self.source_arn) for m in messages]
        states = self.runtime.role_client("stepfunctions", self.role, self.resource.logical_id)
        if self.synchronous:
            # Pipes start an Express machine with StartSyncExecution, which moto does not
            # serve: the role's grant is checked here, the execution started and awaited.
            if not self.runtime.allowed(self.role, "states:StartSyncExecution", self.target):
                self.count("access_denied")
                LOG.error(
                    "%s: the pipe's role may not states:StartSyncExecution %s",
                    self.resource.key,
                    self.target,
                )
                return True
            states = self.runtime.admin_client("stepfunctions")
        with self.runtime.activity.busy():
            execution = states.start_execution(
                stateMachineArn=self.target, input=json.dumps(records), name=uuid.uuid4().hex
            )
            self.count("executions")
            succeeded = True
            if self.synchronous:
                succeeded = self._wait(states, execution["executionArn"])
        if succeeded:
            delete_records(sqs, self.url, records)
        else:
            self.count("failed_executions")
        return True

    def _wait(self, states: Any, arn: str) -> bool:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and self.running():
            status = states.describe_execution(executionArn=arn)["status"]
            if status != "RUNNING":
                return bool(status == "SUCCEEDED")
            time.sleep(0.1)
        return False


class Schedule(Worker):
    """An EventBridge Scheduler schedule: ``rate(...)`` runs on the time scale; ``cron(...)``
    and ``at(...)`` run only when asked (``serverless-patterns-local run-schedule``). The target
    is invoked with the schedule's role, asynchronously for Lambda; an invocation the target
    refuses goes to the schedule's dead-letter queue."""

    kind = "schedule"
    UNITS: ClassVar[dict[str, int]] = {
        "minute": 60,
        "minutes": 60,
        "hour": 3600,
        "hours": 3600,
        "day": 86400,
        "days": 86400,
    }

    def __init__(self, runtime: Runtime, resource: catalog.Resource) -> None:
        super().__init__(runtime, resource)
        self.name = str(self.props.get("Name") or resource.physical_id or resource.logical_id)
        self.expression = str(self.props.get("ScheduleExpression", ""))
        match = re.fullmatch(r"rate\((\d+) (\w+)\)", self.expression)
        self.period = int(match.group(1)) * self.UNITS.get(match.group(2), 60) if match else None
        self.enabled = self.props.get("State", "ENABLED") == "ENABLED"

    def poll(self) -> bool:
        if self.period is None or not self.enabled:
            self.stopping.wait(1.0)
            return True
        if not self.runtime.clock.sleep(self.period) or self.stopping.is_set():
            return True
        self.fire()
        return True

    def fire(self) -> None:
        target = self.props.get("Target") or {}
        arn = str(target.get("Arn", ""))
        payload = target.get("Input") or "{}"
        self.count("runs")
        try:
            if ":lambda:" in arn:
                client = self.runtime.role_client(
                    "lambda", str(target.get("RoleArn")), self.resource.logical_id
                )
                client.invoke(FunctionName=arn, InvocationType="Event", Payload=payload.encode())
            elif ":states:" in arn:
                client = self.runtime.role_client(
                    "stepfunctions", str(target.get("RoleArn")), self.resource.logical_id
                )
                client.start_execution(stateMachineArn=arn, input=payload, name=uuid.uuid4().hex)
            elif ":sqs:" in arn:
                client = self.runtime.role_client(
                    "sqs", str(target.get("RoleArn")), self.resource.logical_id
                )
                client.send_message(
                    QueueUrl=queue_url(self.runtime.endpoint, arn), MessageBody=payload
                )
        except Exception as error:
            self.count("target_errors")
            dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
            if dlq:
                self.runtime.admin_client("sqs").send_message(
                    QueueUrl=queue_url(self.runtime.endpoint, str(dlq)),
                    MessageBody=payload,
                    MessageAttributes={
                        "ERROR_CODE": {"DataType": "String", "StringValue": type(error).__name__},
                        "ERROR_MESSAGE": {"DataType": "String", "StringValue": str(error)[:256]},
                    },
                )


class KinesisMapping(Worker):
    """A Kinesis event source mapping, one poller per shard: batch size, batching window,
    starting position, filters, bisect on error, maximum retry attempts, maximum record age,
    partial batch responses (the checkpoint moves to the first failed record), the on-failure
    destination with Lambda's invocation record, and tumbling windows with state carried
    between invocations and a final invocation per window."""

    kind = "kinesis-mapping"

    def __init__(self, runtime: Runtime, resource: catalog.Resource) -> None:
        super().__init__(runtime, resource)
        p = self.props
        self.stream_arn = str(p["EventSourceArn"])
        self.stream_name = self.stream_arn.split("/", 1)[1]
        self.function = str(p["FunctionName"])
        self.batch_size = int(p.get("BatchSize") or 100)
        self.window = float(p.get("MaximumBatchingWindowInSeconds") or 0)
        self.position = str(p.get("StartingPosition") or "LATEST")
        self.bisect = p.get("BisectBatchOnFunctionError") in (True, "true")
        self.max_retries = int(p.get("MaximumRetryAttempts", -1))
        self.max_age = int(p.get("MaximumRecordAgeInSeconds", -1))
        self.partial = "ReportBatchItemFailures" in (p.get("FunctionResponseTypes") or [])
        self.on_failure = str(
            (((p.get("DestinationConfig") or {}).get("OnFailure")) or {}).get("Destination") or ""
        )
        self.tumbling = float(p.get("TumblingWindowInSeconds") or 0)
        self.filters = list(((p.get("FilterCriteria") or {}).get("Filters")) or [])
        self.shards: dict[str, ShardState] = {}

    def start(self) -> None:
        thread = threading.Thread(target=self._loop, daemon=True, name=self.resource.key)
        thread.start()
        self.threads.append(thread)

    def poll(self) -> bool:
        spec = self.runtime.function_spec(self.function)
        kinesis = self.runtime.role_client("kinesis", spec.role_arn, spec.name)
        if not self.shards:
            shards = kinesis.list_shards(StreamName=self.stream_name)["Shards"]
            for shard in shards:
                kind = "TRIM_HORIZON" if self.position == "TRIM_HORIZON" else "LATEST"
                iterator = kinesis.get_shard_iterator(
                    StreamName=self.stream_name, ShardId=shard["ShardId"], ShardIteratorType=kind
                )["ShardIterator"]
                self.shards[shard["ShardId"]] = ShardState(shard["ShardId"], iterator)
        worked = False
        for shard in self.shards.values():
            worked = self._poll_shard(spec, kinesis, shard) or worked
        return worked

    def _fetch(self, kinesis: Any, shard: ShardState) -> None:
        answer = kinesis.get_records(ShardIterator=shard.iterator, Limit=10000)
        shard.iterator = answer["NextShardIterator"]
        shard.buffer += answer.get("Records", [])

    def _poll_shard(self, spec: FunctionSpec, kinesis: Any, shard: ShardState) -> bool:
        self._fetch(kinesis, shard)
        if shard.buffer and len(shard.buffer) < self.batch_size and self.window:
            if shard.first_seen is None:
                shard.first_seen = time.monotonic()
            if time.monotonic() - shard.first_seen < self.runtime.clock.scaled(self.window):
                return False
        worked = False
        if self.tumbling:
            worked = self._close_windows(spec, shard)
        if not shard.buffer:
            return worked
        shard.first_seen = None
        batch = shard.buffer[: self.batch_size]
        if self.tumbling:  # a batch never spans two windows
            first = self._window_of(batch[0])
            batch = [r for r in batch if self._window_of(r) == first][: self.batch_size]
            batch = batch[
                : next((i for i, r in enumerate(batch) if self._window_of(r) != first), len(batch))
            ]
        del shard.buffer[: len(batch)]
        self.runtime.activity.touch()
        kept = [r for r in batch if self._passes(r)]
        self.count("filtered_out", len(batch) - len(kept))
        if kept:
            self._process(spec, shard, kept)
        return True

    def _passes(self, record: dict[str, Any]) -> bool:
        if not self.filters:
            return True
        data: Any = base64.b64encode(record["Data"]).decode()
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            data = json.loads(record["Data"])
        return _matches(
            self.filters,
            {"kinesis": {"data": data, "partitionKey": record["PartitionKey"]}, "data": data},
        )

    def _window_of(self, record: dict[str, Any]) -> float:
        length = self.runtime.clock.scaled(self.tumbling)
        arrival = float(record["ApproximateArrivalTimestamp"].timestamp())
        return math.floor(arrival / length) * length

    def _event(
        self,
        spec: FunctionSpec,
        shard: ShardState,
        batch: Sequence[dict[str, Any]],
        *,
        final: bool = False,
        window_start: float | None = None,
    ) -> dict[str, Any]:
        """The records of ``batch`` (from GetRecords) as Lambda delivers them, in their
        tumbling window where the mapping has one (the testing kit's shapes)."""
        records = [
            events.kinesis_record(
                r["Data"],
                sequence_number=r["SequenceNumber"],
                partition_key=r["PartitionKey"],
                stream_arn=self.stream_arn,
                shard_id=shard.shard_id,
                arrival=r["ApproximateArrivalTimestamp"].timestamp(),
                role_arn=spec.role_arn,
            )
            for r in batch
        ]
        if not self.tumbling:
            return {"Records": records}
        start = window_start if window_start is not None else self._window_of(batch[0])
        end = start + self.runtime.clock.scaled(self.tumbling)
        return events.in_window(
            records,
            (_iso(start), _iso(end)),
            state=shard.state.get(start, {}),
            final=final,
            shard_id=shard.shard_id,
            stream_arn=self.stream_arn,
        )

    def _invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> InvokeResult:
        with self.runtime.activity.busy():
            result = self.runtime.pool.invoke(spec, event)
        self.runtime.activity.invocations += 1
        self.count("invocations")
        if not result.ok:
            self.runtime.activity.errors += 1
        return result

    def _process(self, spec: FunctionSpec, shard: ShardState, batch: list[dict[str, Any]]) -> None:
        """Run ``batch`` to completion: success, retries exhausted or records too old."""
        pending: list[tuple[list[dict[str, Any]], int]] = [(batch, 0)]
        while pending and self.running():
            records, attempts = pending.pop(0)
            if self.max_age >= 0:
                limit = time.time() - self.runtime.clock.scaled(self.max_age)
                old = [r for r in records if r["ApproximateArrivalTimestamp"].timestamp() < limit]
                if old:
                    self._discard(spec, shard, old, attempts, "RecordAgeExceeded")
                    records = [r for r in records if r not in old]
                    if not records:
                        continue
            result = self._invoke(spec, self._event(spec, shard, records))
            window = self._window_of(records[0]) if self.tumbling else None
            failed_from: int | None = None
            invalid = False
            if result.ok:
                sequence = [r["SequenceNumber"] for r in records]
                failed = batch_failures(result.payload, sequence) if self.partial else []
                if failed is None:  # an invalid partial response fails the whole batch
                    failed_from, invalid = 0, True
                elif failed:
                    failed_from = min(sequence.index(f) for f in failed)
                if window is not None and isinstance(result.payload, dict) and failed_from is None:
                    shard.state[window] = result.payload.get("state") or {}
                if failed_from is None:
                    self.count("records_done", len(records))
                    continue
                self.count("records_done", failed_from)
                if window is not None and isinstance(result.payload, dict):
                    shard.state[window] = result.payload.get("state") or shard.state.get(window, {})
                records = records[failed_from:]
            if self.bisect and len(records) > 1:
                # Split, not retried: a function error halves the batch; a partial batch
                # response splits it at the first failed record, which is then retried alone.
                if failed_from is None or invalid:
                    half = len(records) // 2
                    pending[:0] = [(records[:half], attempts), (records[half:], attempts)]
                else:
                    pending[:0] = [(records[:1], attempts), (records[1:], attempts)]
                self.count("splits")
                continue
            if self.max_retries >= 0 and attempts >= self.max_retries:
                exhausted = "RetryAttemptsExhausted"
                self._discard(spec, shard, records, attempts + 1, exhausted, result)
                continue
            self.count("retries")
            pending.insert(0, (records, attempts + 1))
            self.runtime.clock.sleep(1.0)  # Lambda backs off between retries

    def _discard(
        self,
        spec: FunctionSpec,
        shard: ShardState,
        records: Sequence[dict[str, Any]],
        attempts: int,
        condition: str,
        result: InvokeResult | None = None,
    ) -> None:
        """Skip ``records`` and send Lambda's invocation record to the on-failure destination."""
        self.count("records_discarded", len(records))
        if not self.on_failure:
            return
        record = {
            "requestContext": {
                "requestId": result.request_id if result else str(uuid.uuid4()),
                "functionArn": spec.arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled" if result and not result.ok else None,
            },
            "version": "1.0",
            "timestamp": _iso(time.time()),
            "KinesisBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": records[0]["SequenceNumber"],
                "endSequenceNumber": records[-1]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(
                    records[0]["ApproximateArrivalTimestamp"].timestamp()
                ),
                "approximateArrivalOfLastRecord": _iso(
                    records[-1]["ApproximateArrivalTimestamp"].timestamp()
                ),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        self.runtime._send_record(spec, self.on_failure, record)
        self.count("failure_records")

    def _close_windows(self, spec: FunctionSpec, shard: ShardState) -> bool:
        """The final invocation of every window that has ended."""
        length = self.runtime.clock.scaled(self.tumbling)
        closed = False
        for start in sorted(shard.state):
            if start + length > time.time() or any(
                self._window_of(r) == start for r in shard.buffer
            ):
                continue
            event = self._event(spec, shard, [], final=True, window_start=start)
            self._invoke(spec, event)
            shard.state.pop(start, None)
            self.count("windows_closed")
            closed = True
        return closed


@dataclass
class ShardState:
    shard_id: str
    iterator: str
    buffer: list[dict[str, Any]] = field(default_factory=list)
    first_seen: float | None = None
    state: dict[float, Any] = field(default_factory=dict)
