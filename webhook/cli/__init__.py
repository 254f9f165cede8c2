"""`bangban`: the one command for people, tests and benchmarks, one module per command group.

It sits at the top of the dependency graph (it wires every layer), which is why it lives beside
the other entry points here rather than in bot/. Each group module registers its own subcommands;
nothing here but the order they are listed in.
"""
from __future__ import annotations

import argparse
import gc
import sys

from . import database, demo, kb, serve, staff, wechat

GROUPS = (serve, database, staff, demo, kb, wechat)  # the order `bangban --help` lists them in


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bangban", description="帮办通: WeChat 帮办/代办 assistant")
    sub = p.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Start-up makes about a million objects that live as long as the process (the modules, the
    # cached index): the cyclic collector walking them again and again was ~10 % of a cold
    # `bangban ask` (bench/startup.py). It is off until a command is built (`started`), and on again
    # when the command returns (a long-running one turns it on itself: startup.started).
    gc.disable()
    try:
        return args.func(args) or 0
    except BrokenPipeError:  # `bangban ask ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    finally:
        gc.enable()


def run() -> None:
    """`bangban` as a process (the console script, `python -m webhook.cli`): main, then exit.
    What the command built is frozen first, so the interpreter's last collection at exit skips it:
    walking those ~1M objects once more was 0.2-0.5 s of every short command (bench/startup.py)."""
    code = main()
    gc.freeze()
    sys.exit(code)

