"""The end of a command's start-up (see main in __init__.py: the collector is off until then)."""
from __future__ import annotations

import gc


def started() -> None:
    """A long-running command has built what it runs on: what exists now stays (gc.freeze keeps the
    collector off it), and collecting what comes after is on again."""
    gc.freeze()
    gc.enable()
