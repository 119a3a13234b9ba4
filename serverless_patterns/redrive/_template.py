"""A deployed stack as the redrive reads it: its template (GetTemplate) with each resource's
construct path (CDK's ``aws:cdk:path`` metadata) and physical id (ListStackResources), and which
of its queues are dead-letter or failure queues, and of what.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from serverless_patterns.redrive._aws import PROG, Aws, UsageError
from serverless_patterns.testing.invariants import referenced_id

QUEUE = "AWS::SQS::Queue"


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    #: The construct path without the trailing ``/Resource`` ("" without CDK metadata).
    path: str
    physical_id: str


@dataclass(frozen=True)
class Role:
    """Why a queue is a dead-letter queue: ``kind`` of failure, and the resource that sends
    its failures there (the source queue, the invoke config, the mapping, ...)."""

    kind: str
    owner: Resource


#: Role kinds.
QUEUE_REDRIVE = "queue"
ASYNC_FAILURE = "lambda-async"
STREAM_FAILURE = "stream"
SUBSCRIPTION = "sns-subscription"
FUNCTION_DLQ = "lambda-dlq"
PIPELINE = "pipeline"
RULE_TARGET = "rule-target"
SCHEDULE = "schedule"
PIPE = "pipe"


@dataclass(frozen=True)
class StackView:
    name: str
    #: The construct path of the stack itself (usually its name).
    prefix: str
    resources: Mapping[str, Resource]
    has_paths: bool

    def ref(self, value: Any) -> Resource | None:
        """The resource a ``Ref`` or ``Fn::GetAtt`` names, if it is in this template."""
        logical_id = referenced_id(value)
        return None if logical_id is None else self.resources.get(logical_id)

    def display(self, resource: Resource) -> str:
        return resource.path or f"{self.name}/{resource.logical_id}"

    def relative(self, resource: Resource) -> str:
        """The construct path inside the stack (what ``--construct`` takes)."""
        path = self.display(resource)
        return path[len(self.prefix) + 1 :] if path.startswith(self.prefix + "/") else path

    def under(self, construct: str) -> list[Resource]:
        """The resources at or below ``construct`` (inside the stack, or with its prefix)."""
        wanted = construct.strip("/")
        wanted = re.sub(r"/(Resource|Default)$", "", wanted)
        for prefix in {self.prefix, self.name}:
            if wanted == prefix:
                return list(self.resources.values())
            if wanted.startswith(prefix + "/"):
                wanted = wanted[len(prefix) + 1 :]
                break
        if not self.has_paths:
            # Without path metadata, CDK's logical ids are the path's ids joined (plus a hash).
            joined = re.sub(r"[^A-Za-z0-9]", "", wanted)
            return [r for r in self.resources.values() if r.logical_id.startswith(joined)]
        return [
            r
            for r in self.resources.values()
            if (rel := self.relative(r)) == wanted
            or rel.startswith(wanted + "/")
            or r.logical_id == wanted
        ]


def _resource_path(metadata: Any) -> str:
    path = str((metadata or {}).get("aws:cdk:path") or "")
    return re.sub(r"/(Resource|Default)$", "", path)


def parse(name: str, template: Mapping[str, Any], physical_ids: Mapping[str, str]) -> StackView:
    resources = {
        logical_id: Resource(
            logical_id=logical_id,
            type=str(body.get("Type", "")),
            properties=body.get("Properties") or {},
            path=_resource_path(body.get("Metadata")),
            physical_id=physical_ids.get(logical_id, ""),
        )
        for logical_id, body in (template.get("Resources") or {}).items()
    }
    has_paths = any(r.path for r in resources.values())
    prefix = name
    metadata = next((r for r in resources.values() if r.type == "AWS::CDK::Metadata"), None)
    if metadata is not None and metadata.path.endswith("/CDKMetadata"):
        prefix = metadata.path[: -len("/CDKMetadata")]
    elif has_paths:
        prefix = next(r.path for r in resources.values() if r.path).split("/", 1)[0]
    return StackView(name=name, prefix=prefix, resources=resources, has_paths=has_paths)


def load(aws: Aws, name: str) -> StackView:
    import botocore.exceptions  # type: ignore[import-untyped]

    cloudformation = aws.client("cloudformation")
    try:
        body = cloudformation.get_template(StackName=name)["TemplateBody"]
        paginator = cloudformation.get_paginator("list_stack_resources")
        physical = {
            summary["LogicalResourceId"]: summary.get("PhysicalResourceId", "")
            for page in paginator.paginate(StackName=name)
            for summary in page["StackResourceSummaries"]
            if summary.get("LogicalResourceId")
        }
    except botocore.exceptions.ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        if "does not exist" in message:
            raise UsageError(f"{PROG}: no stack named {name!r} at {aws.where}") from None
        raise
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            raise UsageError(
                f"{PROG}: the template of {name} is not JSON (a YAML template has no CDK "
                "construct paths): use --dlq-url"
            ) from None
    return parse(name, body, physical)


def _json(value: Any) -> Mapping[str, Any]:
    """A policy property: an object, or (in hand-written templates) a JSON string."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


def dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _definition(stack: StackView, resource: Resource) -> Any:
    """A state machine's definition, with references as ``@@<logical id>@@``."""
    props = resource.properties
    if isinstance(props.get("Definition"), Mapping):
        return props["Definition"]
    source = props.get("DefinitionString")
    if isinstance(source, Mapping) and "Fn::Join" in source:
        separator, parts = source["Fn::Join"]
        text = str(separator).join(
            part if isinstance(part, str) else _placeholder(stack, part) for part in parts
        )
    elif isinstance(source, Mapping) and "Fn::Sub" in source:
        sub = source["Fn::Sub"]
        text = sub if isinstance(sub, str) else str(sub[0])
        text = re.sub(r"\$\{([A-Za-z0-9]+)(\.[A-Za-z]+)?\}", r"@@\1@@", text)
    elif isinstance(source, str):
        text = source
    else:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {}


def _placeholder(stack: StackView, value: Any) -> str:
    target = stack.ref(value)
    return f"@@{target.logical_id}@@" if target is not None else "@@?@@"


def _walk(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        yield value
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def pipeline_dead_letter_queues(stack: StackView, state_machine: Resource) -> list[str]:
    """The queues a state machine sends failed items to: an SQS ``sendMessage`` task whose
    body carries the item and the error (FilterPipeline's "<stage> failed" states; a rejected
    item's body has a reason instead, and is not a failure)."""
    found = []
    for state in _walk(_definition(stack, state_machine)):
        resource = str(state.get("Resource", ""))
        parameters = state.get("Parameters")
        if not resource.endswith(":sqs:sendMessage") or not isinstance(parameters, Mapping):
            continue
        body = parameters.get("MessageBody")
        keys = {str(k).removesuffix(".$") for k in body} if isinstance(body, Mapping) else set()
        match = re.fullmatch(r"@@([A-Za-z0-9]+)@@", str(parameters.get("QueueUrl", "")))
        if match and {"item", "error"} <= keys:
            found.append(match.group(1))
    return found


def dead_letter_roles(stack: StackView) -> dict[str, list[Role]]:
    """Every queue of the stack that keeps failures, and the roles it plays."""
    roles: dict[str, list[Role]] = {}

    def add(target: Any, kind: str, owner: Resource) -> None:
        queue = stack.ref(target)
        if queue is not None and queue.type == QUEUE:
            roles.setdefault(queue.logical_id, []).append(Role(kind, owner))

    for resource in stack.resources.values():
        props = resource.properties
        if resource.type == QUEUE:
            add(
                _json(props.get("RedrivePolicy")).get("deadLetterTargetArn"),
                QUEUE_REDRIVE,
                resource,
            )
        elif resource.type == "AWS::Lambda::EventInvokeConfig":
            add(
                dig(props, "DestinationConfig", "OnFailure", "Destination"), ASYNC_FAILURE, resource
            )
        elif resource.type == "AWS::Lambda::EventSourceMapping":
            add(
                dig(props, "DestinationConfig", "OnFailure", "Destination"),
                STREAM_FAILURE,
                resource,
            )
        elif resource.type == "AWS::SNS::Subscription":
            add(
                _json(props.get("RedrivePolicy")).get("deadLetterTargetArn"), SUBSCRIPTION, resource
            )
        elif resource.type == "AWS::Lambda::Function":
            add(dig(props, "DeadLetterConfig", "TargetArn"), FUNCTION_DLQ, resource)
        elif resource.type == "AWS::StepFunctions::StateMachine":
            for queue in pipeline_dead_letter_queues(stack, resource):
                add({"Ref": queue}, PIPELINE, resource)
        elif resource.type == "AWS::Events::Rule":
            for target in props.get("Targets") or []:
                add(dig(target, "DeadLetterConfig", "Arn"), RULE_TARGET, resource)
        elif resource.type == "AWS::Scheduler::Schedule":
            add(dig(props, "Target", "DeadLetterConfig", "Arn"), SCHEDULE, resource)
        elif resource.type == "AWS::Pipes::Pipe":
            for parameters in (dig(props, "SourceParameters") or {}).values():
                add(dig(parameters, "DeadLetterConfig", "Arn"), PIPE, resource)
    return roles


def find_by_queue_name(aws: Aws, queue_name: str) -> tuple[StackView, Resource] | None:
    """The stack and resource of a queue, found by its CloudFormation tags or by looking
    through the stacks (``--dlq-url`` of a queue that a stack created)."""
    import botocore.exceptions

    cloudformation = aws.client("cloudformation")
    sqs = aws.client("sqs")
    candidates: list[str] = []
    try:
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        tags = sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}
        if "aws:cloudformation:stack-name" in tags:
            candidates.append(str(tags["aws:cloudformation:stack-name"]))
    except botocore.exceptions.ClientError:
        pass
    if not candidates:
        paginator = cloudformation.get_paginator("describe_stacks")
        candidates = [
            stack["StackName"]
            for page in paginator.paginate()
            for stack in page["Stacks"]
            if not str(stack.get("StackStatus", "")).startswith("DELETE_")
        ]
    for name in candidates:
        try:
            view = load(aws, name)
        except (UsageError, botocore.exceptions.ClientError):
            continue
        for resource in view.resources.values():
            if resource.type == QUEUE and resource.physical_id.rsplit("/", 1)[-1] == queue_name:
                return view, resource
    return None
