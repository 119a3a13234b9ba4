"""What every handler leaves to its first invocation: boto3, its clients and the batch utility.

A handler's import is its cold start's fixed cost. boto3 (with its clients' models) and
Powertools' batch utility (which loads the data classes of every event source) are most of it,
so each handler makes its clients and its batch processor on first use, once per container.
The imports run in a fresh interpreter, as Lambda runs them: this process has boto3 loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.handlers.support import (
    LAMBDA_SRC,
    PACKAGE_LAMBDA,
    REPO_ROOT,
    load_handler,
    mocked_aws,
)

#: Modules the import of a handler must not load.
DEFERRED = ("boto3", "aws_lambda_powertools.utilities.batch")
#: What the handlers read at import, valid enough for every one of them.
IMPORT_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_SERVICE_NAME": "cold-start-test",
    "POWERTOOLS_METRICS_NAMESPACE": "ServerlessPatternsTests",
    "TABLE_NAME": "cold-start-table",
    "BUCKET_NAME": "cold-start-bucket",
    "PROBE_TARGETS": json.dumps([{"name": "site", "url": "https://example.com/"}]),
    "COMMAND_ROUTES": json.dumps(
        {"commands": {"ping": {"default": "v1", "versions": {"v1": {"function": "receiver"}}}}}
    ),
    "LEGACY_BASE_URL": "https://legacy.example.com",
    "LEGACY_TIMEOUT": "5",
    "TRANSLATOR_ROUTES": json.dumps({"GET /items/{id}": {"legacy_path": "/item/{id}"}}),
}
HANDLER_FILES = sorted(
    [*LAMBDA_SRC.glob("*/app.py"), *PACKAGE_LAMBDA.glob("*/app.py")],
    key=lambda path: path.parent.name,
)

#: Imports each handler file given (by path, its folder first on sys.path, as Lambda's
#: /var/task) and prints, per handler, which of DEFERRED its import loaded.
IMPORTER = """
import importlib.util, json, sys
deferred, paths = json.loads(sys.argv[1]), sys.argv[2:]
loaded = {}
for index, path in enumerate(paths):
    folder = path.rsplit("/", 1)[0]
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(f"handler_{index}", path)
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # for dataclasses
    spec.loader.exec_module(module)
    sys.path.remove(folder)
    sys.modules.pop("routes", None)  # the translator's sibling, by its top-level name
    loaded[path] = [name for name in deferred if name in sys.modules]
    if loaded[path]:
        break  # what any later handler loads can no longer be told apart
print(json.dumps(loaded))
"""


@pytest.fixture(scope="module")
def loaded_at_import(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    task_root = tmp_path_factory.mktemp("task")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))},
        **IMPORT_ENV,
        # As in Lambda: the X-Ray SDK then keeps its sampling rules local (no X-Ray client).
        "LAMBDA_TASK_ROOT": str(task_root),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    process = subprocess.run(
        [sys.executable, "-c", IMPORTER, json.dumps(DEFERRED), *map(str, HANDLER_FILES)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    result: dict[str, list[str]] = json.loads(process.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("path", HANDLER_FILES, ids=[path.parent.name for path in HANDLER_FILES])
def test_importing_the_handler_loads_neither_boto3_nor_the_batch_utility(
    loaded_at_import: dict[str, list[str]], path: Path
) -> None:
    assert str(path) in loaded_at_import, "an earlier handler loaded a deferred module"
    assert loaded_at_import[str(path)] == []


#: Handler folder -> its client accessors.
ACCESSORS = {
    "account_create_user": ("table",),
    "account_get_user_v1": ("table",),
    "account_get_user_v2": ("table",),
    "account_send_welcome_email": ("table",),
    "clickstream_aggregator": ("table", "processor"),
    "clickstream_archiver": ("s3", "processor"),
    "fanout_audit": ("table",),
    "fanout_metadata": ("s3", "table", "processor"),
    "fanout_thumbnail": ("s3", "table", "processor"),
    "pipeline_persist": ("table",),
    "queue_worker_example": ("table", "processor"),
}


@pytest.mark.parametrize(("folder", "accessors"), ACCESSORS.items(), ids=list(ACCESSORS))
def test_each_client_is_made_once_per_container(folder: str, accessors: tuple[str, ...]) -> None:
    with mocked_aws("cold-start-test", TABLE_NAME="t", BUCKET_NAME="b"):
        app: ModuleType = load_handler(
            LAMBDA_SRC / folder / "app.py", f"{folder}_cold_start", register_while_loading=True
        )
        for name in accessors:
            accessor = getattr(app, name)
            assert accessor() is accessor(), name


#: Imports one handler with active tracing, as Lambda runs it, then makes its first client (or,
#: for a pipeline stage, runs its handler once): which modules X-Ray patched by then.
TRACED = """
import importlib.util, json, sys
path, first = sys.argv[1], sys.argv[2]
sys.path.insert(0, path.rsplit("/", 1)[0])
spec = importlib.util.spec_from_file_location("handler_under_test", path)
app = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app)
from aws_xray_sdk.core import patcher
at_import = sorted(patcher._PATCHED_MODULES)
if first == "handler":
    class Context:
        function_name = "cold-start-test"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cold-start-test"
        aws_request_id = "00000000-0000-0000-0000-000000000000"
    app.handler({"pipelineStage": "s", "item": {"order_id": "o", "items": []}}, Context())
else:
    getattr(app, first)()
print(json.dumps([at_import, sorted(patcher._PATCHED_MODULES)]))
"""


@pytest.mark.parametrize(
    ("handler_file", "first"),
    [
        (LAMBDA_SRC / "queue_worker_example" / "app.py", "table"),
        (LAMBDA_SRC / "fanout_metadata" / "app.py", "s3"),
        (PACKAGE_LAMBDA / "router" / "app.py", "lambda_client"),
        (LAMBDA_SRC / "pipeline_validate" / "app.py", "handler"),
    ],
    ids=["queue_worker_example", "fanout_metadata", "router", "pipeline_stage"],
)
def test_with_active_tracing_botocore_is_patched_before_the_first_aws_call_not_at_import(
    tmp_path: Path, handler_file: Path, first: str
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))},
        **{k: v for k, v in IMPORT_ENV.items() if k != "POWERTOOLS_TRACE_DISABLED"},
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
        # An invocation's trace header; the segments go to a port nothing listens on.
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    process = subprocess.run(
        [sys.executable, "-c", TRACED, str(handler_file), first],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    at_import, before_first_call = json.loads(process.stdout.strip().splitlines()[-1])

    assert "botocore" not in at_import
    assert "botocore" in before_first_call
