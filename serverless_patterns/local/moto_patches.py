"""Where the local runtime takes over from moto (installed once, in the emulator's process).

Each patch replaces one moto behaviour that would otherwise need Docker or get AWS's
semantics wrong; everything else is moto's own:

- ``LambdaFunction.invoke``: functions run in :mod:`.sandbox`, not in Docker; an ``Event``
  invocation is queued for the runtime's asynchronous invoker (retries, destinations).
- event source mapping hooks: moto invokes a function inside ``SendMessage``/``PutRecord``
  (one message per call, no partial batch responses); the hooks are detached and the runtime
  polls instead.
- SNS to Lambda, S3 to Lambda and EventBridge to Lambda or Step Functions: delivered as AWS
  delivers them (asynchronous invocation; SNS records with the real topic, subscription and
  message attributes).
- IAM: enforced for requests signed with credentials the runtime issued (functions, pipes,
  schedules), and only for those: deployment and tooling stay unrestricted.
- SQS visibility timeouts and delays pass on the runtime's time scale.
- Step Functions: state machines execute (moto's ASL interpreter), CloudFormation's included.
- CloudWatch alarms in CloudFormation (moto has the API, not the resource): created as
  ``PutMetricAlarm`` creates them, so a dashboard's alarm widget resolves and
  ``DescribeAlarms`` lists a stack's alarms.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import unquote

from serverless_patterns.local.runtime import LOG, Runtime, queue_url
from serverless_patterns.testing import events

_ACCESS_KEY = re.compile(r"Credential=([A-Z0-9]+)/")
_IAM_ACTIONS = {
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("awslambda", "Invoke"): "InvokeFunction",
    ("lambda", "Invoke"): "InvokeFunction",
    ("awslambda", "InvokeAsync"): "InvokeFunction",
}


def _replace(owner: Any, name: str, value: Any) -> None:
    """Replace ``owner.name`` (a moto method or module global) with ``value``."""
    setattr(owner, name, value)


def install(runtime: Runtime) -> None:
    _functions(runtime)
    _event_source_hooks()
    _sns(runtime)
    _s3(runtime)
    _events(runtime)
    _iam(runtime)
    _sqs_time(runtime)
    _step_functions()
    _cloudwatch_alarms()
    _dispatch()


def _functions(runtime: Runtime) -> None:
    from moto.awslambda.models import LambdaFunction

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
        event = json.loads(body) if body else {}
        kind = (request_headers or {}).get("X-Amz-Invocation-Type") or (request_headers or {}).get(
            "x-amz-invocation-type", "RequestResponse"
        )
        if kind == "DryRun":
            return b""
        if kind == "Event":
            runtime.invoke_async(self.function_arn, event)
            return b""
        result = runtime.invoke(self.function_arn, event)
        tail = "\n".join(result.logs)[-4096:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail.encode()).decode()
        response_headers["x-amz-executed-version"] = "$LATEST"
        if not result.ok:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(result.error).encode()
        return json.dumps(result.payload).encode()

    _replace(LambdaFunction, "invoke", invoke)


def _event_source_hooks() -> None:
    from moto.awslambda.models import LambdaBackend

    original = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        from moto.kinesis.models import kinesis_backends
        from moto.sqs.models import sqs_backends

        mapping = original(self, spec)
        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        for stream in kinesis_backends[self.account_id][self.region_name].streams.values():
            stream.lambda_event_source_mappings.pop(mapping.event_source_arn, None)
        return mapping

    _replace(LambdaBackend, "create_event_source_mapping", create_event_source_mapping)


def _sns(runtime: Runtime) -> None:
    from moto.sns.models import Subscription

    original = Subscription.publish

    def publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: Any = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        if self.protocol != "lambda":
            return original(
                self,
                message,
                message_id,
                subject=subject,
                message_attributes=message_attributes,
                group_id=group_id,
                deduplication_id=deduplication_id,
                message_structure=message_structure,
            )
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        envelope = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": self.topic.arn,
            "Subject": subject,
            "Message": message,
            "Timestamp": now,
            "SignatureVersion": "1",
            "Signature": "LOCAL",
            "SigningCertURL": "",
            "UnsubscribeURL": "",
            "MessageAttributes": {
                name: {"Type": value.get("Type"), "Value": value.get("Value")}
                for name, value in (message_attributes or {}).items()
            },
        }
        record = events.sns_record_from_envelope(envelope, self.arn)
        try:
            runtime.function_spec(self.endpoint)
        except Exception:
            # SNS cannot deliver: the subscription's redrive policy keeps the message.
            redrive = json.loads(self.attributes.get("RedrivePolicy") or "{}")
            target = redrive.get("deadLetterTargetArn")
            if target:
                from moto.sqs.models import sqs_backends

                parts = target.split(":")
                sqs_backends[parts[4]][parts[3]].send_message(parts[5], json.dumps(record["Sns"]))
            return None
        runtime.invoke_async(self.endpoint, {"Records": [record]}, source="sns")
        return None

    _replace(Subscription, "publish", publish)


def _s3(runtime: Runtime) -> None:
    from moto.s3 import notifications

    def invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        runtime.invoke_async(fn_arn, event_body, source="s3")

    _replace(notifications, "_invoke_awslambda", invoke_awslambda)


def _events(runtime: Runtime) -> None:
    from moto.events.models import Rule
    from moto.events.utils import EventTemplateParser

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        ours = [t for t in self.targets if t["Arn"].split(":")[2] in {"lambda", "states"}]
        if ours and self.event_pattern.matches_event(original_event):
            for target in ours:
                if "Input" in target:
                    payload: Any = json.loads(target["Input"])
                elif "InputTransformer" in target:
                    transformer = target["InputTransformer"]
                    payload = EventTemplateParser.parse(
                        input_template=transformer.get("InputTemplate"),
                        input_paths_map=transformer.get("InputPathsMap", {}),
                        event=original_event,
                    )
                else:
                    payload = original_event
                _deliver(runtime, target, payload)
        others = [t for t in self.targets if t not in ours]
        if others:
            saved = self.targets
            self.targets = others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved

    _replace(Rule, "send_to_targets", send_to_targets)


def _deliver(runtime: Runtime, target: dict[str, Any], payload: Any) -> None:
    arn = str(target["Arn"])
    if ":lambda:" in arn:
        runtime.invoke_async(arn, payload, source="events")
        return
    body = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    role = target.get("RoleArn")
    client = (
        runtime.role_client("stepfunctions", role, "events")
        if role
        else runtime.admin_client("stepfunctions")
    )
    try:
        client.start_execution(stateMachineArn=arn, input=body, name=uuid.uuid4().hex)
    except Exception as error:
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dlq:
            runtime.admin_client("sqs").send_message(
                QueueUrl=queue_url(runtime.endpoint, str(dlq)),
                MessageBody=body,
                MessageAttributes={
                    "ERROR_MESSAGE": {"DataType": "String", "StringValue": str(error)[:256]}
                },
            )


def _iam(runtime: Runtime) -> None:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # checked from the first request...

    def authenticate(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        match = _ACCESS_KEY.search(str(self.headers.get("Authorization", "")))
        if match is None or match.group(1) not in runtime.issued_keys:
            return None  # ...but only for the runtime's own credentials
        action = self._get_action()
        renamed = _IAM_ACTIONS.get((getattr(self, "service_name", ""), action))
        if renamed:
            # The IAM action differs from the API operation: AWS authorizes SQS batch calls by
            # the single action (sqs:DeleteMessage for DeleteMessageBatch) and Invoke by
            # lambda:InvokeFunction; moto asks for the operation's own name.
            self._get_action = lambda: renamed
            try:
                return _check(self, iam_request_cls, resource, match.group(1))
            finally:
                del self._get_action
        return _check(self, iam_request_cls, resource, match.group(1))

    def _check(self: Any, iam_request_cls: type, resource: str, access_key: str) -> None:
        try:
            _authorize(self, iam_request_cls, resource, access_key)
        except Exception:
            LOG.warning(
                "IAM: refused %s:%s on %s for %s",
                getattr(self, "service_name", "?").replace("awslambda", "lambda"),
                self._get_action(),
                ", ".join(_resources_of(self) or [resource]),
                _principal(access_key),
            )
            raise

    def _authorize(self: Any, iam_request_cls: type, resource: str, access_key: str) -> None:
        if resource != "*":
            return original(self, iam_request_cls, resource)
        # moto names the resource of a request for SQS, S3, IAM and STS only; for the
        # services these patterns use, it is named here, so resource-scoped grants work.
        resources = _resources_of(self)
        if resources:
            for named in resources:
                original(self, iam_request_cls, named)
            return None
        # A request that names no resource (GetRecords names a shard iterator): allowed when
        # the role allows the action on some resource, as scoped grants intend.
        candidates = _granted_resources(self, access_key)
        for candidate in candidates:
            try:
                original(self, iam_request_cls, candidate)
            except Exception:
                continue
            return None
        return original(self, iam_request_cls, "*")

    _replace(ActionAuthenticatorMixin, "_authenticate_and_authorize_action", authenticate)


def _principal(access_key: str) -> str:
    from moto.sts.models import sts_backends

    for assumed in sts_backends["123456789012"]["aws"].assumed_roles:
        if assumed.access_key_id == access_key:
            return f"{assumed.role_arn} ({assumed.session_name})"
    return access_key


def _param(response: Any, name: str) -> Any:
    try:
        value = response._get_param(name)
    except Exception:
        value = None
    if value is None:
        body = getattr(response, "body", None)
        try:
            document = body if isinstance(body, dict) else json.loads(body or "{}")
            value = document.get(name) if isinstance(document, dict) else None
        except (TypeError, ValueError):
            value = None
    return value


def _resources_of(response: Any) -> list[str]:
    """The ARNs a request acts on, for the services the patterns' functions call."""
    service = getattr(response, "service_name", "") or ""
    region = getattr(response, "region", "us-east-1")
    account = getattr(response, "current_account", "123456789012")
    if service == "kinesis":
        arn = _param(response, "StreamARN")
        name = _param(response, "StreamName")
        if arn:
            return [str(arn)]
        return [f"arn:aws:kinesis:{region}:{account}:stream/{name}"] if name else []
    if service == "dynamodb":
        table = _param(response, "TableName")
        if table:
            return [f"arn:aws:dynamodb:{region}:{account}:table/{table}"]
        items = _param(response, "RequestItems") or {}
        return [f"arn:aws:dynamodb:{region}:{account}:table/{t}" for t in items]
    if service == "sns":
        arn = _param(response, "TopicArn") or _param(response, "TargetArn")
        return [str(arn)] if arn else []
    if service in ("stepfunctions", "states"):
        arn = _param(response, "stateMachineArn") or _param(response, "executionArn")
        return [str(arn)] if arn else []
    if service in ("lambda", "awslambda"):
        found = re.search(r"/functions/([^/]+)", getattr(response, "path", "") or "")
        if found:
            name = unquote(found.group(1))  # a function ARN arrives percent-encoded
            name = name.split(":")[6] if name.startswith("arn:") else name.split(":")[0]
            return [f"arn:aws:lambda:{region}:{account}:function:{name}"]
        return []
    if service == "logs":
        group = _param(response, "logGroupName")
        return [f"arn:aws:logs:{region}:{account}:log-group:{group}:*"] if group else []
    if service == "events":
        bus = _param(response, "EventBusName") or "default"
        return [
            bus
            if str(bus).startswith("arn:")
            else f"arn:aws:events:{region}:{account}:event-bus/{bus}"
        ]
    return []


def _granted_resources(response: Any, access_key: str) -> list[str]:
    from moto.iam.access_control import AssumedRoleAccessKey

    try:
        key = AssumedRoleAccessKey(response.current_account, "aws", access_key, response.headers)
        policies = key.collect_policies()
    except Exception:
        return []
    found: list[str] = []
    for policy in policies:
        document = policy if isinstance(policy, str) else getattr(policy, "document", "{}")
        try:
            statements = json.loads(document).get("Statement", [])
        except (ValueError, AttributeError):
            continue
        for statement in statements if isinstance(statements, list) else [statements]:
            resources = statement.get("Resource", [])
            found += [resources] if isinstance(resources, str) else list(resources)
    return found


def _sqs_time(runtime: Runtime) -> None:
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Message, SQSBackend

    def change_visibility(self: Any, visibility_timeout: int) -> None:
        self.visible_at = unix_time_millis() + runtime.clock.scaled(int(visibility_timeout)) * 1000

    def delay(self: Any, delay_seconds: int) -> None:
        self.delayed_until = unix_time_millis() + runtime.clock.scaled(int(delay_seconds)) * 1000

    _replace(Message, "change_visibility", change_visibility)
    _replace(Message, "delay", delay)

    # moto's SQS reads the clock through datetime objects for every message of a queue on
    # every call, and recomputes all of a queue's attributes (message counts included) for
    # every message it receives: with a few thousand messages queued, a receive took tenths
    # of a second. The same clock, read as a float, and the retention period read directly
    # keep each call proportional to the queue's length, as it is on AWS.
    _replace(Message, "visible", property(lambda self: time.time() * 1000 > self.visible_at))
    _replace(Message, "delayed", property(lambda self: time.time() * 1000 < self.delayed_until))

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        period = float(self.get_queue(queue_name).message_retention_period)
        return bool(period + message.sent_timestamp / 1000 > time.time())

    _replace(SQSBackend, "is_message_valid_based_on_retention_period", retained)


def _dispatch() -> None:
    import moto.backends

    # moto's dispatcher lists its package folder (a stat per service) on every request, under
    # the lock all requests share; the list does not change while the server runs.
    modules = tuple(moto.backends.list_of_moto_modules())
    _replace(moto.backends, "list_of_moto_modules", lambda: modules)


def _step_functions() -> None:
    from moto.core.config import default_user_config
    from moto.stepfunctions import models
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    _replace(
        models, "stepfunctions_backends", stepfunctions_parser_backends
    )  # CloudFormation's too


def _cloudwatch_alarms() -> None:
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cloudwatch import models as cloudwatch
    from moto.core.common_models import CloudFormationModel

    def put(name: str, properties: dict[str, Any], account_id: str, region: str) -> Any:
        queries = [
            cloudwatch.MetricDataQuery(
                query_id=query["Id"],
                label=query.get("Label"),
                period=query.get("Period"),
                return_data=query.get("ReturnData", True),
                expression=query.get("Expression"),
                metric_stat=cloudwatch.MetricStat(
                    metric=cloudwatch.Metric(
                        metric_name=query["MetricStat"]["Metric"].get("MetricName", ""),
                        namespace=query["MetricStat"]["Metric"].get("Namespace", ""),
                        dimensions=[
                            cloudwatch.Dimension(name=d.get("Name"), value=d.get("Value"))
                            for d in query["MetricStat"]["Metric"].get("Dimensions", [])
                        ],
                    ),
                    period=query["MetricStat"].get("Period"),
                    stat=query["MetricStat"].get("Stat"),
                    unit=query["MetricStat"].get("Unit"),
                )
                if "MetricStat" in query
                else None,
            )
            for query in properties.get("Metrics", [])
        ]
        return cloudwatch.cloudwatch_backends[account_id][region].put_metric_alarm(
            name=name,
            namespace=properties.get("Namespace", ""),
            metric_name=properties.get("MetricName", ""),
            comparison_operator=properties["ComparisonOperator"],
            evaluation_periods=int(properties["EvaluationPeriods"]),
            period=int(properties.get("Period", 60)),
            threshold=float(properties.get("Threshold", 0)),
            statistic=properties.get("Statistic", ""),
            description=properties.get("AlarmDescription", ""),
            dimensions=properties.get("Dimensions", []),
            alarm_actions=properties.get("AlarmActions", []),
            metric_data_queries=queries or None,
            datapoints_to_alarm=properties.get("DatapointsToAlarm"),
            extended_statistic=properties.get("ExtendedStatistic"),
            ok_actions=properties.get("OKActions", []),
            treat_missing_data=properties.get("TreatMissingData"),
        )

    class AlarmResource(CloudFormationModel):
        def __init__(self, alarm: Any) -> None:
            self.alarm = alarm

        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudWatch::Alarm"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Arn"

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name == "Arn":
                return self.alarm.alarm_arn
            raise UnformattedGetAttTemplateException()

        @property
        def physical_resource_id(self) -> str:
            return str(self.alarm.name)

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            properties = cloudformation_json["Properties"]
            name = properties.get("AlarmName") or resource_name
            return cls(put(name, properties, account_id, region_name))

        @classmethod
        def update_from_cloudformation_json(
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            properties = cloudformation_json["Properties"]
            name = properties.get("AlarmName") or original_resource.alarm.name
            return cls(put(name, properties, account_id, region_name))

        @classmethod
        def delete_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> None:
            cloudwatch.cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
