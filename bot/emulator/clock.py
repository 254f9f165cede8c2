"""The emulator's notion of "now": a base clock plus an offset tests can push forward.

Every WeChat rule here is time-based (7200 s tokens, the 5-minute grace, the 48-hour window,
daily quotas), so tests jump the offset instead of sleeping.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

# WeChat's daily quotas roll over at midnight Beijing time (UTC+8), not UTC.
BEIJING_OFFSET_SECONDS = 8 * 3600


class OffsetClock:
    def __init__(self, base: Callable[[], float] = time.time, start_offset: float = 0.0):
        self._base = base
        self._offset = float(start_offset)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._base() + self._offset

    __call__ = now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0


def as_offset_clock(clock) -> OffsetClock:
    """Accept None, an OffsetClock, or any zero-argument callable returning epoch seconds."""
    if clock is None:
        return OffsetClock()
    if isinstance(clock, OffsetClock):
        return clock
    if callable(clock):
        return OffsetClock(base=clock)
    raise TypeError(f"clock must be callable, got {type(clock).__name__}")


def beijing_day(epoch_seconds: float) -> int:
    """Index of the Beijing calendar day, the bucket WeChat's daily quotas count in."""
    return int((epoch_seconds + BEIJING_OFFSET_SECONDS) // 86400)
