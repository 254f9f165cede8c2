"""How a command starts fast: our bytecode compiled ahead, and the collector's part in start-up
(see main in __init__.py: the collector is off until `started`)."""
from __future__ import annotations

import compileall
import gc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "dialogs", "knowledge", "webhook")  # pyproject's packages.find include


def compile_packages(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> bool:
    """Write the bytecode of our packages where Python looks for it (__pycache__), for the modules
    whose source changed since. pip does this for every installed package of the stack, but not for
    an editable install; and where PYTHONDONTWRITEBYTECODE is set (this machine kind, many
    containers), Python never writes it itself, so every start compiled our ~190 modules again:
    about 0.2 s of a cold `bangban ask` (bench/startup.py). True when every module compiled."""
    return all(compileall.compile_dir(root / name, quiet=1, workers=0) for name in packages)


def started() -> None:
    """A long-running command has built what it runs on: what exists now stays (gc.freeze keeps the
    collector off it), and collecting what comes after is on again."""
    gc.freeze()
    gc.enable()
