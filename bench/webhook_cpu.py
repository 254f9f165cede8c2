"""CPU per webhook request, in process: the same signed, encrypted message mix as webhook_load.py
(70 % questions, 20 % form turns, 10 % events) through Flask's test client, against the full app
(real PostgreSQL and Redis) and against the two baselines (bench/echo_app.py, and
bench/state_echo_app.py: the echo plus the conversation state in Redis).

    .venv/bin/python bench/webhook_cpu.py [--requests 3000] [--profile]

CPU time (all threads of this process) rather than wall time, so the figure moves less when the
shared machine is busy; it is the server's cost alone (the load test also pays for its load
generator on the same cores). --profile prints where the full pipeline's time goes.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
import uuid
from concurrent.futures import Future
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from traffic import SimulatedUser, message_xml  # noqa: E402
from webhook_load import AES_KEY, APPID, TOKEN, scratch_database  # noqa: E402

from webhook.simulator import WeChatServer  # noqa: E402


class Inline:
    """Runs the turn on the calling thread, so the profile sees it (the app uses a thread pool)."""

    def submit(self, fn, *args):
        f: Future = Future()
        try:
            f.set_result(fn(*args))
        except BaseException as err:  # noqa: BLE001 - handed to the caller through the future
            f.set_exception(err)
        return f


def mix(n: int, seed: int):
    rng = random.Random(seed)
    wx = WeChatServer(TOKEN, AES_KEY, APPID)
    run = uuid.uuid4().hex[:6]  # fresh users: no conversation left over in Redis from an earlier run
    users = [(f"oCpu{seed}_{run}_{i}", SimulatedUser(i)) for i in range(32)]
    for _ in range(n):
        openid, user = rng.choice(users)
        yield wx.callback(message_xml(openid, *user.next_message(rng), rng))


def cpu_per_request(client, callbacks) -> float:
    t0 = time.process_time()
    n = 0
    for cb in callbacks:
        r = client.post(cb.path, data=cb.body)
        assert r.status_code == 200, r.status_code
        n += 1
    return (time.process_time() - t0) / n * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    args = ap.parse_args()
    with scratch_database(args.database_url, args.redis_url, LOG_LEVEL="WARNING") as env:
        os.environ.update(env)
        import echo_app
        import state_echo_app

        from webhook import create_app

        full = create_app()
        full.extensions["bangban_turns"] = Inline()
        apps = {"echo (wechatpy+Flask)": echo_app.app.test_client(),
                "echo + conversation state": state_echo_app.app.test_client(),
                "帮办通 full pipeline": full.test_client()}
        warm_up = list(mix(300, 0))
        for client in apps.values():
            cpu_per_request(client, warm_up)
        # Messages are made (signed, encrypted) before the clock starts: the figure is the server's.
        ms = {name: cpu_per_request(client, list(mix(args.requests, 1 + i))) for i, (name, client) in enumerate(apps.items())}
        echo_ms, state_ms, full_ms = ms.values()
        print(f"{args.requests} requests each, in process (Flask test client), CPU per request:")
        for name, value in ms.items():
            print(f"  {name:<26} {value:6.3f} ms")
        print(f"  ratio echo/full: x{echo_ms / full_ms:.2f}, echo + state/full: x{state_ms / full_ms:.2f}  (server CPU "
              f"alone; in webhook_load.py the load generator's own share of the two cores narrows the gaps)")
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            cpu_per_request(apps["帮办通 full pipeline"], list(mix(args.requests, 3)))
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        full.extensions["bangban_dialogs"].query_log.close()  # its last rows, before the schema goes
    return 0


if __name__ == "__main__":
    sys.exit(main())
