"""Injected failures: the next N calls to a path misbehave the way the real API sometimes does.

kinds: "busy"    -> HTTP 200 {"errcode": -1, "errmsg": "system error"} (WeChat's 系统繁忙)
       "http500" -> an HTTP 500 with no JSON body
       "delay"   -> the call sleeps delay_seconds of real time, then is handled normally
       "errcode" -> HTTP 200 with the given errcode (e.g. 40001 to force a token error)
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

FAULT_KINDS = ("busy", "http500", "delay", "errcode")
ANY_PATH = "*"


@dataclass
class Fault:
    path: str
    kind: str
    remaining: int
    delay_seconds: float = 0.0
    errcode: int | None = None


class FaultInjector:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, path: str, kind: str, count: int = 1, delay_seconds: float = 0.0,
            errcode: int | None = None) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if kind == "errcode" and errcode is None:
            raise ValueError("an 'errcode' fault needs the errcode to return")
        if count < 1:
            raise ValueError("count must be at least 1")
        fault = Fault(path=path, kind=kind, remaining=int(count),
                      delay_seconds=float(delay_seconds), errcode=errcode)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """Consume one use of the oldest fault armed for this path (or for every path)."""
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.path in (path, ANY_PATH):
                    fault.remaining -= 1
                    return fault
            self._faults = [f for f in self._faults if f.remaining > 0]
        return None

    def pending(self) -> list[dict]:
        with self._lock:
            return [vars(f).copy() for f in self._faults if f.remaining > 0]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
