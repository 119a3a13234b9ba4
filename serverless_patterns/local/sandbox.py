"""Python functions as local processes, laid out and started as Lambda starts them.

A :class:`FunctionPool` keeps warm instances of each function, as Lambda keeps execution
environments: an instance is one process running ``_bootstrap.py`` with the function's code in
``task/`` (``LAMBDA_TASK_ROOT``) and its layers merged, in order, into ``opt/`` (``/opt/python``
and ``/opt/python/lib/pythonX.Y/site-packages`` on the import path), the function's
environment and handler string, and the credentials of its execution role. An invocation that
outlives the function's timeout is stopped and its instance discarded, as Lambda does; an
instance serves one invocation at a time, and a busy function starts another instance up to
its reserved concurrency (or the pool's limit).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

BOOTSTRAP = Path(__file__).with_name("_bootstrap.py")
RESULT_MARK = "\x1esp-local-result "
#: What Lambda's Python runtimes provide beside the function's own code.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
#: Lambda's limit on the init phase of an on-demand function.
INIT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class FunctionSpec:
    """What a local instance needs of a deployed function."""

    name: str
    arn: str
    handler: str
    runtime: str
    timeout: float
    memory_size: int
    environment: Mapping[str, str]
    code: bytes
    layers: Sequence[bytes] = ()
    role_arn: str = ""
    log_group: str = ""
    reserved_concurrency: int | None = None

    @property
    def code_key(self) -> str:
        """Its code and layers: one folder per distinct pair."""
        digest = hashlib.sha256(self.code)
        for layer in self.layers:
            digest.update(hashlib.sha256(layer).digest())
        return digest.hexdigest()[:16]

    @property
    def key(self) -> str:
        """Code and configuration: warm instances of another key are not reused."""
        digest = hashlib.sha256(self.code_key.encode())
        configuration = [
            self.runtime,
            self.handler,
            self.timeout,
            self.memory_size,
            self.role_arn,
            sorted(self.environment.items()),
        ]
        digest.update(json.dumps(configuration).encode())
        return digest.hexdigest()[:16]

    @property
    def log_group_name(self) -> str:
        return self.log_group or f"/aws/lambda/{self.name}"


@dataclass
class InvokeResult:
    """The outcome of one invocation. ``error`` is Lambda's error object when the function
    failed (``errorType`` ``Sandbox.Timedout`` when it ran out of time)."""

    payload: Any = None
    error: dict[str, Any] | None = None
    logs: list[str] = field(default_factory=list)
    request_id: str = ""
    duration_ms: float = 0.0
    init_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class LogSink(Protocol):
    def __call__(self, group: str, stream: str, lines: Sequence[str]) -> None: ...


Credentials = Callable[[FunctionSpec], Mapping[str, str]]


def python_for(runtime: str) -> tuple[str, str]:
    """The interpreter for a ``pythonX.Y`` runtime and a note: that version where it is
    installed (on PATH or under pyenv), else this interpreter, saying so."""
    match = re.fullmatch(r"python(\d+)\.(\d+)", runtime)
    if match is None:
        return sys.executable, f"{runtime} is not a Python runtime; ran with {sys.executable}"
    version = f"{match.group(1)}.{match.group(2)}"
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable, ""
    found = shutil.which(f"python{version}")
    if found is None:
        pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
        candidates = (
            sorted(pyenv.glob(f"{version}.*/bin/python{version}")) if pyenv.is_dir() else []
        )
        found = str(candidates[-1]) if candidates else None
    if found is None:
        return (
            sys.executable,
            f"Python {version} is not installed here; ran with {sys.version.split()[0]}",
        )
    return found, ""


def runtime_packages_dir(root: Path) -> Path:
    """A folder of links to the AWS SDK packages of this environment (Lambda's runtime has
    boto3 and its dependencies; the function's own copies, in task/ or opt/, come first)."""
    target = root / "runtime-packages"
    if target.is_dir():
        return target
    staging = root / f"runtime-packages.{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        locations = list(spec.submodule_search_locations or [])
        source = Path(locations[0]) if locations else Path(str(spec.origin))
        (staging / source.name).symlink_to(source)
    try:
        staging.rename(target)
    except OSError:  # another pool made it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _unzip(data: bytes, target: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            extracted = Path(archive.extract(member, target))
            mode = (member.external_attr >> 16) & 0o777
            if mode and not member.is_dir():
                extracted.chmod(mode)


def lay_out(spec: FunctionSpec, root: Path) -> Path:
    """``root/<key>/task`` and ``root/<key>/opt`` for ``spec`` (made once per code version)."""
    home = root / "functions" / f"{spec.name[:40]}-{spec.code_key}"
    if (home / ".complete").exists():
        return home
    staging = home.with_name(home.name + f".{uuid.uuid4().hex[:8]}")
    (staging / "task").mkdir(parents=True)
    (staging / "opt").mkdir()
    _unzip(spec.code, staging / "task")
    for layer in spec.layers:  # in order: a later layer's file replaces an earlier one's
        _unzip(layer, staging / "opt")
    (staging / ".complete").touch()
    try:
        staging.rename(home)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return home


class Instance:
    """One warm execution environment of a function."""

    def __init__(self, spec: FunctionSpec, home: Path, env: Mapping[str, str], python: str) -> None:
        self.spec = spec
        self.log_stream = time.strftime("%Y/%m/%d", time.gmtime()) + f"/[$LATEST]{uuid.uuid4().hex}"
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            [python, "-u", str(BOOTSTRAP)],
            cwd=home / "task",
            env={**env, "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )  # in the server's process group: stopping the server's group stops its instances
        threading.Thread(target=self._read, daemon=True).start()
        self.invocations = 0

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def collect(self, deadline: float) -> tuple[dict[str, Any] | None, list[str], str]:
        """Lines up to the next result, the result, and why there is none ('timeout', 'exit')."""
        logs: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, logs, "timeout"
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                return None, logs, "timeout"
            if line is None:
                return None, logs, "exit"
            if line.startswith(RESULT_MARK):
                return json.loads(line[len(RESULT_MARK) :]), logs, ""
            logs.append(line)

    def send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(5)


class FunctionPool:
    """Warm instances of every function, created on demand and stopped by :meth:`close`."""

    def __init__(
        self,
        root: Path,
        *,
        endpoint: str,
        region: str,
        credentials: Credentials,
        log_sink: LogSink,
        max_instances: int = 4,
    ) -> None:
        self.root = root
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.log_sink = log_sink
        self.max_instances = max_instances
        self.notes: dict[str, str] = {}
        self._idle: dict[str, list[Instance]] = {}
        self._busy: dict[str, int] = {}
        self._keys: dict[str, str] = {}
        self._condition = threading.Condition()
        self._closed = False

    def _environment(self, spec: FunctionSpec, home: Path, python: str) -> dict[str, str]:
        version = re.fullmatch(r"python(\d+\.\d+)", spec.runtime)
        minor = version.group(1) if version else f"{sys.version_info[0]}.{sys.version_info[1]}"
        sys_path = [
            str(home / "task"),
            str(home / "opt" / "python" / "lib" / f"python{minor}" / "site-packages"),
            str(home / "opt" / "python"),
        ]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "SP_LOCAL_SYS_PATH": json.dumps(sys_path),
            "PYTHONPATH": str(runtime_packages_dir(self.root)),
            "LAMBDA_TASK_ROOT": str(home / "task"),
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group_name,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            # No X-Ray daemon runs locally: Powertools' Tracer is off (docs/local.md: gaps).
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        env.update(spec.environment)
        env.update(self.credentials(spec))
        return env

    def _instance(self, spec: FunctionSpec) -> tuple[Instance | None, float | None]:
        """An idle instance or a new one (and its init time); None when the function is at
        its concurrency limit (the caller waits)."""
        idle = self._idle.setdefault(spec.name, [])
        while idle:
            instance = idle.pop()
            if instance.alive() and instance.spec.key == spec.key:
                return instance, None
            instance.stop()  # exited, or started with older code or configuration
        limit = self.max_instances
        if spec.reserved_concurrency is not None:
            limit = min(limit, spec.reserved_concurrency)
        if self._busy.get(spec.name, 0) >= limit:
            return None, None
        return None, -1.0

    def invoke(self, spec: FunctionSpec, event: Any, *, client_context: Any = None) -> InvokeResult:
        """Run ``event`` through ``spec``'s handler and return what happened."""
        instance: Instance | None = None
        if spec.reserved_concurrency == 0:
            return InvokeResult(
                error={"errorType": "TooManyRequestsException", "errorMessage": "Rate Exceeded."}
            )
        with self._condition:
            if self._keys.get(spec.name) != spec.key:  # new code or configuration
                for stale in self._idle.pop(spec.name, []):
                    stale.stop()
                self._keys[spec.name] = spec.key
            while True:
                if self._closed:
                    return InvokeResult(
                        error={"errorType": "ServiceException", "errorMessage": "stopped"}
                    )
                instance, start = self._instance(spec)
                if instance is not None or start is not None:
                    break
                self._condition.wait(1.0)
            self._busy[spec.name] = self._busy.get(spec.name, 0) + 1
        init_ms: float | None = None
        try:
            if instance is None:
                instance, init_ms, failure = self._start(spec)
                if failure is not None:
                    return failure
            assert instance is not None
            result = self._run(instance, spec, event, client_context)
            result.init_ms = init_ms
            return result
        finally:
            with self._condition:
                self._busy[spec.name] -= 1
                if instance is not None and instance.alive() and not self._closed:
                    self._idle.setdefault(spec.name, []).append(instance)
                elif instance is not None:
                    instance.stop()
                self._condition.notify_all()

    def _start(self, spec: FunctionSpec) -> tuple[Instance | None, float, InvokeResult | None]:
        started = time.monotonic()
        home = lay_out(spec, self.root)
        python, note = python_for(spec.runtime)
        if note:
            self.notes[spec.name] = note
        instance = Instance(spec, home, self._environment(spec, home, python), python)
        init_deadline = started + max(INIT_TIMEOUT_SECONDS, spec.timeout)
        ready, logs, why = instance.collect(init_deadline)
        init_ms = (time.monotonic() - started) * 1000
        if ready is None:
            instance.stop()
            message = "init timed out" if why == "timeout" else "the runtime exited during init"
            self.write_logs(
                instance, [*logs, f"INIT_REPORT Init Duration: {init_ms:.2f} ms Status: error"]
            )
            return (
                None,
                init_ms,
                InvokeResult(
                    error={
                        "errorType": "Runtime.ExitError" if why == "exit" else "Sandbox.Timedout",
                        "errorMessage": message,
                    },
                    logs=logs,
                ),
            )
        if logs:
            self.write_logs(instance, logs)
        return instance, init_ms, None

    def _run(
        self, instance: Instance, spec: FunctionSpec, event: Any, client_context: Any
    ) -> InvokeResult:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        instance.send(
            {
                "event": event,
                "request_id": request_id,
                "invoked_function_arn": spec.arn,
                "deadline": time.time() + spec.timeout,
                "client_context": client_context,
            }
        )
        outcome, logs, why = instance.collect(started + spec.timeout)
        duration_ms = (time.monotonic() - started) * 1000
        instance.invocations += 1
        result = InvokeResult(logs=logs, request_id=request_id, duration_ms=duration_ms)
        if outcome is None:
            instance.stop()
            if why == "timeout":
                message = f"Task timed out after {spec.timeout:.2f} seconds"
                result.error = {"errorType": "Sandbox.Timedout", "errorMessage": message}
            else:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    instance.process.wait(5)  # the pipe closed first: reap it for its status
                code = instance.process.returncode
                message = (
                    f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}"
                )
                result.error = {"errorType": "Runtime.ExitError", "errorMessage": message}
            logs.append(message)
        elif outcome.get("ok"):
            result.payload = outcome.get("payload")
        else:
            result.error = outcome.get("error") or {"errorType": "Unknown", "errorMessage": ""}
        self.write_logs(
            instance,
            [
                f"START RequestId: {request_id} Version: $LATEST",
                *logs,
                f"END RequestId: {request_id}",
                f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
                f"Memory Size: {spec.memory_size} MB",
            ],
        )
        return result

    def write_logs(self, instance: Instance, lines: Sequence[str]) -> None:
        with contextlib.suppress(Exception):  # logs must never fail an invocation
            self.log_sink(instance.spec.log_group_name, instance.log_stream, lines)

    def close(self) -> None:
        """Stop every instance (idle ones now; busy ones as they finish)."""
        with self._condition:
            self._closed = True
            for instances in self._idle.values():
                for instance in instances:
                    instance.stop()
            self._idle.clear()
            self._condition.notify_all()
