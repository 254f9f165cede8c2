"""Outbox throughput: N notifications through the dispatcher against the served WeChat emulator,
next to N raw wechatpy sends to the same emulator as the baseline.

    .venv/bin/python bench/outbox_throughput.py [-n 2000] [--dispatchers 1] [--sqlite | --database-url URL]

The dispatcher's price over a bare send is the claim (one UPDATE … RETURNING per batch), the
window lookup, and writing the outcomes (one transaction per batch for template messages, one per
message for customer-service texts: see bot/push/dispatcher.py, "Duplicates after a crash"). Messages
here are template messages (recipients outside the 48 h window), each with its client_msg_id.
Rounds alternate raw and dispatcher sends and the best of each is compared, because the figures
move with whatever else the machine is doing. PostgreSQL by default (a throw-away schema), or a
SQLite file.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, EmulatorControl, serve  # noqa: E402
from bot.models import Notification  # noqa: E402
from bot.platform.config import Settings  # noqa: E402
from bot.platform.db import make_engine, make_sessionmaker, transaction, upgrade  # noqa: E402
from bot.push import dispatcher  # noqa: E402
from bot.push.wechat_api import make_client  # noqa: E402

DEFAULT_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TEMPLATE_ID = "tpl-bench-progress"
FIELDS = {"number": "BD-2026-000001", "item": "施工许可", "status": "已受理"}
RECIPIENTS = 50


def run_threads(count: int, target) -> float:
    threads = [threading.Thread(target=target) for _ in range(count)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def bench(url: str, n: int, workers: int, rounds: int) -> None:
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    per_worker = n // workers
    total = per_worker * workers
    raw_times: list[float] = []
    dispatch_times: list[float] = []
    with serve() as base_url:
        control = EmulatorControl(base_url)
        control.add_template(TEMPLATE_ID, list(FIELDS))
        openids = [f"oBench{i:03d}" for i in range(RECIPIENTS)]
        for openid in openids:
            control.add_user(openid)
        settings = Settings(wechat_appid=DEFAULT_APPID, wechat_secret=DEFAULT_SECRET, wechat_api_base=base_url,
                            wechat_templates={"progress": TEMPLATE_ID}, database_url=url)
        client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)
        assert client.access_token  # fetched up front: neither side pays for it below

        def raw():
            for i in range(per_worker):
                client.message.send_template(openids[i % RECIPIENTS], TEMPLATE_ID,
                                             {k: {"value": v} for k, v in FIELDS.items()})

        def dispatch():
            while dispatcher.dispatch_once(sessions, client, settings, batch=100).claimed:
                pass

        # Alternate the two, best round of each: the machine's noise hits both alike.
        for _ in range(rounds):
            raw_times.append(run_threads(workers, raw))
            with transaction(sessions) as db:
                db.execute(sa.insert(Notification), [
                    {"idempotency_key": f"bench:{uuid.uuid4().hex}", "recipient_openid": openids[i % RECIPIENTS],
                     "recipient_kind": "enterprise", "purpose": "progress", "text": "您的施工许可已受理。",
                     "template": "progress", "data": FIELDS, "url": "https://bangban.example/c/1"}
                    for i in range(total)])
            before = len(control.messages())
            dispatch_times.append(run_threads(workers, dispatch))
            delivered = len(control.messages()) - before
            assert delivered == total, (delivered, total)
        with transaction(sessions) as db:
            assert db.scalar(sa.select(sa.func.count()).where(Notification.state != "sent")) == 0

    engine.dispose()
    raw_rate, dispatch_rate = total / min(raw_times), total / min(dispatch_times)
    print(f"database: {url.split('://')[0]}, {total} template messages x {rounds} rounds, {workers} worker(s)")
    print(f"raw wechatpy sends : {raw_rate:8.0f} msg/s (best of {', '.join(f'{t:.2f}' for t in raw_times)} s)")
    print(f"outbox dispatcher  : {dispatch_rate:8.0f} msg/s (best of {', '.join(f'{t:.2f}' for t in dispatch_times)} s)")
    print(f"ratio dispatcher/raw: {dispatch_rate / raw_rate:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="messages (default 2000)")
    parser.add_argument("--dispatchers", type=int, default=1, help="parallel dispatchers (and raw senders)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each side counts")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--sqlite", action="store_true", help="use a temporary SQLite file instead")
    args = parser.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            bench(f"sqlite:///{tmp}/bench.sqlite3", args.n, args.dispatchers, args.rounds)
        return
    schema = "bench_outbox_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(args.database_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in args.database_url else "?"
    try:
        bench(f"{args.database_url}{sep}options=-csearch_path%3D{schema}", args.n, args.dispatchers, args.rounds)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
