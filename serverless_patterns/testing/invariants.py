"""The library's serverless invariants, over any synthesized template.

Each check takes a template (a dict) and returns the violations it finds as sentences that
start with the logical id at fault; an empty list means the template holds the invariant.
:func:`check_invariants` runs them all (less the ones opted out, each with its reason) and
names each resource at fault by its construct path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Template = dict[str, Any]
InvariantCheck = Callable[[Template], list[str]]

ASYNC_INVOKERS = {
    "sns.amazonaws.com",
    "s3.amazonaws.com",
    "events.amazonaws.com",
    "scheduler.amazonaws.com",
}
STREAM_SOURCE = re.compile(r"Kinesis|DynamoDB|Stream", re.IGNORECASE)


def resources(template: Template, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] in types:
            yield logical_id, resource.get("Properties", {})


def referenced_id(value: Any) -> str | None:
    """Logical id behind ``Ref`` / ``Fn::GetAtt`` (None for a literal, e.g. an imported ARN);
    ``Fn::GetAtt`` as a list or in its ``"Logical.Attribute"`` string form."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return None


def resource_type(template: Template, logical_id: str | None) -> str | None:
    if logical_id is None:
        return None
    resource = template.get("Resources", {}).get(logical_id)
    return None if resource is None else str(resource["Type"])


def consumed_queues_have_redrive(template: Template) -> list[str]:
    problems = []
    queues = dict(resources(template, "AWS::SQS::Queue"))
    for mapping_id, mapping in resources(template, "AWS::Lambda::EventSourceMapping"):
        source = referenced_id(mapping.get("EventSourceArn"))
        if source in queues and "RedrivePolicy" not in queues[source]:
            problems.append(f"{source} is consumed by {mapping_id} but has no redrive policy")
    return problems


def stream_mappings_have_failure_destination_and_bounded_retries(template: Template) -> list[str]:
    problems = []
    for mapping_id, mapping in resources(template, "AWS::Lambda::EventSourceMapping"):
        source = referenced_id(mapping.get("EventSourceArn"))
        source_type = resource_type(template, source) or str(mapping.get("EventSourceArn"))
        if not STREAM_SOURCE.search(source_type) or "SQS" in source_type:
            continue
        if not mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"):
            problems.append(f"{mapping_id} reads a stream without an on-failure destination")
        retries = mapping.get("MaximumRetryAttempts")
        if retries is None or retries < 0:
            problems.append(f"{mapping_id} retries a failing batch until the records expire")
    return problems


def subscriptions_have_redrive(template: Template) -> list[str]:
    return [
        f"{subscription_id} has no redrive policy (DLQ)"
        for subscription_id, subscription in resources(template, "AWS::SNS::Subscription")
        if not subscription.get("RedrivePolicy", {}).get("deadLetterTargetArn")
    ]


def async_functions_have_failure_destination(template: Template) -> list[str]:
    invoked: set[str] = set()
    for _, permission in resources(template, "AWS::Lambda::Permission"):
        if permission.get("Principal") in ASYNC_INVOKERS:
            function_id = referenced_id(permission.get("FunctionName"))
            if function_id:
                invoked.add(function_id)
    for _, schedule in resources(template, "AWS::Scheduler::Schedule"):
        function_id = referenced_id(schedule.get("Target", {}).get("Arn"))
        if resource_type(template, function_id) == "AWS::Lambda::Function":
            invoked.add(str(function_id))
    covered = {
        referenced_id(config.get("FunctionName"))
        for _, config in resources(template, "AWS::Lambda::EventInvokeConfig")
        if config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    }
    functions = dict(resources(template, "AWS::Lambda::Function"))
    return [
        f"{function_id} is invoked asynchronously without an on-failure destination or DLQ"
        for function_id in sorted(invoked)
        if function_id not in covered
        and not functions.get(function_id, {}).get("DeadLetterConfig", {}).get("TargetArn")
    ]


def data_stores_are_encrypted(template: Template) -> list[str]:
    checks: dict[str, Callable[[dict[str, Any]], bool]] = {
        "AWS::SQS::Queue": lambda p: bool(p.get("SqsManagedSseEnabled") or p.get("KmsMasterKeyId")),
        "AWS::SNS::Topic": lambda p: bool(p.get("KmsMasterKeyId")),
        "AWS::Kinesis::Stream": lambda p: bool(p.get("StreamEncryption")),
        "AWS::DynamoDB::Table": lambda p: p.get("SSESpecification", {}).get("SSEEnabled") is True,
        "AWS::DynamoDB::GlobalTable": lambda p: (
            p.get("SSESpecification", {}).get("SSEEnabled") is True
        ),
    }
    return [
        f"{logical_id} ({kind}) is not encrypted at rest"
        for kind, encrypted in checks.items()
        for logical_id, properties in resources(template, kind)
        if not encrypted(properties)
    ]


def _identity_statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    for policy_id, policy in resources(template, "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for statement in policy.get("PolicyDocument", {}).get("Statement", []):
            yield policy_id, statement
    for role_id, role in resources(template, "AWS::IAM::Role"):
        for inline in role.get("Policies", []):
            for statement in inline.get("PolicyDocument", {}).get("Statement", []):
                yield role_id, statement


def no_statement_grants_every_action(template: Template) -> list[str]:
    problems = []
    for owner, statement in _identity_statements(template):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        for action in [actions] if isinstance(actions, str) else actions:
            if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                problems.append(f"{owner} allows {action}")
    return problems


def dead_letter_queues_are_alarmed(template: Template) -> list[str]:
    targets: set[str] = set()
    for _, queue in resources(template, "AWS::SQS::Queue"):
        targets.add(str(referenced_id(queue.get("RedrivePolicy", {}).get("deadLetterTargetArn"))))
    for _, sub in resources(template, "AWS::SNS::Subscription"):
        targets.add(str(referenced_id(sub.get("RedrivePolicy", {}).get("deadLetterTargetArn"))))
    for _, fn in resources(template, "AWS::Lambda::Function"):
        targets.add(str(referenced_id(fn.get("DeadLetterConfig", {}).get("TargetArn"))))
    for _, config in resources(
        template, "AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig"
    ):
        failure = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        targets.add(str(referenced_id(failure)))
    for _, schedule in resources(template, "AWS::Scheduler::Schedule"):
        dead_letter = schedule.get("Target", {}).get("DeadLetterConfig", {}).get("Arn")
        targets.add(str(referenced_id(dead_letter)))
    for _, rule in resources(template, "AWS::Events::Rule"):
        for target in rule.get("Targets", []):
            targets.add(str(referenced_id(target.get("DeadLetterConfig", {}).get("Arn"))))
    alarmed = {
        referenced_id(dimension.get("Value"))
        for _, alarm in resources(template, "AWS::CloudWatch::Alarm")
        for dimension in alarm.get("Dimensions", [])
        if dimension.get("Name") == "QueueName"
    }
    queues = {logical_id for logical_id, _ in resources(template, "AWS::SQS::Queue")}
    return [
        f"{queue} receives failures but has no alarm"
        for queue in sorted(targets & queues - alarmed)
    ]


def functions_are_traced_with_bounded_logs(template: Template) -> list[str]:
    problems = []
    log_groups = dict(resources(template, "AWS::Logs::LogGroup"))
    for function_id, function in resources(template, "AWS::Lambda::Function"):
        if function.get("TracingConfig", {}).get("Mode") != "Active":
            problems.append(f"{function_id} has no active X-Ray tracing")
        group = referenced_id(function.get("LoggingConfig", {}).get("LogGroup"))
        if group not in log_groups:
            problems.append(f"{function_id} logs into a log group of unbounded retention")
    problems += [
        f"{group_id} keeps logs forever"
        for group_id, group in log_groups.items()
        if not group.get("RetentionInDays")
    ]
    return problems


def state_machines_are_traced_and_log_every_event(template: Template) -> list[str]:
    problems = []
    for machine_id, machine in resources(template, "AWS::StepFunctions::StateMachine"):
        if machine.get("TracingConfiguration", {}).get("Enabled") is not True:
            problems.append(f"{machine_id} has no X-Ray tracing")
        if machine.get("LoggingConfiguration", {}).get("Level") != "ALL":
            problems.append(f"{machine_id} does not log every execution event")
    for pipe_id, pipe in resources(template, "AWS::Pipes::Pipe"):
        if pipe.get("LogConfiguration", {}).get("Level") in (None, "OFF"):
            problems.append(f"{pipe_id} does not log")
    return problems


def alarms_notify_each_action_once(template: Template) -> list[str]:
    """Two constructs adding the same action to one alarm send every notification twice."""
    problems = []
    for alarm_id, alarm in resources(template, "AWS::CloudWatch::Alarm"):
        for key in ("AlarmActions", "OKActions"):
            actions = [repr(action) for action in alarm.get(key, [])]
            if len(actions) != len(set(actions)):
                problems.append(f"{alarm_id} repeats an action in {key}")
    return problems


def _alarm_metrics(alarm: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The metrics an alarm watches: its own, or those of its metric math."""
    if "MetricName" in alarm:
        yield alarm
    for query in alarm.get("Metrics", []):
        if "MetricStat" in query:
            yield query["MetricStat"]["Metric"]


def invoked_functions_have_health_alarms(template: Template) -> list[str]:
    """A function an event source, a subscription or a service invokes is watched: an alarm
    on its errors (a count or an error rate) and one on its throttles."""
    invoked: set[str] = set()
    for _, mapping in resources(template, "AWS::Lambda::EventSourceMapping"):
        invoked.add(referenced_id(mapping.get("FunctionName")) or "")
    for _, permission in resources(template, "AWS::Lambda::Permission"):
        invoked.add(referenced_id(permission.get("FunctionName")) or "")
    for _, subscription in resources(template, "AWS::SNS::Subscription"):
        if subscription.get("Protocol") == "lambda":
            invoked.add(referenced_id(subscription.get("Endpoint")) or "")
    watched: dict[str, set[str]] = {}
    for _, alarm in resources(template, "AWS::CloudWatch::Alarm"):
        for metric in _alarm_metrics(alarm):
            if metric.get("Namespace") != "AWS/Lambda":
                continue
            for dimension in metric.get("Dimensions", []):
                if dimension.get("Name") == "FunctionName":
                    function_id = referenced_id(dimension.get("Value")) or ""
                    watched.setdefault(function_id, set()).add(metric.get("MetricName", ""))
    return [
        f"{function_id} is invoked but no alarm watches its {metric}"
        for function_id in sorted(invoked)
        if resource_type(template, function_id) == "AWS::Lambda::Function"
        for metric in ("Errors", "Throttles")
        if metric not in watched.get(function_id, set())
    ]


INVARIANTS: list[InvariantCheck] = [
    consumed_queues_have_redrive,
    stream_mappings_have_failure_destination_and_bounded_retries,
    subscriptions_have_redrive,
    async_functions_have_failure_destination,
    data_stores_are_encrypted,
    no_statement_grants_every_action,
    dead_letter_queues_are_alarmed,
    functions_are_traced_with_bounded_logs,
    state_machines_are_traced_and_log_every_event,
    alarms_notify_each_action_once,
    invoked_functions_have_health_alarms,
]


#: The former name.
ALL_INVARIANTS = INVARIANTS


@dataclass(frozen=True)
class Violation:
    invariant: str
    logical_id: str
    path: str  # the construct path (aws:cdk:path), or the logical id where the template has none
    message: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.path}: {self.message}"


def check_invariants(
    template: Template, *, skip: Mapping[str, str] | None = None
) -> list[Violation]:
    """Every invariant of :data:`INVARIANTS` over ``template``, except those in ``skip``
    (invariant name -> why it does not apply here; a name that is no invariant is an error)."""
    skip = dict(skip or {})
    names = {check.__name__ for check in INVARIANTS}
    unknown = sorted(set(skip) - names)
    if unknown:
        raise ValueError(
            f"check_invariants: skip names {unknown}, which are no invariants; "
            f"the invariants are {sorted(names)}"
        )
    empty = sorted(name for name, reason in skip.items() if not str(reason).strip())
    if empty:
        raise ValueError(f"check_invariants: skip gives no reason for {empty}")
    resources_ = template.get("Resources", {})
    found = []
    for check in INVARIANTS:
        if check.__name__ in skip:
            continue
        for message in check(template):
            logical_id = message.split(" ", 1)[0]
            metadata = resources_.get(logical_id, {}).get("Metadata", {})
            path = str(metadata.get("aws:cdk:path", logical_id))
            found.append(Violation(check.__name__, logical_id, path, message))
    return found


def assert_invariants(template: Template, *, skip: Mapping[str, str] | None = None) -> None:
    """Fail (AssertionError listing every violation by construct path) unless ``template``
    holds every invariant not in ``skip``."""
    violations = check_invariants(template, skip=skip)
    assert not violations, "serverless invariants violated:\n" + "\n".join(
        f"  {v}" for v in violations
    )
