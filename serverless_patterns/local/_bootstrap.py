"""The Lambda runtime loop of one local function instance (run as a script, stdlib only).

Started by :mod:`serverless_patterns.local.sandbox` with the function's environment and its
folders laid out as Lambda lays them out. It imports the handler once (the init phase), then
answers invocations, one JSON line each on stdin, with one result line on stdout after what
the handler printed: ``RESULT_MARK`` followed by JSON ``{"ok": true, "payload": ...}`` or
``{"ok": false, "error": {"errorMessage", "errorType", "stackTrace"}}``, as Lambda's Python
runtime reports an unhandled error.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

RESULT_MARK = "\x1esp-local-result "


class LambdaContext:
    """The documented members of the Python runtime's context object."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = request["invoked_function_arn"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request["request_id"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = request.get("client_context")
        self.tenant_id = None
        self._deadline = float(request["deadline"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:]),
    }


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    sys.__stdout__.write(RESULT_MARK + json.dumps(result, default=str) + "\n")  # type: ignore[union-attr]
    sys.__stdout__.flush()  # type: ignore[union-attr]


def main() -> None:
    for path in reversed(json.loads(os.environ.pop("SP_LOCAL_SYS_PATH", "[]"))):
        sys.path.insert(0, path)
    os.chdir(os.environ["LAMBDA_TASK_ROOT"])
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    handler: Any = None
    init_error: dict[str, Any] | None = None
    try:
        module = importlib.import_module(module_name.replace("/", "."))
        handler = getattr(module, function_name)
    except Exception as exc:  # Runtime.ImportModuleError / HandlerNotFound, as Lambda says
        init_error = _error(exc)
        init_error["errorType"] = (
            "Runtime.HandlerNotFound"
            if isinstance(exc, AttributeError)
            else "Runtime.ImportModuleError"
        )
        init_error["errorMessage"] = f"Unable to import module '{module_name}': {exc}"
        traceback.print_exc()
    _emit({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        if init_error is not None:
            _emit({"ok": False, "error": init_error})
            continue
        os.environ["_X_AMZN_TRACE_ID"] = request.get("trace_id", "")
        try:
            payload = handler(request["event"], LambdaContext(request))
            json.dumps(payload)  # a result Lambda cannot serialize is an error, as on AWS
        except Exception as exc:
            traceback.print_exc()
            _emit({"ok": False, "error": _error(exc)})
        else:
            _emit({"ok": True, "payload": payload})


if __name__ == "__main__":
    main()
