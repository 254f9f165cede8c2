"""Faults while pushes flow: the dispatcher is killed with SIGKILL, Redis and PostgreSQL restart,
and a producer keeps queueing pushes through it all. Count at the end: every push committed is
delivered, and no template message arrives twice (its client_msg_id is the idempotency key).

Restarting the shared servers is why this test runs last (conftest.py) and only where it may
manage them (pg_ctlcluster, redis-server on this machine)."""
from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import fill_database

from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, EmulatorControl, serve
from bot.models import Case, Notification
from bot.platform.db import make_engine, make_sessionmaker, transaction
from bot.push import outbox
from webhook.simulator import WeChatServer, reply_fields, text_xml

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
    return subprocess.Popen([sys.executable, "-m", "bot.push.dispatcher"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_no_push_lost_or_doubled_through_kill_and_server_restarts(postgres_url, redis_url, can_manage_servers):
    fill_database(postgres_url)
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


# -- the webhook under faults -------------------------------------------------------------------

WX_TOKEN, WX_AES, WX_APPID = "fault-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx0123456789abcdef"
QUESTIONS = ["施工许可证需要准备哪些材料", "代办要收费吗", "帮办和代办有什么区别", "社保怎么交"]
# What the form asks (a cue in its prompt) → what this enterprise answers.
FORM_ANSWERS = [("哪个地区", "5"), ("全称", "武汉光谷示例科技有限公司"), ("统一社会信用代码", "91350100M000100Y43"),
                ("请输入项目名称", "光谷示例研发楼"), ("项目代码", "无"), ("投资类型", "1"), ("重点项目", "否"),
                ("属于哪一类", "1"), ("哪个审批阶段", "3"), ("哪些事项", "1 3"), ("联系人）姓名", "陈明"),
                ("联系电话", "13800138000"), ("回复「确认」提交", "确认")]


class Enterprise:
    """A WeChat user behind WeChat's servers: each message is re-sent with the same MsgId when
    the server does not answer (as WeChat does, up to 3 times); a message that got no visible
    answer is typed again; a form that forgot its answers (Redis restarted) is started again,
    after first asking 「我的申请」 — as a person who might have applied already would."""

    def __init__(self, port: int, openid: str, stats: Counter):
        self.port, self.openid, self.stats = port, openid, stats
        self.wx = WeChatServer(WX_TOKEN, WX_AES, WX_APPID)
        self.number: str | None = None

    def deliver(self, text: str) -> str:
        xml = text_xml(self.openid, text)  # one MsgId for all of WeChat's deliveries of it
        for _ in range(4):
            cb = self.wx.callback(xml)
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=8)
                conn.request("POST", cb.path, body=cb.body, headers={"Content-Type": "text/xml"})
                resp = conn.getresponse()
                body = resp.read()
                conn.close()
            except (OSError, http.client.HTTPException):
                self.stats["transport errors"] += 1
                time.sleep(0.5)
                continue
            if resp.status != 200:
                self.stats[f"http {resp.status}"] += 1
                time.sleep(0.5)
                continue
            if body.strip() == b"success":
                self.stats["empty replies"] += 1
                return ""
            return reply_fields(self.wx.read_reply(body))["Content"]
        return ""

    def say(self, text: str) -> str:
        """What the person sees after typing `text`, retyping it while nothing comes back."""
        for _ in range(30):
            reply = self.deliver(text)
            if reply and "还在处理中" not in reply:
                return reply
            time.sleep(1.0)
        raise AssertionError(f"{self.openid}: no answer to {text!r}")

    def apply(self, deadline: float) -> None:
        for q in QUESTIONS[:2]:
            assert self.say(q)
        reply = self.say("我要申请帮办")
        while time.monotonic() < deadline:
            if m := re.search(r"编号 (BD-\d{4}-\d{6})", reply):
                self.number = m.group(1)
                break
            # The form's question ends the reply (after a summary or an interrupting answer).
            cues = [(reply.rfind(cue), a) for cue, a in FORM_ANSWERS if cue in reply]
            answer = max(cues)[1] if cues else None
            time.sleep(0.15)  # a person types
            if answer is not None:
                reply = self.say(answer)
                continue
            self.stats["forms restarted"] += 1
            mine = self.say("我的申请")
            if m := re.search(r"BD-\d{4}-\d{6}", mine):
                self.number = m.group(0)
                break
            reply = self.say("我要申请帮办")
        for q in QUESTIONS[2:]:
            assert self.say(q)


def _gunicorn(port: int, env: dict) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(REPO_ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}",
           "--workers", "2", "--threads", "4", "--access-logfile", "/dev/null", "--log-level", "warning",
           "webhook.wsgi:app"]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(lambda: subprocess.run(["curl", "-sf", f"http://127.0.0.1:{port}/readyz"], capture_output=True).returncode == 0,
          timeout=90)
    return proc


def _workers(master_pid: int) -> list[int]:
    """The master's live workers: a killed one stays a zombie until the master reaps it, and
    counting it made "the master forked a new one" true at once."""
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split() if _alive(int(pid))]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] not in ("Z", "X")  # the state, after "(comm)"


def _kill_a_worker(master_pid: int) -> None:
    """SIGKILL one live worker (one listed may be reaped before the signal: take the next)."""
    deadline = time.monotonic() + 30
    while True:
        workers = _workers(master_pid)
        try:
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                return
        except ProcessLookupError:
            pass
        assert time.monotonic() < deadline, "no live worker to kill"
        time.sleep(0.05)


def test_webhook_loses_no_application_through_kill_and_server_restarts(postgres_url, redis_url,
                                                                         can_manage_servers, kb_cache_dir):
    """Enterprises apply through the real webhook (gunicorn, 2 workers) while a worker is killed
    with SIGKILL and Redis and PostgreSQL restart. Every number a user was shown is in the
    database with its commissioner alert queued, and no retry made a second application."""
    fill_database(postgres_url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "WECHAT_TOKEN": WX_TOKEN,
           "WECHAT_ENCODING_AES_KEY": WX_AES, "WECHAT_APPID": WX_APPID, "SCHEDULER_IN_APP": "false",
           "LOG_LEVEL": "ERROR",
           # the run's knowledge index: every worker (and each one forked after a kill) loads it
           # in ~0.3 s instead of the first building it (~8 s) into the checkout's var/cache
           "BANGBAN_CACHE_DIR": kb_cache_dir}
    subprocess.run([sys.executable, "-m", "webhook.cli", "staff", "seed-demo"], cwd=REPO_ROOT, env=env, check=True,
                   capture_output=True)
    stats: Counter = Counter()
    users = [Enterprise(port, f"oFault{i:02d}", stats) for i in range(48)]
    server = _gunicorn(port, env)
    errors: list[BaseException] = []

    def run(batch):
        try:
            for user in batch:
                user.apply(deadline=time.monotonic() + 120)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    # Daemons: when the test fails early, users still retrying must not hold the run's exit.
    threads = [threading.Thread(target=run, args=(users[i::8],), daemon=True) for i in range(8)]
    try:
        for t in threads:
            t.start()
        # Each fault strikes while every thread still has users to go (8 users talk at once).
        done = lambda n: lambda: sum(u.number is not None for u in users) >= n  # noqa: E731
        for n in (6, 9, 12):  # a worker killed three times: eight users talk to two workers
            _wait(done(n), timeout=120)
            _kill_a_worker(server.pid)
            _wait(lambda: len(_workers(server.pid)) == 2, timeout=60)  # the master forks a new one
        _wait(done(16), timeout=120)
        _restart_redis()
        _wait(done(24), timeout=120)
        _restart_postgres()
        assert sum(u.number is not None for u in users) < 40, "the load ended before the faults"
        for t in threads:
            t.join(240)
        assert not any(t.is_alive() for t in threads), "users still waiting for answers"
    finally:
        server.terminate()
        server.wait(30)
    assert not errors, errors
    print(f"\nfaults seen by the users: {dict(stats)}")
    told = {u.openid: u.number for u in users}
    assert all(told.values()), {k: v for k, v in told.items() if not v}
    engine = make_engine(postgres_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        cases = s.execute(sa.select(Case.applicant_openid, Case.number, Case.id)).all()
        alerts = set(s.scalars(sa.select(Notification.case_id).where(Notification.purpose == "assignment")))
    engine.dispose()
    by_user = Counter(openid for openid, _, _ in cases)
    assert by_user == Counter({u.openid: 1 for u in users})  # no retry made a second application
    assert {openid: number for openid, number, _ in cases} == told  # every number shown is stored
    assert {case_id for _, _, case_id in cases} <= alerts  # and its commissioner alert is queued
