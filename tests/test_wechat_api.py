"""bot.push.wechat_api against a served emulator: a shared token, one refresh, classified outcomes."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from wechatpy import WeChatClient

from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, EmulatorControl, serve
from bot.push import wechat_api
from bot.push.wechat_api import (
    FALLBACK,
    OK,
    PERMANENT,
    RETRY,
    ExpiringMemoryStorage,
    SharedTokenWeChatClient,
    classify,
    make_client,
)

OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
TEMPLATE = "tpl-approval-progress"
SUBSCRIBE = "sub-approval-progress"
TEMPLATE_DATA = {"keyword1": "施工许可", "keyword2": "已受理"}
REPO_ROOT = Path(__file__).resolve().parent.parent
# Holding every token fetch this long makes concurrent workers really overlap: without the
# refresh lock each of them would fetch its own token.
SLOW_TOKEN_SECONDS = 0.3


@pytest.fixture()
def emulator():
    with serve() as base_url:
        control = EmulatorControl(base_url)
        control.add_user(OPENID)
        control.interact(OPENID)
        control.add_template(TEMPLATE, ["keyword1", "keyword2"])
        control.add_subscribe_template(SUBSCRIBE, ["thing1", "phrase2"])
        yield base_url, control


def slow_token_endpoint(control, count=32):
    control.inject_fault("/cgi-bin/token", "delay", count=count, delay_seconds=SLOW_TOKEN_SECONDS)


def run_together(workers, action):
    """Start every worker at the same instant; return each one's result (or exception)."""
    barrier = threading.Barrier(len(workers))
    results = [None] * len(workers)

    def run(index, worker):
        barrier.wait()
        try:
            results[index] = action(worker)
        except Exception as err:  # noqa: BLE001 - reported through the results
            results[index] = err

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def send_template_message(client):
    return wechat_api.send_template(client, OPENID, TEMPLATE, TEMPLATE_DATA)


# -- one token for everyone ---------------------------------------------------------------------
@pytest.mark.redis
def test_16_threads_on_two_clients_sharing_redis_fetch_the_token_once(emulator, redis_client,
                                                                      redis_url):
    base_url, control = emulator
    slow_token_endpoint(control)
    first = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url, redis=redis_url)
    second = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url, redis=redis_client)
    results = run_together([first, second] * 8, send_template_message)
    assert [r.category for r in results] == [OK] * 16, results
    assert control.stats()["token_fetches"] == 1
    assert len(control.messages()) == 16


WORKER_PROCESS = textwrap.dedent("""
    import sys, threading
    from bot.push import wechat_api
    base_url, redis_url, appid, secret, openid, template = sys.argv[1:7]
    client = wechat_api.make_client(appid, secret, base_url, redis=redis_url)
    barrier = threading.Barrier(8)
    failures = []
    def work():
        barrier.wait()
        result = wechat_api.send_template(client, openid, template,
                                          {"keyword1": "施工许可", "keyword2": "已受理"})
        if not result.ok:
            failures.append(result)
    threads = [threading.Thread(target=work) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    sys.exit(1 if failures else 0)
""")


@pytest.mark.redis
def test_two_processes_sharing_redis_fetch_the_token_once(emulator, redis_client, redis_url):
    base_url, control = emulator
    slow_token_endpoint(control)
    args = [sys.executable, "-c", WORKER_PROCESS, base_url, redis_url, DEFAULT_APPID,
            DEFAULT_SECRET, OPENID, TEMPLATE]
    processes = [subprocess.Popen(args, cwd=REPO_ROOT) for _ in range(2)]
    assert [p.wait(timeout=30) for p in processes] == [0, 0]
    assert control.stats()["token_fetches"] == 1
    assert len(control.messages()) == 16


def test_without_redis_clients_in_one_process_share_a_memory_token(emulator):
    base_url, control = emulator
    slow_token_endpoint(control)
    clients = [make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url) for _ in range(2)]
    results = run_together(clients * 8, send_template_message)
    assert [r.category for r in results] == [OK] * 16, results
    assert control.stats()["token_fetches"] == 1


def test_the_concurrency_tests_would_catch_a_missing_lock(emulator):
    """Same race, no lock: the workers stampede the token endpoint (proves the tests can fail)."""
    base_url, control = emulator
    slow_token_endpoint(control)
    storage = ExpiringMemoryStorage()
    clients = [SharedTokenWeChatClient(DEFAULT_APPID, DEFAULT_SECRET, base_url, storage,
                                       refresh_lock=contextlib.nullcontext) for _ in range(2)]
    run_together(clients * 8, send_template_message)
    assert control.stats()["token_fetches"] > 1


@pytest.mark.redis
def test_token_is_cached_in_redis_per_appid_shorter_than_its_lifetime(emulator, redis_client,
                                                                       redis_url):
    base_url, _ = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url, redis=redis_url)
    assert send_template_message(client).ok
    [key] = redis_client.keys("*access_token*")
    assert key.decode().startswith(f"bangban:wechat:{DEFAULT_APPID}:")
    assert 0 < redis_client.ttl(key) <= 7200 - wechat_api.TOKEN_EXPIRY_MARGIN_SECONDS


# -- token errors: refresh once, retry once -----------------------------------------------------
@pytest.mark.redis
def test_expired_token_is_refreshed_once_and_the_call_succeeds(emulator, redis_client, redis_url):
    base_url, control = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url, redis=redis_url)
    assert send_template_message(client).ok
    # The emulator's clock passes 7200 s; the cached token still looks fresh to the client.
    control.advance_clock(7200)
    result = send_template_message(client)
    assert result.ok, result
    assert control.stats()["token_fetches"] == 2
    assert len(control.messages()) == 2


@pytest.mark.redis
def test_token_revoked_mid_flight_gives_one_refresh_and_one_retry(emulator, redis_client,
                                                                   redis_url):
    base_url, control = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url, redis=redis_url)
    assert wechat_api.send_text(client, OPENID, "您的材料已收到").ok
    control.revoke_tokens()  # every token now answers 40001
    assert wechat_api.send_text(client, OPENID, "审批已通过").ok
    assert control.stats()["token_fetches"] == 2
    assert [m["payload"]["text"]["content"] for m in control.messages()] == [
        "您的材料已收到", "审批已通过"]


@pytest.mark.redis
def test_a_second_token_error_is_not_retried_again(emulator, redis_client, redis_url):
    base_url, control = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url, redis=redis_url)
    control.inject_fault("/cgi-bin/message/template/send", "errcode", count=3, errcode=40001)
    result = send_template_message(client)
    assert (result.category, result.errcode) == (RETRY, 40001)
    assert control.stats()["token_fetches"] == 2  # the first fetch + exactly one refresh
    assert control.pending_faults()[0]["remaining"] == 1  # exactly two send attempts
    assert control.messages() == []


@pytest.mark.redis
def test_many_workers_hitting_40001_together_refresh_once(emulator, redis_client, redis_url):
    base_url, control = emulator
    clients = [make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url, redis=redis_url)
               for _ in range(2)]
    assert send_template_message(clients[0]).ok
    control.revoke_tokens()
    slow_token_endpoint(control)
    results = run_together(clients * 4, send_template_message)
    assert [r.category for r in results] == [OK] * 8, results
    assert control.stats()["token_fetches"] == 2


@pytest.mark.redis
def test_a_rejected_token_is_dropped_even_if_the_refresh_fails(emulator, redis_client, redis_url):
    base_url, control = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url, redis=redis_url)
    assert send_template_message(client).ok
    control.revoke_tokens()
    control.inject_fault("/cgi-bin/token", "busy")
    failed = send_template_message(client)
    assert (failed.category, failed.errcode) == (RETRY, -1)
    assert redis_client.keys("*access_token*") == []
    assert send_template_message(client).ok  # next attempt fetches a fresh token


def test_wechatpy_own_auto_retry_is_switched_off(emulator):
    base_url, _ = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)
    assert client.auto_retry is False  # its retry refetches without a lock, unbounded


# -- outcomes ------------------------------------------------------------------------------------
def test_custom_message_outside_the_window_or_over_quota_is_a_fallback(emulator):
    base_url, control = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)
    for _ in range(5):
        assert wechat_api.send_text(client, OPENID, "进度提醒").ok
    over_quota = wechat_api.send_text(client, OPENID, "进度提醒")
    assert (over_quota.category, over_quota.errcode) == (FALLBACK, 45047)
    control.interact(OPENID)
    control.advance_clock(48 * 3600 + 1)
    outside = wechat_api.send_text(client, OPENID, "进度提醒")
    assert (outside.category, outside.errcode) == (FALLBACK, 45015)


def test_template_client_msg_id_is_passed_through_for_idempotency(emulator):
    base_url, control = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)
    first = wechat_api.send_template(client, OPENID, TEMPLATE, TEMPLATE_DATA,
                                     url="https://example.cn/case/42", client_msg_id="case-42-accepted")
    again = wechat_api.send_template(client, OPENID, TEMPLATE, TEMPLATE_DATA,
                                     client_msg_id="case-42-accepted")
    assert first.ok and again.ok and first.msgid == again.msgid
    [sent] = control.messages()
    assert sent["client_msg_id"] == "case-42-accepted"
    assert sent["payload"]["url"] == "https://example.cn/case/42"
    assert sent["payload"]["data"]["keyword1"] == {"value": "施工许可"}


def test_template_errors_are_permanent(emulator):
    base_url, control = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)
    unknown = wechat_api.send_template(client, OPENID, "tpl-unknown", TEMPLATE_DATA)
    assert (unknown.category, unknown.errcode) == (PERMANENT, 40037)
    missing = wechat_api.send_template(client, OPENID, TEMPLATE, {"keyword1": "施工许可"})
    assert (missing.category, missing.errcode) == (PERMANENT, 47003)


def test_template_quota_is_retryable(emulator):
    base_url, control = emulator
    control.set_quotas(template_daily=1)
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)
    assert send_template_message(client).ok
    exhausted = send_template_message(client)
    assert (exhausted.category, exhausted.errcode) == (RETRY, 45009)


def test_subscribe_message_outcomes(emulator):
    base_url, control = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)
    data = {"thing1": "施工许可审批", "phrase2": "已受理"}
    refused = wechat_api.send_subscribe(client, OPENID, SUBSCRIBE, data)
    assert (refused.category, refused.errcode) == (FALLBACK, 43101)
    control.accept_subscription(OPENID, SUBSCRIBE)
    assert wechat_api.send_subscribe(client, OPENID, SUBSCRIBE, data).ok
    control.accept_subscription(OPENID, SUBSCRIBE)
    too_long = wechat_api.send_subscribe(client, OPENID, SUBSCRIBE,
                                         {"thing1": "施" * 21, "phrase2": "已受理"})
    assert (too_long.category, too_long.errcode) == (PERMANENT, 47003)


def test_busy_http500_and_network_errors_are_retryable(emulator):
    base_url, control = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)
    control.inject_fault("/cgi-bin/message/template/send", "busy")
    busy = send_template_message(client)
    assert (busy.category, busy.errcode) == (RETRY, -1)
    control.inject_fault("/cgi-bin/message/template/send", "http500")
    http500 = send_template_message(client)
    assert (http500.category, http500.errcode) == (RETRY, None)
    assert send_template_message(client).ok

    with serve() as closed_base_url:
        pass  # the port is free again: nothing answers there
    unreachable = make_client(DEFAULT_APPID, DEFAULT_SECRET, closed_base_url, timeout=2)
    down = send_template_message(unreachable)
    assert (down.category, down.errcode) == (RETRY, None)


def test_token_store_outage_is_retryable(emulator):
    base_url, _ = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url, redis="redis://127.0.0.1:1/0")
    result = send_template_message(client)
    assert (result.category, result.errcode) == (RETRY, None)


def test_token_endpoint_failures_are_classified(emulator):
    base_url, control = emulator
    wrong_secret = make_client(DEFAULT_APPID, "not-the-secret", base_url)
    result = send_template_message(wrong_secret)
    assert (result.category, result.errcode) == (PERMANENT, 40125)
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)
    control.inject_fault("/cgi-bin/token", "busy")
    busy = send_template_message(client)
    assert (busy.category, busy.errcode) == (RETRY, -1)
    assert send_template_message(client).ok


# -- plumbing ------------------------------------------------------------------------------------
def test_client_is_a_wechatpy_client_pointed_at_api_base(emulator):
    base_url, _ = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url + "/")
    assert isinstance(client, WeChatClient)
    assert client.API_BASE_URL == f"{base_url}/cgi-bin/"
    # wechatpy API classes that pin the real host are redirected too
    assert client._to_api_base("https://api.weixin.qq.com/datacube/getusersummary") == (
        f"{base_url}/datacube/getusersummary")


def test_memory_storage_honours_ttl():
    storage = ExpiringMemoryStorage()
    storage.set("k", "v", ttl=0)
    storage.set("kept", "v", ttl=60)
    assert storage.get("k") is None
    assert storage.get("kept") == "v"


@pytest.mark.parametrize("errcode, category", [
    (0, OK),
    (-1, RETRY), (None, RETRY), (45009, RETRY), (45011, RETRY),
    (40001, RETRY), (42001, RETRY),
    (45015, FALLBACK), (45047, FALLBACK), (43101, FALLBACK),
    (40003, PERMANENT), (40037, PERMANENT), (47001, PERMANENT), (47003, PERMANENT),
    (43004, PERMANENT), (44004, PERMANENT), (45002, PERMANENT), (40125, PERMANENT),
    (99999, PERMANENT),  # unknown codes never loop
])
def test_classify(errcode, category):
    assert classify(errcode) == category


@pytest.mark.redis
def test_an_upload_retried_after_a_token_error_sends_its_file_whole(emulator, redis_client, redis_url):
    """The retry after a rejected token sent the upload's file read to its end: WeChat (here the
    emulator) answered 41005 media data missing (seen once in CI, tests/test_materials.py)."""
    import io

    base_url, control = emulator
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url, redis=redis_url)
    assert wechat_api.send_text(client, OPENID, "您的材料已收到").ok  # a token in hand
    control.revoke_tokens()
    media_id = client.media.upload("image", ("photo.png", io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 64)))["media_id"]
    assert media_id and control.stats()["token_fetches"] == 2
