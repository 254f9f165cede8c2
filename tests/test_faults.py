"""Faults while pushes flow: the dispatcher is killed with SIGKILL, Redis and PostgreSQL restart,
and a producer keeps queueing pushes through it all. Count at the end: every push committed is
delivered, and no template message arrives twice (its client_msg_id is the idempotency key).

Restarting the shared servers is why this test runs last (conftest.py) and only where it may
manage them (pg_ctlcluster, redis-server on this machine)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import outbox
from bot.db import make_engine, make_sessionmaker, transaction, upgrade
from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, EmulatorControl, serve
from bot.models import Notification

pytestmark = pytest.mark.faults
REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "tpl-progress"


def _restart_redis():
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], capture_output=True)
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
                    "--save", "", "--appendonly", "no"], check=True, capture_output=True)
    _wait(lambda: subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True).stdout.strip() == b"PONG")


def _restart_postgres():
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True,
                   capture_output=True)
    _wait(lambda: subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0)


def _wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture()
def can_manage_servers():
    missing = [tool for tool in ("pg_ctlcluster", "redis-server", "redis-cli", "pg_isready") if not shutil.which(tool)]
    if missing or not os.path.isdir("/etc/postgresql"):
        reason = f"cannot restart the local servers here (missing: {', '.join(missing) or '/etc/postgresql'})"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)


def _dispatcher(env):
    return subprocess.Popen([sys.executable, "-m", "bot.dispatcher"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_no_push_lost_or_doubled_through_kill_and_server_restarts(postgres_url, redis_url, can_manage_servers):
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    sessions = make_sessionmaker(engine)
    committed: list[str] = []
    stop = threading.Event()

    def enqueue(key):
        with transaction(sessions) as db:
            outbox.enqueue(db, key=key, recipient=f"o{key}", recipient_kind="enterprise", purpose="progress",
                           text="进度更新", template="progress", data={"number": key[:20]})
        committed.append(key)

    def producer():
        """Keeps queueing through the restarts; a push counts only once its transaction committed."""
        i = 0
        while not stop.is_set() and i < 40:
            try:
                enqueue(f"live-{i}")
                i += 1
            except sa.exc.OperationalError:
                pass  # the database is restarting: the change was not committed, try again
            time.sleep(0.1)

    with serve() as base_url:
        control = EmulatorControl(base_url)
        control.add_template(TEMPLATE, ["number"])
        for i in range(60):
            enqueue(f"seed-{i}")
        for i in range(60):
            control.add_user(f"oseed-{i}")
        for i in range(40):
            control.add_user(f"olive-{i}")
        control.inject_fault("/cgi-bin/message/template/send", "delay", count=200, delay_seconds=0.05)
        env = {**os.environ, "DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "WECHAT_API_BASE": base_url,
               "WECHAT_APPID": DEFAULT_APPID, "WECHAT_SECRET": DEFAULT_SECRET,
               "WECHAT_TEMPLATE_IDS": f'{{"progress": "{TEMPLATE}"}}', "DISPATCH_INTERVAL_S": "0.2",
               "DISPATCH_LEASE_S": "3", "DISPATCH_BATCH": "10", "DISPATCH_BACKOFF_BASE_S": "0.5",
               "DISPATCH_BACKOFF_CAP_S": "2"}
        feeder = threading.Thread(target=producer)
        feeder.start()
        first = _dispatcher(env)
        second = None
        try:
            _wait(lambda: len(control.messages()) >= 10)
            _restart_redis()
            _wait(lambda: len(control.messages()) >= 25)
            _restart_postgres()
            _wait(lambda: len(control.messages()) >= 35)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            second = _dispatcher(env)
            feeder.join(60)
            stop.set()

            def all_sent():
                try:
                    with sessions() as s:
                        return s.scalar(sa.select(sa.func.count()).select_from(Notification)
                                        .where(Notification.state != "sent")) == 0
                except sa.exc.OperationalError:
                    return False
            _wait(all_sent, timeout=90)
        finally:
            stop.set()
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.kill()
        received = Counter(m["openid"] for m in control.messages() if m["kind"] == "template")
    with sessions() as s:
        keys = set(s.scalars(sa.select(Notification.idempotency_key)))
    assert len(committed) == 100 and set(committed) <= keys  # nothing a producer committed went missing
    # Each push has its own recipient: every one reached WeChat, exactly once.
    assert received == Counter({f"o{key}": 1 for key in keys})
    engine.dispose()
