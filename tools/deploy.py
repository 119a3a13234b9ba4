"""``make deploy``: the real CDK CLI deploys every example stack, locally or to AWS.

Local (the default, ``TARGET=local``): starts moto's server mode in the background on a free
localhost port (pid and log under ``.local/emulator/``), runs ``cdk bootstrap`` and
``cdk deploy --all`` against it, prints a summary and a fidelity report per stack (what the
emulator really created, what it skipped, by type), and leaves the emulator running for
exploration. ``make deploy-stop`` stops it, by its pid only.

AWS (``TARGET=aws``): deploys to the account of the caller's credentials, after checking that
there are some.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = REPO_ROOT / ".local" / "emulator"
CLOUD_ASSEMBLY = REPO_ROOT / "cdk.out"
ACCOUNT = "123456789012"
REGION = "us-east-1"
#: Context of a local deploy: the legacy inventory the LegacyProxyExample fronts is a local
#: service there (``make demo`` serves it on that port while it runs).
LOCAL_LEGACY_URL = os.environ.get("LOCAL_LEGACY_URL", "http://127.0.0.1:18089")
START_TIMEOUT_SECONDS = 30.0
DEPLOY_TIMEOUT_SECONDS = 20 * 60

#: Quiet switches of the tools underneath, each their own documented variable.
QUIET_ENV = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
    "CDK_DISABLE_VERSION_CHECK": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


#: Properties moto's CloudFormation accepts but does not apply, by resource type; printed in the
#: fidelity report next to the created resources of that type.
KNOWN_PROPERTY_GAPS = {
    "AWS::S3::Bucket": "NotificationConfiguration is applied by the local runtime, not by moto",
    "AWS::Kinesis::Stream": (
        "StreamEncryption and StreamModeDetails are not applied (unencrypted, provisioned)"
    ),
    "AWS::Lambda::Function": (
        "code runs in the local runtime with its Layers; Architectures and TracingConfig are "
        "not applied (no X-Ray)"
    ),
}

#: Types moto's CloudFormation skips that the local runtime applies from the template itself
#: (serverless_patterns.local; docs/local.md: the local runtime's fidelity table).
RUN_BY_LOCAL_RUNTIME = {
    "AWS::SNS::Subscription": "created by the local runtime, with its attributes",
    "AWS::Scheduler::Schedule": "run by the local runtime (rate on the time scale; run-schedule)",
    "AWS::Lambda::EventInvokeConfig": "applied by the local runtime's asynchronous invoker",
    "AWS::Pipes::Pipe": "run by the local runtime (SQS to Step Functions)",
    "AWS::ApiGateway::Stage": "served by the local API front on 127.0.0.1",
    "AWS::ApiGateway::Model": "validated by the local API front",
    "AWS::ApiGateway::RequestValidator": "applied by the local API front",
    "AWS::ApiGateway::Authorizer": "applied by the local API front (Cognito user pools)",
    "AWS::ApiGateway::ApiKey": "checked by the local API front",
    "AWS::ApiGateway::UsagePlan": "applied by the local API front (throttle, quota)",
    "AWS::ApiGateway::UsagePlanKey": "applied by the local API front",
}


class DeployError(Exception):
    """A situation the user must fix; the message says how. Printed without a stack trace."""


# --- the emulator ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Emulator:
    """A moto server on localhost (moto's CloudFormation resolves template URLs by that name)."""

    pid: int
    port: int
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://localhost:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment for the CDK CLI and boto3: dummy credentials, the emulator's endpoint."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AWS_") or key.startswith("AWS_SDK_JS_")
        }
        env.update(QUIET_ENV)
        env.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "CDK_DEFAULT_ACCOUNT": ACCOUNT,
                "CDK_DEFAULT_REGION": REGION,
            }
        )
        return env

    def export_lines(self) -> list[str]:
        return [
            f"export AWS_ENDPOINT_URL={self.endpoint}",
            "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
            f"export AWS_REGION={REGION} AWS_DEFAULT_REGION={REGION}",
        ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("localhost", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("localhost", port))
        except OSError:
            return False
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_moto(pid: int) -> bool:
    """Whether ``pid`` is a moto server (so a recycled pid is never signalled)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return any(
        name in cmdline for name in (b"moto_server", b"moto.server", b"serverless_patterns.local")
    )


def _responds(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://localhost:{port}/moto-api/", timeout=2) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log written)"


def running_emulator(state_dir: Path = STATE_DIR) -> Emulator | None:
    """The emulator recorded in ``state_dir``, if it is still running and answering."""
    try:
        state = json.loads((state_dir / "emulator.json").read_text())
        emulator = Emulator(pid=int(state["pid"]), port=int(state["port"]), log=Path(state["log"]))
    except (OSError, ValueError, KeyError):
        return None
    if _alive(emulator.pid) and _is_moto(emulator.pid) and _responds(emulator.port):
        return emulator
    return None


def _moto_server() -> str:
    beside_python = Path(sys.executable).parent / "moto_server"
    found = str(beside_python) if beside_python.exists() else shutil.which("moto_server")
    if found is None:
        raise DeployError(
            "moto_server not found: install the dev dependencies (pip install -e '.[dev]')"
        )
    return found


def _serve_command(port: int, state_dir: Path, time_scale: float | None = None) -> list[str]:
    """The emulator with the local runtime (serverless_patterns.local), on localhost."""
    return [
        sys.executable,
        "-m",
        "serverless_patterns.local",
        "serve",
        "--host",
        "localhost",
        "--port",
        str(port),
        "--state-dir",
        str(state_dir),
        "--time-scale",
        str(time_scale or os.environ.get("TIME_SCALE") or 1),
    ]


def start_emulator(
    state_dir: Path = STATE_DIR,
    port: int | None = None,
    *,
    command: Sequence[str] | None = None,
    time_scale: float | None = None,
) -> Emulator:
    """Start moto_server in the background on ``port`` (or a free one) and wait until it serves.

    ``command`` replaces ``moto_server -H localhost -p PORT`` (tests use it to simulate a
    server that cannot start).
    """
    if port is not None and not port_is_free(port):
        chosen = free_port()
        print(f"Port {port} is already taken; the emulator uses port {chosen} instead.")
        port = chosen
    port = port or free_port()
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "moto.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            list(command) if command else _serve_command(port, state_dir, time_scale),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives `make deploy`; stopped by `make deploy-stop`
            env={**os.environ, **QUIET_ENV},
        )
    emulator = Emulator(pid=process.pid, port=port, log=log)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DeployError(
                f"The emulator exited at start (code {process.returncode}). "
                f"Last lines of {log}:\n{_log_tail(log)}"
            )
        if _responds(port):
            (state_dir / "emulator.json").write_text(
                json.dumps({"pid": emulator.pid, "port": port, "log": str(log)})
            )
            (state_dir / "moto.pid").write_text(f"{emulator.pid}\n")
            return emulator
        time.sleep(0.2)
    _signal(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)
    raise DeployError(
        f"The emulator did not answer on port {port} within {START_TIMEOUT_SECONDS:.0f} s. "
        f"Last lines of {log}:\n{_log_tail(log)}"
    )


def _signal(pid: int, sig: int) -> None:
    """Signal the emulator's whole session when it leads one (as started here), else the pid."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def stop_emulator(state_dir: Path = STATE_DIR) -> str:
    """Stop the recorded emulator by its pid (only if that pid still is a moto server)."""
    state_file = state_dir / "emulator.json"
    try:
        pid = int(json.loads(state_file.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return "No local emulator is recorded as running."
    message = f"The emulator (pid {pid}) was not running any more."
    if _alive(pid) and _is_moto(pid):
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
        message = f"Stopped the local emulator (pid {pid})."
    state_file.unlink(missing_ok=True)
    (state_dir / "moto.pid").unlink(missing_ok=True)
    return message


@contextlib.contextmanager
def emulator_session(
    state_dir: Path, port: int | None = None, *, time_scale: float | None = None
) -> Iterator[Emulator]:
    """An emulator that is stopped on leaving, pass or fail (for tests)."""
    emulator = start_emulator(state_dir, port, time_scale=time_scale)
    try:
        yield emulator
    finally:
        stop_emulator(state_dir)


# --- the CDK CLI -----------------------------------------------------------------------------


def _npx() -> str:
    npx = shutil.which("npx")
    if npx is None or shutil.which("node") is None:
        raise DeployError("Node.js/npm not found: install Node.js 20 or newer (it provides npx)")
    if not (REPO_ROOT / "node_modules" / "aws-cdk").is_dir():
        raise DeployError("The pinned CDK CLI is not installed: run `npm ci` (make does it)")
    return npx


def cdk(args: Sequence[str], env: dict[str, str], *, quiet: bool = False) -> str:
    """Run the pinned CDK CLI from the repository root; raise DeployError when it fails."""
    # cdk.json runs `python app.py`: the interpreter of this environment must come first.
    path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        [_npx(), "--no-install", "cdk", *args],
        cwd=REPO_ROOT,
        env={**env, "PATH": path},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
        text=True,
        timeout=DEPLOY_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        output = f"\n{result.stdout[-4000:]}" if quiet and result.stdout else ""
        raise DeployError(f"`cdk {' '.join(args)}` failed (exit {result.returncode}).{output}")
    return result.stdout or ""


def bootstrap_environment(environment: str, env: dict[str, str], *, quiet: bool = False) -> str:
    """``cdk bootstrap`` of ``environment`` (``aws://account/region``), without the app.

    Where an app is configured (cdk.json's), the CLI synthesizes it on every bootstrap to look
    for more environments, even when the one environment is named: ``--app ''`` turns that
    off. It saves a whole synthesis of the examples (about 20 s of CPU), and nothing is
    written to or locked in ``cdk.out``, which another CLI may be using.
    """
    return cdk(["bootstrap", environment, "--app", ""], env, quiet=quiet)


# --- the cloud assembly and the report -------------------------------------------------------


@dataclass(frozen=True)
class StackTemplate:
    stack_name: str
    template: dict[str, Any]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template.get("Resources", {}))


def synthesized_stacks(assembly: Path = CLOUD_ASSEMBLY) -> list[StackTemplate]:
    manifest = json.loads((assembly / "manifest.json").read_text())
    stacks = []
    for artifact in manifest["artifacts"].values():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        properties = artifact["properties"]
        template = json.loads((assembly / properties["templateFile"]).read_text())
        stacks.append(StackTemplate(properties.get("stackName", artifact["displayName"]), template))
    return stacks


@dataclass
class StackReport:
    stack_name: str
    status: str
    created: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    outputs: dict[str, str] = field(default_factory=dict)
    declared_outputs: int = 0

    def lines(self) -> list[str]:
        total_created = sum(self.created.values())
        total = total_created + sum(self.skipped.values())
        lines = [f"{self.stack_name}: {self.status}, {total_created} of {total} resources created"]
        for kind, count in sorted(self.created.items()):
            gap = KNOWN_PROPERTY_GAPS.get(kind)
            lines.append(f"  created  {count:>3} x {kind}" + (f"  (note: {gap})" if gap else ""))
        lines += [
            f"  SKIPPED  {count:>3} x {kind}  (not implemented by the emulator"
            + (f"; {RUN_BY_LOCAL_RUNTIME[kind]})" if kind in RUN_BY_LOCAL_RUNTIME else ")")
            for kind, count in sorted(self.skipped.items())
        ]
        lines += [f"  output   {key} = {value}" for key, value in sorted(self.outputs.items())]
        if self.declared_outputs and not self.outputs:
            lines.append(
                f"  outputs  the template declares {self.declared_outputs}; the emulator "
                "reported none (read the resources instead)"
            )
        return lines


def fidelity_report(cloudformation: Any, stack: StackTemplate) -> StackReport:
    """What the emulator really created for ``stack`` vs what the template asked for.

    moto lists a resource type it does not implement without a logical id (and creates
    nothing); only resources listed under their own logical id count as created.
    """
    description = cloudformation.describe_stacks(StackName=stack.stack_name)["Stacks"][0]
    listed = {
        summary.get("LogicalResourceId")
        for page in cloudformation.get_paginator("list_stack_resources").paginate(
            StackName=stack.stack_name
        )
        for summary in page["StackResourceSummaries"]
    }
    report = StackReport(stack.stack_name, description["StackStatus"])
    for logical_id, resource in stack.resources.items():
        kind = resource["Type"]
        if kind == "AWS::CDK::Metadata":
            continue
        (report.created if logical_id in listed else report.skipped)[kind] += 1
    report.outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    report.declared_outputs = len(stack.template.get("Outputs", {}))
    return report


def failure_reasons(cloudformation: Any, stack_name: str) -> list[str]:
    """The failing resources of a stack and why, from its events (newest first)."""
    try:
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
    except Exception:  # the stack may not exist at all
        return []
    return [
        f"{event['LogicalResourceId']} ({event['ResourceType']}): "
        f"{event.get('ResourceStatusReason', 'no reason given')}"
        for event in events
        if str(event.get("ResourceStatus", "")).endswith("FAILED")
    ]


def diagnose_failure(cloudformation: Any, stack: StackTemplate) -> list[str]:
    """Why ``stack`` did not deploy into the emulator: the failing resources and the reason.

    moto answers a failed CreateStack/ExecuteChangeSet with a JSON error body that the CDK
    CLI's SDK cannot parse ("XML parse error"), and records no FAILED event. So the template
    is replayed into a throw-away stack with boto3, which shows the raw error, and the
    resources of types moto implements that the failed stack lacks are named. Events of a
    real failure are used too.
    """
    from moto.cloudformation.parsing import get_model_map

    try:
        status = cloudformation.describe_stacks(StackName=stack.stack_name)["Stacks"][0][
            "StackStatus"
        ]
    except Exception:
        status = "not created"
    if status in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}:
        return []
    lines = [f"{stack.stack_name} is {status}"]
    lines += [f"  {reason}" for reason in failure_reasons(cloudformation, stack.stack_name)]
    reason = _replay_error(cloudformation, stack)
    if reason:
        lines.append(f"  the emulator said: {reason}")
    try:
        created = {
            summary.get("LogicalResourceId")
            for summary in cloudformation.list_stack_resources(StackName=stack.stack_name)[
                "StackResourceSummaries"
            ]
        }
    except Exception:
        created = set()
    implemented = get_model_map()
    missing = [
        f"{logical_id} ({resource['Type']})"
        for logical_id, resource in stack.resources.items()
        if resource["Type"] in implemented and logical_id not in created
    ]
    if missing:
        lines.append(f"  not created: {', '.join(missing)}")
    return lines


def _replay_error(cloudformation: Any, stack: StackTemplate) -> str | None:
    """Deploy the template once more under a throw-away name and return the emulator's error."""
    import botocore.exceptions
    import botocore.parsers

    probe = f"{stack.stack_name}-diagnosis-{uuid.uuid4().hex[:8]}"
    try:
        cloudformation.create_stack(
            StackName=probe,
            TemplateBody=json.dumps(stack.template),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
    except botocore.exceptions.ClientError as error:
        return str(error.response.get("Error", {}).get("Message", error))
    except (botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError) as error:
        body = str(error).rsplit("\n", 1)[-1]
        match = re.search(r'"message":\s*"((?:[^"\\]|\\.)*)"', body)
        return match.group(1) if match else body
    finally:
        with contextlib.suppress(Exception):
            cloudformation.delete_stack(StackName=probe)
    return None


def _cloudformation(env: dict[str, str]) -> Any:
    import boto3

    return boto3.client(
        "cloudformation",
        endpoint_url=env.get("AWS_ENDPOINT_URL"),
        region_name=env.get("AWS_REGION", REGION),
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
    )


# --- the two targets -------------------------------------------------------------------------


def deploy_local(
    emulator: Emulator,
    *,
    app: str | None = None,
    assembly: Path = CLOUD_ASSEMBLY,
    bootstrap: bool = True,
    quiet: bool = False,
    stacks: Sequence[str] = (),
    context: Mapping[str, str] | None = None,
) -> list[StackReport]:
    """Bootstrap the emulator, deploy every stack of ``app`` (or ``stacks``), and report what
    really exists.

    ``app`` defaults to cdk.json's (the example stacks); ``assembly`` is the output directory
    (when ``app`` is a cloud assembly folder, that folder: the CLI deploys it as it is);
    ``context`` is passed as ``-c key=value`` (default for the examples: the local legacy URL).
    """
    if app and Path(app).is_dir():
        assembly = Path(app)
    if context is None:
        context = {} if app else {"legacy_inventory_url": LOCAL_LEGACY_URL}
    env = emulator.env()
    if bootstrap:
        bootstrap_environment(f"aws://{ACCOUNT}/{REGION}", env, quiet=quiet)
    # Direct CreateStack/UpdateStack: moto honours DependsOn there, not in change sets.
    deploy = ["deploy", *(stacks or ["--all"]), "--require-approval", "never"]
    deploy += ["--progress", "events"]
    deploy += ["--method", "direct"]
    deploy += ["--output", str(assembly), *(["--app", app] if app else [])]
    deploy += [arg for key, value in context.items() for arg in ("-c", f"{key}={value}")]
    try:
        cdk(deploy, env, quiet=quiet)
    except DeployError as error:
        reasons = []
        if (assembly / "manifest.json").exists():
            cloudformation = _cloudformation(env)
            reasons = [
                line
                for stack in synthesized_stacks(assembly)
                for line in diagnose_failure(cloudformation, stack)
            ]
        detail = "\nWhat failed:\n" + "\n".join(reasons) if reasons else ""
        raise DeployError(f"{error}{detail}") from None
    cloudformation = _cloudformation(env)
    return [
        fidelity_report(cloudformation, stack)
        for stack in synthesized_stacks(assembly)
        if not stacks or stack.stack_name in stacks
    ]


def empty_buckets(session: Any, stack_names: Sequence[str]) -> list[str]:
    """Delete every object version of the buckets of ``stack_names`` (so that CloudFormation can
    delete the buckets); return the buckets emptied. Stacks that do not exist are skipped."""
    s3 = session.client("s3")
    buckets = _stack_resources(session, stack_names, "AWS::S3::Bucket")
    for bucket in buckets:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for kind in ("Versions", "DeleteMarkers")
                for item in page.get(kind, [])
            ]
            if doomed:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
    return buckets


def destroy(
    env: dict[str, str],
    session: Any,
    stack_names: Sequence[str],
    *,
    local: bool = False,
    assembly: Path | None = None,
) -> list[str]:
    """Empty the stacks' buckets, then ``cdk destroy`` them; return the buckets emptied.

    The example stacks delete every resource on destroy (their buckets too, which
    CloudFormation deletes only when empty), so the next deploy starts clean and nothing is
    left that bills; only ApiGatewayAccount keeps its role (the account setting outlives it).
    ``local``: the emulator's CloudFormation leaves a VPC's flow logs and route tables behind
    (it has no delete for them), so the VPC cannot go: they are deleted and the destroy runs
    once more, on the cloud assembly the first one synthesized. ``assembly``: destroy the
    stacks of that cloud assembly (already synthesized) instead of synthesizing cdk.json's app.
    """
    emptied = empty_buckets(session, stack_names)
    vpcs = _stack_resources(session, stack_names, "AWS::EC2::VPC") if local else []
    source = ["--app", str(assembly)] if assembly else ["--output", str(CLOUD_ASSEMBLY)]
    try:
        cdk(["destroy", *stack_names, "--force", *source], env)
    except DeployError:
        if not vpcs:
            raise
        _delete_vpc_leftovers(session, vpcs)
        again = ["--app", str(assembly or CLOUD_ASSEMBLY)]
        cdk(["destroy", *stack_names, "--force", *again], env)
    return emptied


def _stack_resources(session: Any, stack_names: Sequence[str], kind: str) -> list[str]:
    """Physical ids of the stacks' live resources of type ``kind`` (a stack that does not exist
    has none)."""
    paginator = session.client("cloudformation").get_paginator("list_stack_resources")
    found: list[str] = []
    for name in stack_names:
        try:
            found += [
                resource["PhysicalResourceId"]
                for page in paginator.paginate(StackName=name)
                for resource in page["StackResourceSummaries"]
                if resource["ResourceType"] == kind
                and resource.get("PhysicalResourceId")
                and resource.get("ResourceStatus") != "DELETE_COMPLETE"
            ]
        except Exception as error:
            if "does not exist" not in str(error):
                raise
    return found


def _delete_vpc_leftovers(session: Any, vpcs: Sequence[str]) -> None:
    ec2 = session.client("ec2")
    flow_logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": list(vpcs)}])
    if flow_logs["FlowLogs"]:
        ec2.delete_flow_logs(FlowLogIds=[f["FlowLogId"] for f in flow_logs["FlowLogs"]])
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": list(vpcs)}])
    for table in tables["RouteTables"]:
        if not any(a.get("Main") for a in table.get("Associations", [])):
            ec2.delete_route_table(RouteTableId=table["RouteTableId"])


def _example_stack_names() -> list[str]:
    sys.path.insert(0, str(REPO_ROOT))
    from examples import EXAMPLE_STACKS

    return list(reversed(EXAMPLE_STACKS))  # dependents first


def aws_session() -> tuple[Any, dict[str, str]]:
    """A boto3 session with working credentials and a region, and the caller's identity; or
    DeployError saying what is missing."""
    import boto3
    import botocore.exceptions

    try:
        session = boto3.Session()
        credentials = session.get_credentials()
    except botocore.exceptions.BotoCoreError as error:  # e.g. ProfileNotFound, ConfigParseError
        raise DeployError(f"TARGET=aws: the AWS configuration cannot be read: {error}") from None
    if credentials is None:
        raise DeployError(
            "TARGET=aws needs AWS credentials and none are configured: set AWS_PROFILE (or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and AWS_REGION, or run `make deploy` "
            "without TARGET to deploy into the local emulator."
        )
    try:
        identity = session.client("sts").get_caller_identity()
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise DeployError(f"TARGET=aws: the configured credentials do not work: {error}") from None
    if not session.region_name:
        raise DeployError("TARGET=aws needs a region: set AWS_REGION (or the profile's region)")
    return session, identity


def deploy_aws() -> None:
    session, identity = aws_session()
    region = session.region_name
    print(f"Deploying to AWS account {identity['Account']} in {region} as {identity['Arn']}")
    env = {**os.environ, **QUIET_ENV}
    bootstrap_environment(f"aws://{identity['Account']}/{region}", env)
    cdk(["deploy", "--all"], env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["deploy", "destroy", "stop"])
    parser.add_argument(
        "--target", default=os.environ.get("TARGET") or "local", choices=["local", "aws"]
    )
    parser.add_argument("--port", type=int, default=None, help="preferred emulator port")
    args = parser.parse_args(argv)
    try:
        if args.command == "stop":
            print(stop_emulator())
            return 0
        if args.command == "destroy":
            return _destroy(args.target)
        if args.target == "aws":
            deploy_aws()
            return 0
        emulator = running_emulator()
        if emulator is None:
            emulator = start_emulator(port=args.port)
            print(
                f"Started the local AWS emulator (moto, pid {emulator.pid}) at {emulator.endpoint}"
            )
        else:
            print(f"Using the running local AWS emulator at {emulator.endpoint}")
        reports = deploy_local(emulator)
    except DeployError as error:
        print(f"\nmake deploy: {error}", file=sys.stderr)
        return 1
    print("\nFidelity report (what the emulator really created):")
    for report in reports:
        print("\n".join(report.lines()))
    apis = local_apis(emulator)
    if apis:
        print("\nREST APIs, served by the local API front (SigV4-signed calls; see docs/local.md):")
        print("\n".join(f"  {a['stack']}: {a['url']}" for a in apis))
    print(f"\nThe emulator keeps running (log: {emulator.log}). To use it:")
    print("\n".join(f"  {line}" for line in emulator.export_lines()))
    print("Stop it with: make deploy-stop")
    return 0


def local_apis(emulator: Emulator) -> list[dict[str, Any]]:
    """The REST API stages the local API front serves (after a refresh of its view)."""
    request = urllib.request.Request(f"{emulator.endpoint}/_sp_local/refresh", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return list(json.loads(reply.read()).get("apis", []))
    except (OSError, ValueError):
        return []


def _destroy(target: str) -> int:
    import boto3

    session: Any
    if target == "aws":
        session, identity = aws_session()
        env = {**os.environ, **QUIET_ENV}
        print(f"Destroying the examples in AWS account {identity['Account']}")
    else:
        emulator = running_emulator()
        if emulator is None:
            print("No local emulator is running: nothing to destroy.")
            return 0
        env = emulator.env()
        session = _EndpointSession(
            boto3.Session(
                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                region_name=env.get("AWS_REGION", REGION),
            ),
            env["AWS_ENDPOINT_URL"],
        )
    emptied = destroy(env, session, _example_stack_names(), local=target != "aws")
    print(f"Destroyed the example stacks ({len(emptied)} bucket(s) emptied first).")
    return 0


class _EndpointSession:
    """A boto3 session whose clients talk to the local emulator."""

    def __init__(self, session: Any, endpoint: str) -> None:
        self._session = session
        self._endpoint = endpoint

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint)


if __name__ == "__main__":
    sys.exit(main())
