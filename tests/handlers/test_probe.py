"""Tests for the ScheduledProbe handler (``serverless_patterns/_lambda/probe/app.py``).

The real handler checks a real HTTP server on 127.0.0.1 (a ThreadingHTTPServer in a background
thread). Metrics are Powertools EMF documents on stdout, parsed back from the captured output.
Nothing leaves the machine: the only names that do not resolve end in ``.invalid`` (RFC 2606),
and their lookup is answered here instead of by a DNS server.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from tests.handlers.support import (
    NAMESPACE,
    PACKAGE_LAMBDA,
    FakeLambdaContext,
    NoRequestLog,
    answer_invalid_names_offline,
    captured_logs,
    closed_local_port,
    create_service_logger,
    emf_documents,
    load_handler,
    send_body,
    serve_http,
    set_handler_env,
    unset_proxies,
)

SERVICE = "probe-test"
HANDLER_PATH = PACKAGE_LAMBDA / "probe" / "app.py"
MODULE_NAME = "probe_app_under_test"
CONTEXT = FakeLambdaContext("probe")
SLOW_SECONDS = 3.0
DELAYED_SECONDS = 0.3
TOKEN = "s3cret"


class SiteHandler(NoRequestLog, BaseHTTPRequestHandler):
    """The test site: one behaviour per path."""

    def do_GET(self) -> None:
        # The probe may give up on a slow answer and close the connection first.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route()

    def _route(self) -> None:
        if self.path == "/healthy":
            self._send(200, "Welcome to the test site")
        elif self.path == "/error":
            self._send(500, "Internal Server Error")
        elif self.path == "/slow":
            time.sleep(SLOW_SECONDS)
            self._send(200, "Welcome, eventually")
        elif self.path == "/delayed":
            time.sleep(DELAYED_SECONDS)
            self._send(200, "Welcome, a little late")
        elif self.path == "/wrong-body":
            self._send(200, "Maintenance")
        elif self.path == "/redirect":
            self._send(302, "", location="/healthy")
        elif self.path == "/loop":
            self._send(302, "", location="/loop")
        elif self.path == "/to-needs-auth":
            self._send(302, "", location="/needs-auth")
        elif self.path == "/to-other-origin":
            # Same server, other origin (host name instead of address).
            self._send(
                302, "", location=f"http://localhost:{self.server.server_address[1]}/needs-auth"
            )
        elif self.path == "/needs-auth":
            if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                self._send(200, "Welcome, token holder")
            else:
                self._send(401, "Unauthorized")
        elif self.path == "/needs-header":
            if self.headers.get("X-Probe-Token") == TOKEN:
                self._send(200, "Welcome, token holder")
            else:
                self._send(403, "Forbidden")
        else:
            self._send(404, "Not Found")

    def _send(self, status: int, body: str, location: str | None = None) -> None:
        send_body(self, status, body.encode(), "text/plain; charset=utf-8", location)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """Base URL of the test site, served for the whole module."""
    # The /slow handler outlives its client; the server never waits for it.
    with serve_http(SiteHandler, thread_name="probe-test-site") as url:
        yield url


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A local port nothing listens on."""
    return closed_local_port()


@pytest.fixture(scope="module", autouse=True)
def service_logger() -> Logger:
    """The service's Powertools logger, created before any ``capsys`` capture."""
    return create_service_logger(SERVICE)


@pytest.fixture(autouse=True)
def probe_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_handler_env(monkeypatch, SERVICE, credentials=False)
    monkeypatch.delenv("PROBE_MAX_REDIRECTS", raising=False)
    unset_proxies(monkeypatch)


@pytest.fixture(autouse=True)
def offline_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """``*.invalid`` never resolves (RFC 2606): answer so without asking a DNS server.

    ``hang.invalid`` is a lookup that hangs (a lookup ignores the socket timeout) until the
    test ends, when the returned event is set.
    """
    release = threading.Event()
    answer_invalid_names_offline(monkeypatch, hang_until=release)
    yield release
    release.set()


def target(name: str, url: str, **overrides: Any) -> dict[str, Any]:
    """A PROBE_TARGETS entry with every key, as the construct writes it."""
    return {
        "name": name,
        "url": url,
        "method": "GET",
        "expected_status": [200, 299],
        "timeout": 2,
        "contains": None,
        "max_latency": None,
        "headers": {},
        **overrides,
    }


@pytest.fixture
def load_app(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """Load the handler module from its file with ``PROBE_TARGETS`` set to ``targets``."""

    def load(targets: list[dict[str, Any]] | str, max_redirects: int | None = None) -> ModuleType:
        raw = targets if isinstance(targets, str) else json.dumps(targets)
        monkeypatch.setenv("PROBE_TARGETS", raw)
        if max_redirects is not None:
            monkeypatch.setenv("PROBE_MAX_REDIRECTS", str(max_redirects))
        # In sys.modules as an import would put it; gone after the test.
        return load_handler(HANDLER_PATH, MODULE_NAME, monkeypatch=monkeypatch)

    return load


@pytest.fixture
def probe(load_app: Callable[..., ModuleType]) -> Callable[..., dict[str, Any]]:
    """Run the real handler once against ``targets``; return its summary."""

    def run(*targets: dict[str, Any], max_redirects: int | None = None) -> dict[str, Any]:
        app = load_app(list(targets), max_redirects)
        summary: dict[str, Any] = app.handler({}, CONTEXT)
        return summary

    return run


def outcome(summary: dict[str, Any], name: str) -> tuple[bool, int | None, str | None]:
    result = summary["results"][name]
    return result["up"], result["status"], result["reason"]


def emf_by_metric(stdout: str) -> dict[tuple[str, str | None], dict[str, Any]]:
    """EMF documents on stdout by (metric name, Target), without their timestamps."""
    documents: dict[tuple[str, str | None], dict[str, Any]] = {}
    for document in emf_documents(stdout):
        (definition,) = document["_aws"]["CloudWatchMetrics"]
        (metric,) = definition["Metrics"]
        key = (metric["Name"], document.get("Target"))
        assert key not in documents, f"{key} emitted twice"
        documents[key] = document
    return documents


def test_healthy_target_is_up_with_status_200(
    site: str, probe: Callable[..., dict[str, Any]]
) -> None:
    summary = probe(target("healthy", f"{site}/healthy", contains="Welcome"))

    assert outcome(summary, "healthy") == (True, 200, None)
    assert summary["checked"] == 1
    assert summary["down"] == []


def test_server_error_is_down_with_the_status_reason(
    site: str, probe: Callable[..., dict[str, Any]]
) -> None:
    summary = probe(target("error", f"{site}/error"))

    assert outcome(summary, "error") == (False, 500, "status 500 not in 200..299")
    assert summary["down"] == ["error"]


def test_expected_error_status_is_up(site: str, probe: Callable[..., dict[str, Any]]) -> None:
    summary = probe(target("error", f"{site}/error", expected_status=[500, 500]))

    assert outcome(summary, "error") == (True, 500, None)


def test_slow_target_times_out_without_delaying_the_others(
    site: str, probe: Callable[..., dict[str, Any]]
) -> None:
    start = time.perf_counter()
    summary = probe(
        target("slow", f"{site}/slow", timeout=1),
        target("healthy", f"{site}/healthy", contains="Welcome"),
        target("redirect", f"{site}/redirect"),
        target("delayed", f"{site}/delayed"),
    )
    elapsed = time.perf_counter() - start

    assert elapsed < 2.5
    assert outcome(summary, "slow") == (False, None, "timed out after 1 s")
    assert outcome(summary, "healthy") == (True, 200, None)
    assert outcome(summary, "redirect") == (True, 200, None)
    assert outcome(summary, "delayed") == (True, 200, None)
    assert summary["down"] == ["slow"]
    assert 1000 <= summary["results"]["slow"]["latency_ms"] < 2500


def test_check_that_ignores_its_timeout_is_cut_off_at_the_run_deadline(
    site: str, probe: Callable[..., dict[str, Any]]
) -> None:
    start = time.perf_counter()
    summary = probe(
        target("hanging-dns", "http://hang.invalid/", timeout=0.2),
        target("healthy", f"{site}/healthy", timeout=0.5),
    )
    elapsed = time.perf_counter() - start

    # deadline = largest target timeout (0.5 s) + 2 s grace
    assert 2.5 <= elapsed < 3.5
    assert outcome(summary, "hanging-dns") == (
        False,
        None,
        "timed out after 2.5 s (run deadline)",
    )
    assert outcome(summary, "healthy") == (True, 200, None)


def test_wrong_body_is_down_with_the_contains_reason(
    site: str, probe: Callable[..., dict[str, Any]]
) -> None:
    summary = probe(target("wrong-body", f"{site}/wrong-body", contains="Welcome"))

    assert outcome(summary, "wrong-body") == (False, 200, "body does not contain 'Welcome'")


def test_redirect_is_followed_to_the_final_200(
    site: str, probe: Callable[..., dict[str, Any]]
) -> None:
    summary = probe(target("redirect", f"{site}/redirect", contains="Welcome"))

    assert outcome(summary, "redirect") == (True, 200, None)


def test_redirect_loop_is_down_with_too_many_redirects(
    site: str, probe: Callable[..., dict[str, Any]]
) -> None:
    summary = probe(target("loop", f"{site}/loop"))

    assert outcome(summary, "loop") == (False, None, "too many redirects (more than 5)")


def test_redirect_beyond_probe_max_redirects_is_down(
    site: str, probe: Callable[..., dict[str, Any]]
) -> None:
    summary = probe(target("redirect", f"{site}/redirect"), max_redirects=0)

    assert outcome(summary, "redirect") == (False, None, "too many redirects (more than 0)")


def test_connection_refused_is_down(closed_port: int, probe: Callable[..., dict[str, Any]]) -> None:
    summary = probe(target("refused", f"http://127.0.0.1:{closed_port}/"))

    assert outcome(summary, "refused") == (False, None, "connection refused")


def test_unresolvable_host_is_down_with_dns_failure(probe: Callable[..., dict[str, Any]]) -> None:
    summary = probe(target("dns", "https://probe-target.invalid/"))

    assert outcome(summary, "dns") == (False, None, "DNS failure: Name or service not known")


def test_tls_to_a_plain_http_server_is_down_with_tls_error(
    site: str, probe: Callable[..., dict[str, Any]]
) -> None:
    summary = probe(target("tls", site.replace("http://", "https://") + "/healthy"))

    up, status, reason = outcome(summary, "tls")
    assert (up, status) == (False, None)
    assert reason is not None
    assert reason.startswith("TLS error: ")
    assert "_ssl.c" not in reason


def test_answer_slower_than_max_latency_is_down(
    site: str, probe: Callable[..., dict[str, Any]]
) -> None:
    summary = probe(target("delayed", f"{site}/delayed", max_latency=0.1))

    up, status, reason = outcome(summary, "delayed")
    assert (up, status) == (False, 200)
    assert reason is not None
    assert re.fullmatch(r"slow: 0\.\d\d s > 0\.1 s", reason)
    assert summary["results"]["delayed"]["latency_ms"] >= DELAYED_SECONDS * 1000


def test_target_headers_are_sent(site: str, probe: Callable[..., dict[str, Any]]) -> None:
    summary = probe(
        target("with-token", f"{site}/needs-header", headers={"X-Probe-Token": TOKEN}),
        target("without-token", f"{site}/needs-header"),
    )

    assert outcome(summary, "with-token") == (True, 200, None)
    assert outcome(summary, "without-token") == (False, 403, "status 403 not in 200..299")


def test_credentials_follow_a_redirect_only_within_the_origin(
    site: str, probe: Callable[..., dict[str, Any]]
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    summary = probe(
        target("same-origin", f"{site}/to-needs-auth", headers=auth),
        target("other-origin", f"{site}/to-other-origin", headers=auth),
    )

    assert outcome(summary, "same-origin") == (True, 200, None)
    assert outcome(summary, "other-origin") == (False, 401, "status 401 not in 200..299")


def test_summary_is_json_serializable_and_lists_every_target(
    site: str, probe: Callable[..., dict[str, Any]]
) -> None:
    summary = probe(target("healthy", f"{site}/healthy"), target("error", f"{site}/error"))

    assert json.loads(json.dumps(summary)) == summary
    assert summary["checked"] == 2
    assert summary["down"] == ["error"]
    assert set(summary["results"]) == {"healthy", "error"}
    for result in summary["results"].values():
        assert set(result) == {"up", "status", "latency_ms", "reason"}
        assert isinstance(result["latency_ms"], float)


def test_emf_availability_and_latency_per_target_with_service_and_target_dimensions(
    site: str, probe: Callable[..., dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    summary = probe(target("healthy", f"{site}/healthy"), target("error", f"{site}/error"))
    documents = emf_by_metric(capsys.readouterr().out)

    def metric_document(name: str, unit: str, target_name: str, value: float) -> dict[str, Any]:
        return {
            "_aws": {
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [["service", "Target"]],
                        "Metrics": [{"Name": name, "Unit": unit}],
                    }
                ]
            },
            "service": SERVICE,
            "Target": target_name,
            name: [value],
        }

    assert set(documents) == {
        ("Availability", "healthy"),
        ("Latency", "healthy"),
        ("Availability", "error"),
        ("Latency", "error"),
        ("TargetsDown", None),
    }
    assert documents["Availability", "healthy"] == metric_document(
        "Availability", "Count", "healthy", 1.0
    )
    assert documents["Availability", "error"] == metric_document(
        "Availability", "Count", "error", 0.0
    )
    for name in ("healthy", "error"):
        latency_ms = summary["results"][name]["latency_ms"]
        assert latency_ms > 0
        assert documents["Latency", name] == metric_document(
            "Latency", "Milliseconds", name, latency_ms
        )
    assert documents["TargetsDown", None] == {
        "_aws": {
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": "TargetsDown", "Unit": "Count"}],
                }
            ]
        },
        "service": SERVICE,
        "TargetsDown": [1.0],
    }


def test_one_structured_log_line_per_target_warning_when_down(
    site: str, probe: Callable[..., dict[str, Any]]
) -> None:
    with captured_logs(SERVICE) as records:
        summary = probe(target("healthy", f"{site}/healthy"), target("error", f"{site}/error"))

    fields = ("target", "url", "up", "status", "latency_ms", "reason")
    lines = [
        (record.levelname, record.getMessage(), {key: record.__dict__[key] for key in fields})
        for record in records
    ]
    assert lines == [
        (
            "INFO",
            "target up",
            {
                "target": "healthy",
                "url": f"{site}/healthy",
                "up": True,
                "status": 200,
                "latency_ms": summary["results"]["healthy"]["latency_ms"],
                "reason": None,
            },
        ),
        (
            "WARNING",
            "target down",
            {
                "target": "error",
                "url": f"{site}/error",
                "up": False,
                "status": 500,
                "latency_ms": summary["results"]["error"]["latency_ms"],
                "reason": "status 500 not in 200..299",
            },
        ),
    ]


def test_probe_targets_that_are_not_json_fail_the_module_load(
    load_app: Callable[..., ModuleType],
) -> None:
    with pytest.raises(
        ValueError,
        match=r"^PROBE_TARGETS is not valid JSON: Expecting value: line 1 column 1 \(char 0\)$",
    ):
        load_app("not json")


@pytest.mark.parametrize(
    ("targets", "environ", "message"),
    [
        ([], {}, "PROBE_TARGETS must be a non-empty JSON list of targets"),
        (
            [target("a", "http://a.example/"), target("a", "http://b.example/")],
            {},
            "PROBE_TARGETS[1].name 'a' is not unique",
        ),
        (
            [target("a", "ftp://a.example/")],
            {},
            "PROBE_TARGETS[0] (a).url must be an absolute http:// or https:// URL",
        ),
        (
            [target("a", "http://a.example/", expected_status=[299, 200])],
            {},
            "PROBE_TARGETS[0] (a).expected_status must be [low, high]",
        ),
        (
            [target("a", "http://a.example/", method="HEAD", contains="x")],
            {},
            "PROBE_TARGETS[0] (a).contains needs a body",
        ),
        (
            [target("a", "http://a.example/", timeout=True)],
            {},
            "PROBE_TARGETS[0] (a).timeout must be a number of seconds",
        ),
        (
            [{**target("a", "http://a.example/"), "expected": 200}],
            {},
            "PROBE_TARGETS[0] has unknown keys ['expected']",
        ),
        (
            [target("a", "http://a.example/")],
            {"PROBE_MAX_REDIRECTS": "-1"},
            "PROBE_MAX_REDIRECTS must be an integer in 0..20",
        ),
        (
            [target("a", "http://a.example/")],
            {"POWERTOOLS_SERVICE_NAME": ""},
            "POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE must be set",
        ),
    ],
)
def test_invalid_configuration_is_rejected_with_a_clear_message(
    site: str,
    load_app: Callable[..., ModuleType],
    targets: list[dict[str, Any]],
    environ: dict[str, str],
    message: str,
) -> None:
    app = load_app([target("ok", f"{site}/healthy")])
    valid = {
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
        "PROBE_TARGETS": json.dumps(targets),
    }

    with pytest.raises(ValueError, match=re.escape(message)):
        app.load_config({**valid, **environ})
