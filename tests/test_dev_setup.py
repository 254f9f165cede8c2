"""What a developer trying the bot on their machine sees: links that follow PORT, a scheduler log
that says what the jobs did (not forty lines a minute of nothing), and an emulator that does not
print the AppSecret or access tokens it is sent."""
from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time

import requests

from bot import scheduler
from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET
from bot.platform.config import Settings, load_settings
from bot.push import dispatcher


def test_public_url_follows_port_unless_it_is_set(monkeypatch):
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    monkeypatch.setenv("PORT", "8123")
    settings = load_settings()
    assert (settings.port, settings.public_url) == (8123, "http://127.0.0.1:8123")
    assert settings.on_port(9001).public_url == "http://127.0.0.1:9001"  # bangban serve --port 9001
    monkeypatch.setenv("PUBLIC_URL", "https://bangban.example.gov.cn/")
    settings = load_settings()
    assert settings.public_url == "https://bangban.example.gov.cn"
    assert settings.on_port(9001).public_url == "https://bangban.example.gov.cn"
    monkeypatch.delenv("PORT")
    monkeypatch.delenv("PUBLIC_URL")
    assert load_settings().public_url == "http://127.0.0.1:8000"


class QuietJobs:
    """Jobs whose outbox run has work every third time, and whose other jobs never do."""

    def __init__(self):
        self.runs = 0

    def dispatch_outbox(self):
        self.runs += 1
        busy = self.runs % 3 == 0
        return dispatcher.DispatchCounts(claimed=2, sent=2, by_channel={"template": 2}) if busy else \
            dispatcher.DispatchCounts()

    def unaccepted_assignments(self):
        return {"realerted": 0, "escalated": 0}

    def rating_reminders(self):
        return 0


def test_the_scheduler_logs_a_line_per_run_that_did_something(sqlite_url, caplog):
    settings = Settings(database_url=sqlite_url, dispatch_interval_s=0.05, accept_check_interval_s=0.05)
    jobs = QuietJobs()
    leader = scheduler.LeaderScheduler(settings, jobs=jobs)
    with caplog.at_level(logging.INFO):
        leader.start()
        deadline = time.monotonic() + 10
        while jobs.runs < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        leader.stop()
    assert jobs.runs >= 12
    noise = [r for r in caplog.records if r.name.startswith("apscheduler") and r.levelno < logging.WARNING]
    assert not noise, [r.getMessage() for r in noise[:3]]
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.scheduler" and "dispatch_outbox" in r.getMessage()]
    busy_runs = jobs.runs // 3
    assert busy_runs - 1 <= len(lines) <= busy_runs
    assert lines and lines[0] == "dispatch_outbox: claimed 2, sent 2, sent_template 2"
    assert not [r for r in caplog.records if "unaccepted_assignments" in r.getMessage()]


def test_the_emulator_command_logs_paths_not_secrets():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "bot.emulator", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                token = requests.get(f"{base}/cgi-bin/token", timeout=2, params={
                    "grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET}).json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        requests.post(f"{base}/cgi-bin/message/custom/send", params={"access_token": token["access_token"]},
                      json={"touser": "oNobody", "msgtype": "text", "text": {"content": "x"}}, timeout=2)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    # The request log (stderr; the banner on stdout names the built-in test account on purpose).
    assert '"GET /cgi-bin/token" 200' in err and '"POST /cgi-bin/message/custom/send" 200' in err
    assert DEFAULT_SECRET not in err and token["access_token"] not in err and "access_token=" not in err
