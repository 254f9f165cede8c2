"""How long a cold `bangban ask` takes, against what Python needs just to import the stack.

    .venv/bin/python bench/startup.py            # 7 alternating rounds, medians and their ratio
    .venv/bin/python bench/startup.py --rounds 3 --no-cache

Each round starts fresh processes, one after the other, so both see the same machine load
(this machine is shared: compare the ratio, not the seconds):
  imports   python -c "import flask, wechatpy, rasa_sdk, sqlalchemy, redis, apscheduler, jieba"
  ask       bangban ask "代办要收费吗" on the embedded default, the knowledge cache warm
            (the first round builds it and is reported on its own)
Target (issue 12): ask <= 1.5 x imports.
The stack's packages have the bytecode pip wrote; ours has it once scripts/install or `bangban kb
build` ran (where PYTHONDONTWRITEBYTECODE is set Python never writes it): the first line says how
many of our modules have current bytecode, since without it every start compiles them (~0.2 s).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
STACK = "import flask, wechatpy, rasa_sdk, sqlalchemy, redis, apscheduler, jieba"


def timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=env["PWD"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def bytecode_current() -> tuple[int, int]:
    """(modules of ours whose bytecode is at least as new as their source, modules of ours)."""
    import importlib.util

    from webhook.cli.startup import PACKAGES

    sources = [p for name in PACKAGES for p in (ROOT / name).rglob("*.py")]
    fresh = 0
    for src in sources:
        pyc = Path(importlib.util.cache_from_source(src))
        fresh += pyc.is_file() and pyc.stat().st_mtime >= src.stat().st_mtime
    return fresh, len(sources)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-cache", action="store_true", help="BANGBAN_CACHE_DIR=off: build the index every time")
    args = ap.parse_args()
    fresh, total = bytecode_current()
    print(f"our bytecode: {fresh} of {total} modules current" + ("" if fresh == total else
          "  (run scripts/install or `bangban kb build` to write the rest)"))
    with tempfile.TemporaryDirectory() as work:
        env = {**os.environ, "PWD": work, "DATABASE_URL": f"sqlite:///{work}/bench.sqlite3",
               "BANGBAN_CACHE_DIR": "off" if args.no_cache else f"{work}/cache"}
        env.pop("REDIS_URL", None)
        ask = [PY, "-m", "webhook.cli", "ask", "代办要收费吗"]
        env["PYTHONPATH"] = str(ROOT)
        first = timed(ask, env)  # builds the cache (and migrates the scratch database)
        imports, asks = [], []
        for _ in range(args.rounds):
            imports.append(timed([PY, "-c", STACK], env))
            asks.append(timed(ask, env))
    mi, ma = statistics.median(imports), statistics.median(asks)
    print(f"first ask (builds the {'index' if args.no_cache else 'knowledge cache'}, migrates): {first:.2f} s")
    print(f"imports of the stack: median {mi:.2f} s  (min {min(imports):.2f})")
    print(f"cold ask:             median {ma:.2f} s  (min {min(asks):.2f})")
    print(f"ratio ask / imports:  {ma / mi:.2f}x median, {min(asks) / min(imports):.2f}x best  (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
