"""The local runtime's time scale: long waits (visibility timeouts, retry delays, batching
windows, tumbling windows, schedule periods) pass ``scale`` times faster than on AWS. Function
timeouts are never scaled: a handler gets the time it would get on AWS."""

from __future__ import annotations

import threading
import time


class Clock:
    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError(f"time scale must be > 0, got {scale}")
        self.scale = scale
        self.stopping = threading.Event()

    def scaled(self, seconds: float) -> float:
        """How long ``seconds`` of AWS time lasts here."""
        return seconds / self.scale

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` of AWS time; False when the runtime is stopping."""
        return not self.stopping.wait(self.scaled(seconds))

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds`` of real time (polling intervals); False when stopping."""
        return not self.stopping.wait(seconds)

    @staticmethod
    def now() -> float:
        return time.time()
