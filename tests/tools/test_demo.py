"""tools.demo's Local helpers that need no emulator (its control calls stubbed)."""

from __future__ import annotations

from typing import Any

import pytest

from tools import demo


class ScaleRecorder(demo.Local):
    """A Local whose runtime is a time scale and the list of scales it was set to."""

    def __init__(self, scale: float) -> None:
        super().__init__("http://localhost:1")
        self.scale, self.set_to = scale, []

    def control(self, path: str, *, method: str = "GET", body: Any = None) -> Any:
        if path == "status":
            return {"time_scale": self.scale}
        assert (path, method) == ("time-scale", "POST")
        self.scale = body["scale"]
        self.set_to.append(self.scale)
        return {"time_scale": self.scale}


def test_time_scale_at_least_raises_it_for_the_block_then_restores_it() -> None:
    local = ScaleRecorder(60.0)
    with local.time_scale_at_least(300.0) as raised:
        assert raised
        assert local.scale == 300.0
    assert local.set_to == [300.0, 60.0]


def test_time_scale_at_least_restores_the_scale_when_the_block_fails() -> None:
    local = ScaleRecorder(1.0)

    def wait_that_times_out() -> None:
        with local.retries_faster():
            assert local.scale == demo.RETRY_TIME_SCALE
            raise RuntimeError("the wait timed out")

    with pytest.raises(RuntimeError):
        wait_that_times_out()
    assert local.scale == 1.0
    assert local.set_to == [demo.RETRY_TIME_SCALE, 1.0]


def test_time_scale_at_least_leaves_a_higher_scale_alone() -> None:
    local = ScaleRecorder(600.0)
    with local.time_scale_at_least(300.0) as raised:
        assert not raised
    assert local.set_to == []
