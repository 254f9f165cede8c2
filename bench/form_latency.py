"""Per-message latency of the dialog pipeline on the embedded default (SQLite file + in-process
state), the way `bangban chat` and the webhook run it: form turns, the final submission,
consultation questions, and a greeting as the floor.

    .venv/bin/python bench/form_latency.py [--users 40]

Target (issue 4): a form turn p99 < 20 ms.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.models import Staff  # noqa: E402
from bot.platform.config import Settings  # noqa: E402
from bot.platform.kv import MemoryKV  # noqa: E402
from dialogs import build_manager  # noqa: E402

FORM = ["我要申请帮办", "5", "武汉光谷示例科技有限公司", "91350100M000100Y43", "光谷示例研发楼", "无",
        "1", "否", "1", "3", "1 3", "陈明", "13800138000"]
QUESTIONS = ["施工许可证要准备哪些材料", "代办收费吗", "东湖哪些项目可以申请代办", "竣工验收备案多久", "社保怎么交"]


def pct(samples, q):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))]


def line(name, samples):
    return (f"{name:<18} n={len(samples):<5} p50 {statistics.median(samples):6.2f} ms  "
            f"p95 {pct(samples, 0.95):6.2f} ms  p99 {pct(samples, 0.99):6.2f} ms")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        m = build_manager(Settings(database_url=f"sqlite:///{tmp}/bench.sqlite3"), kv=MemoryKV())
        with m.sessions.begin() as db:
            db.add(Staff(username="c1", name="周专员", role="commissioner", region="donghu", wechat_openid="oS"))
        m.warm()
        timings = {"greeting": [], "form turn": [], "submission": [], "consultation": []}

        def timed(kind, user, text):
            t0 = time.perf_counter()
            m.handle_text(user, text)
            timings[kind].append((time.perf_counter() - t0) * 1000)

        for u in range(args.users):
            user = f"oBench{u}"
            timed("greeting", user, "你好")
            for text in FORM:
                timed("form turn", user, text)
            timed("submission", user, "确认")
            for q in QUESTIONS:
                timed("consultation", user, q)
    print(f"dialog pipeline, embedded default (SQLite + in-process state), {args.users} users")
    for kind, samples in timings.items():
        print("  " + line(kind, samples))
    floor = statistics.median(timings["greeting"])
    print(f"  form turn p50 / greeting p50 = x{statistics.median(timings['form turn']) / floor:.1f}"
          f"   (target: form turn p99 < 20 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
