"""The local runtime's function sandbox, without an emulator: layout, environment, context,
timeouts, crashes and warm reuse, as Lambda's Python runtime behaves."""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from serverless_patterns.local.sandbox import FunctionPool, FunctionSpec


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            # A fixed date: the same files make the same bytes (the code key), whenever zipped.
            member = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            archive.writestr(member, textwrap.dedent(text))
    return buffer.getvalue()


HANDLER = """
import os, sys, time
import helper  # from the layer, under /opt/python
STARTED = time.time()
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    print("printed line")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit"):
        os._exit(event["exit"])
    if event.get("raise"):
        raise ValueError("bad input")
    return {
        "count": COUNT,
        "helper": helper.NAME,
        "env": os.environ["MY_SETTING"],
        "name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "endpoint": os.environ["AWS_ENDPOINT_URL"],
        "key": os.environ["AWS_ACCESS_KEY_ID"],
    }
"""


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[tuple[FunctionPool, list[tuple[str, Sequence[str]]]]]:
    written: list[tuple[str, Sequence[str]]] = []
    pool = FunctionPool(
        tmp_path,
        endpoint="http://localhost:1",
        region="us-east-1",
        credentials=lambda spec: {"AWS_ACCESS_KEY_ID": "ASIAROLE", "AWS_SECRET_ACCESS_KEY": "s"},
        log_sink=lambda group, stream, lines: written.append((group, list(lines))),
    )
    yield pool, written
    pool.close()


def spec(**changes: object) -> FunctionSpec:
    values: dict[str, object] = {
        "name": "fn",
        "arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
        "handler": "app.handler",
        "runtime": "python3.11",
        "timeout": 3.0,
        "memory_size": 256,
        "environment": {"MY_SETTING": "on"},
        "code": _zip({"app.py": HANDLER}),
        "layers": (_zip({"python/helper.py": "NAME = 'from-layer'\n"}),),
        "log_group": "/custom/group",
    }
    values.update(changes)
    return FunctionSpec(**values)  # type: ignore[arg-type]


def test_a_handler_runs_with_its_layer_environment_context_and_role(pool) -> None:  # type: ignore[no-untyped-def]
    functions, written = pool
    result = functions.invoke(spec(), {})
    assert result.ok, result.error
    payload = result.payload
    assert payload["helper"] == "from-layer"
    assert payload["env"] == "on"
    assert (payload["name"], payload["memory"]) == ("fn", 256)
    assert 0 < payload["remaining"] <= 3000
    assert payload["request_id"] == result.request_id
    assert payload["endpoint"] == "http://localhost:1"
    assert payload["key"] == "ASIAROLE"
    group, lines = written[-1]
    assert group == "/custom/group"
    assert lines[0].startswith("START RequestId: ")
    assert "printed line" in lines
    assert lines[-1].startswith("REPORT RequestId: ")


def test_an_instance_is_reused_warm_and_replaced_when_the_code_changes(pool) -> None:  # type: ignore[no-untyped-def]
    functions, _ = pool
    first, second = functions.invoke(spec(), {}), functions.invoke(spec(), {})
    assert (first.payload["count"], second.payload["count"]) == (1, 2)
    assert first.init_ms is not None
    assert second.init_ms is None
    changed = functions.invoke(spec(environment={"MY_SETTING": "off"}), {}).payload
    assert (changed["count"], changed["env"]) == (1, "off")


def test_an_unhandled_error_is_reported_as_lambda_does(pool) -> None:  # type: ignore[no-untyped-def]
    functions, written = pool
    result = functions.invoke(spec(), {"raise": True})
    assert result.error is not None
    assert (result.error["errorType"], result.error["errorMessage"]) == ("ValueError", "bad input")
    assert any("Traceback" in line for line in written[-1][1])


def test_a_handler_that_outlives_its_timeout_is_stopped(pool) -> None:  # type: ignore[no-untyped-def]
    functions, written = pool
    result = functions.invoke(spec(timeout=1.0), {"sleep": 10})
    assert result.error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "Task timed out after 1.00 seconds",
    }
    assert 1000 <= result.duration_ms < 3000
    assert "Task timed out after 1.00 seconds" in written[-1][1]
    assert functions.invoke(spec(timeout=1.0), {}).payload["count"] == 1  # a fresh instance


def test_a_process_that_exits_mid_invocation_is_an_exit_error(pool) -> None:  # type: ignore[no-untyped-def]
    functions, _ = pool
    result = functions.invoke(spec(), {"exit": 3})
    assert result.error is not None
    assert result.error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in result.error["errorMessage"]


def test_an_import_error_fails_every_invocation_as_init_error(pool) -> None:  # type: ignore[no-untyped-def]
    functions, _ = pool
    broken = spec(code=_zip({"app.py": "import no_such_module\n"}))
    result = functions.invoke(broken, {})
    assert result.error is not None
    assert result.error["errorType"] == "Runtime.ImportModuleError"
