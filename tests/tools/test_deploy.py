"""``tools/deploy.py``: the emulator's lifecycle, and clear messages (not stack traces) for the
bad situations ``make deploy`` meets.

Emulator tests start the real ``moto_server`` (about 1-2 s each) and always stop it again;
report tests run moto in-process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tools import deploy

ALARM = {
    "Type": "AWS::CloudWatch::Alarm",  # not implemented by moto's CloudFormation
    "Properties": {
        "MetricName": "Errors",
        "Namespace": "Test",
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 1,
        "Period": 60,
        "Statistic": "Sum",
        "Threshold": 1,
    },
}
QUEUE = {"Type": "AWS::SQS::Queue"}  # created by moto's CloudFormation

ignore_unsupported_alarm = pytest.mark.filterwarnings(
    "ignore:Tried to parse .* not supported by moto:UserWarning"
)


# --- the emulator ----------------------------------------------------------------------------


def test_start_emulator_moves_off_a_taken_port_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("localhost", 0))
        held.listen()
        taken = held.getsockname()[1]
        try:
            emulator = deploy.start_emulator(tmp_path, port=taken)
            assert emulator.port != taken
            assert deploy._responds(emulator.port)
            out = capsys.readouterr().out
            assert f"Port {taken} is already taken" in out
            assert f"port {emulator.port} instead" in out
        finally:
            deploy.stop_emulator(tmp_path)


def test_start_emulator_that_exits_at_once_raises_with_exit_code_and_log_tail(
    tmp_path: Path,
) -> None:
    failing = [sys.executable, "-c", "import sys; print('boom: cannot bind'); sys.exit(3)"]
    with pytest.raises(deploy.DeployError) as raised:
        deploy.start_emulator(tmp_path, command=failing)
    message = str(raised.value)
    assert "exited at start (code 3)" in message
    assert "boom: cannot bind" in message


def test_running_emulator_returns_the_started_emulator(tmp_path: Path) -> None:
    try:
        started = deploy.start_emulator(tmp_path)
        running = deploy.running_emulator(tmp_path)
        assert running is not None
        assert (running.pid, running.port) == (started.pid, started.port)
    finally:
        deploy.stop_emulator(tmp_path)


def test_stop_emulator_ends_the_moto_process_and_forgets_it(tmp_path: Path) -> None:
    try:
        emulator = deploy.start_emulator(tmp_path)
    finally:
        message = deploy.stop_emulator(tmp_path)
    assert message == f"Stopped the local emulator (pid {emulator.pid})."
    with pytest.raises(ProcessLookupError):
        os.kill(emulator.pid, 0)  # gone, and reaped (not left a zombie)
    assert deploy.running_emulator(tmp_path) is None


def test_stop_emulator_without_state_says_none_is_running(tmp_path: Path) -> None:
    assert deploy.stop_emulator(tmp_path) == "No local emulator is recorded as running."


def test_stop_emulator_never_signals_a_pid_that_is_not_a_moto_server(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        state_file = tmp_path / "emulator.json"
        log = tmp_path / "moto.log"
        state_file.write_text(json.dumps({"pid": sleeper.pid, "port": 1, "log": str(log)}))
        (tmp_path / "moto.pid").write_text(f"{sleeper.pid}\n")

        message = deploy.stop_emulator(tmp_path)

        assert sleeper.poll() is None
        assert message == f"The emulator (pid {sleeper.pid}) was not running any more."
        assert not state_file.exists()
        assert not (tmp_path / "moto.pid").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_emulator_env_replaces_the_callers_aws_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-session-token")
    monkeypatch.delenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", raising=False)

    env = deploy.Emulator(pid=1, port=4567, log=tmp_path / "moto.log").env()

    assert "AWS_PROFILE" not in env
    assert "AWS_SESSION_TOKEN" not in env
    assert env["AWS_ENDPOINT_URL"] == "http://localhost:4567"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] == "20"


# --- clear messages for bad situations -------------------------------------------------------


def test_target_aws_without_credentials_fails_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in [key for key in os.environ if key.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    assert deploy.main(["deploy", "--target", "aws"]) == 1

    err = capsys.readouterr().err
    assert "TARGET=aws needs AWS credentials and none are configured" in err
    assert "Traceback" not in err


def test_target_aws_with_unknown_profile_fails_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in [key for key in os.environ if key.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_PROFILE", "nope")

    assert deploy.main(["deploy", "--target", "aws"]) == 1

    err = capsys.readouterr().err
    assert "TARGET=aws: the AWS configuration cannot be read" in err
    assert "nope" in err
    assert "Traceback" not in err


def test_cdk_without_node_says_node_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    which = deploy.shutil.which
    monkeypatch.setattr(
        deploy.shutil,
        "which",
        lambda name, *args, **kwargs: None if name in {"npx", "node"} else which(name),
    )
    with pytest.raises(deploy.DeployError, match=r"Node\.js/npm not found"):
        deploy.cdk(["--version"], env={})


# --- the fidelity report (moto in-process) ---------------------------------------------------


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"]:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", deploy.REGION)
    with mock_aws():
        yield boto3.client("cloudformation", region_name=deploy.REGION)


def _deployed(cloudformation: Any, template: dict[str, Any]) -> deploy.StackTemplate:
    cloudformation.create_stack(StackName="Reported", TemplateBody=json.dumps(template))
    return deploy.StackTemplate("Reported", template)


@ignore_unsupported_alarm
def test_fidelity_report_counts_created_and_skipped_resources(cloudformation: Any) -> None:
    stack = _deployed(cloudformation, {"Resources": {"Queue": QUEUE, "Alarm": ALARM}})

    report = deploy.fidelity_report(cloudformation, stack)

    assert report.status == "CREATE_COMPLETE"
    assert report.created == Counter({"AWS::SQS::Queue": 1})
    assert report.skipped == Counter({"AWS::CloudWatch::Alarm": 1})


@ignore_unsupported_alarm
def test_report_lines_mark_unimplemented_types_skipped(cloudformation: Any) -> None:
    stack = _deployed(cloudformation, {"Resources": {"Queue": QUEUE, "Alarm": ALARM}})

    lines = deploy.fidelity_report(cloudformation, stack).lines()

    assert lines[0] == "Reported: CREATE_COMPLETE, 1 of 2 resources created"
    assert any("SKIPPED" in line and "AWS::CloudWatch::Alarm" in line for line in lines)


def test_report_lines_show_the_outputs_the_emulator_returns(cloudformation: Any) -> None:
    template = {"Resources": {"Queue": QUEUE}, "Outputs": {"Greeting": {"Value": "hello"}}}
    stack = _deployed(cloudformation, template)

    lines = deploy.fidelity_report(cloudformation, stack).lines()

    assert "  output   Greeting = hello" in lines
    assert not any("reported none" in line for line in lines)


@ignore_unsupported_alarm
def test_report_lines_say_when_the_emulator_reports_no_outputs(cloudformation: Any) -> None:
    # moto drops every output when one refers to a resource it did not create.
    template = {
        "Resources": {"Queue": QUEUE, "Alarm": ALARM},
        "Outputs": {"AlarmName": {"Value": {"Ref": "Alarm"}}},
    }
    stack = _deployed(cloudformation, template)

    report = deploy.fidelity_report(cloudformation, stack)

    assert report.outputs == {}
    assert any(
        "the template declares 1; the emulator reported none" in line for line in report.lines()
    )


def test_failure_reasons_of_a_missing_stack_is_empty(cloudformation: Any) -> None:
    assert deploy.failure_reasons(cloudformation, "NoSuchStack") == []


def test_bootstrap_names_the_environment_and_synthesizes_no_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(deploy, "cdk", lambda args, env, quiet=False: calls.append(list(args)))
    deploy.bootstrap_environment("aws://123456789012/eu-west-1", {})
    # An empty --app: the CLI would otherwise synthesize cdk.json's app to find environments.
    assert calls == [["bootstrap", "aws://123456789012/eu-west-1", "--app", ""]]
