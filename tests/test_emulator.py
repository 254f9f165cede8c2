"""The WeChat API emulator enforces WeChat's rules and answers with WeChat's error codes.

Driven in-process through Flask's test client, with a fixed base clock the tests push forward.
"""
from __future__ import annotations

import json

import pytest
import requests

from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, OffsetClock, create_app, serve

# 2023-11-15 06:13:20 in Beijing: far from a Beijing midnight, so daily buckets stay put.
T0 = 1_700_000_000.0
HOUR = 3600
OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
TEMPLATE = "tpl-approval-progress"
SUBSCRIBE = "sub-approval-progress"


@pytest.fixture()
def clock():
    return OffsetClock(base=lambda: T0)


@pytest.fixture()
def http(clock):
    return create_app(clock=clock).test_client()


def control(http, endpoint, **payload):
    res = http.post(f"/_emulator/{endpoint}", json=payload)
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()


def fetch_token(http, appid=DEFAULT_APPID, secret=DEFAULT_SECRET, grant_type="client_credential"):
    return http.get("/cgi-bin/token", query_string={
        "grant_type": grant_type, "appid": appid, "secret": secret}).get_json()


def token(http):
    body = fetch_token(http)
    assert "access_token" in body, body
    return body["access_token"]


def call(http, path, access_token, payload):
    raw = payload if isinstance(payload, (bytes, str)) else json.dumps(payload, ensure_ascii=False)
    res = http.post(path, query_string={"access_token": access_token}, data=raw)
    assert res.status_code == 200
    return res.get_json()


def custom_text(http, access_token, text="您的申请已受理", openid=OPENID):
    return call(http, "/cgi-bin/message/custom/send", access_token,
                {"touser": openid, "msgtype": "text", "text": {"content": text}})


def template(http, access_token, data=None, openid=OPENID, template_id=TEMPLATE, **extra):
    data = {"keyword1": {"value": "施工许可"}, "keyword2": {"value": "已受理"}} if data is None else data
    return call(http, "/cgi-bin/message/template/send", access_token,
                {"touser": openid, "template_id": template_id, "data": data, **extra})


def subscribe(http, access_token, data, openid=OPENID, template_id=SUBSCRIBE):
    return call(http, "/cgi-bin/message/subscribe/bizsend", access_token,
                {"touser": openid, "template_id": template_id, "data": data})


def errcode(body) -> int:
    return body.get("errcode", 0)


def advance(http, seconds):
    control(http, "clock/advance", seconds=seconds)


def stats(http):
    return http.get("/_emulator/stats").get_json()


def messages(http):
    return http.get("/_emulator/messages").get_json()


# -- /cgi-bin/token ------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, expected", [
    ({"appid": "wx_not_registered"}, 40013),
    ({"secret": "wrong-secret"}, 40125),
    ({"grant_type": "authorization_code"}, 40002),
    ({"appid": ""}, 41002),
    ({"secret": ""}, 41004),
])
def test_token_rejects_bad_credentials_with_real_codes(http, kwargs, expected):
    assert errcode(fetch_token(http, **kwargs)) == expected


def test_token_is_issued_for_7200_seconds_and_counted(http):
    body = fetch_token(http)
    assert body["expires_in"] == 7200
    fetch_token(http, secret="wrong-secret")
    assert stats(http)["token_fetches"] == 2


def test_token_expires_after_7200_seconds_with_42001(http):
    control(http, "interactions", openid=OPENID)
    access_token = token(http)
    advance(http, 7199)
    control(http, "interactions", openid=OPENID)
    assert errcode(custom_text(http, access_token)) == 0
    advance(http, 1)
    assert errcode(custom_text(http, access_token)) == 42001


def test_previous_token_stays_valid_five_minutes_after_a_refresh_then_40001(http):
    control(http, "interactions", openid=OPENID)
    old = token(http)
    new = token(http)
    assert old != new
    advance(http, 299)
    assert errcode(custom_text(http, old)) == 0
    advance(http, 1)
    assert errcode(custom_text(http, old)) == 40001
    assert errcode(custom_text(http, new)) == 0


def test_api_call_token_checks(http):
    control(http, "interactions", openid=OPENID)
    assert errcode(custom_text(http, "")) == 41001
    assert errcode(custom_text(http, "made-up-token")) == 40001
    access_token = token(http)
    assert control(http, "tokens/revoke")["revoked"] == 1
    assert errcode(custom_text(http, access_token)) == 40001


# -- /cgi-bin/stable_token -----------------------------------------------------------------------
def stable(http, force_refresh=False, **overrides):
    body = {"grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET,
            "force_refresh": force_refresh, **overrides}
    return http.post("/cgi-bin/stable_token", json=body).get_json()


def test_stable_token_normal_mode_returns_the_same_token_with_remaining_lifetime(http):
    first = stable(http)
    advance(http, 1000)
    second = stable(http)
    assert second["access_token"] == first["access_token"]
    assert second["expires_in"] == 7200 - 1000
    assert errcode(stable(http, appid="wx_unknown")) == 40013
    assert errcode(stable(http, secret="bad")) == 40125


def test_stable_token_is_renewed_in_its_last_five_minutes_and_isolated_from_token(http):
    control(http, "interactions", openid=OPENID)
    first = stable(http)["access_token"]
    token(http)  # a /cgi-bin/token fetch must not touch the stable token
    advance(http, 7200 - 299)
    renewed = stable(http)["access_token"]
    assert renewed != first
    assert errcode(custom_text(http, first)) == 0  # the old one runs out its own lifetime
    assert errcode(custom_text(http, renewed)) == 0


def test_force_refresh_revokes_the_previous_token_and_needs_30_seconds_between_calls(http):
    control(http, "interactions", openid=OPENID)
    first = stable(http)["access_token"]
    second = stable(http, force_refresh=True)["access_token"]
    assert second != first
    assert errcode(custom_text(http, first)) == 40001
    assert errcode(stable(http, force_refresh=True)) == 45011
    advance(http, 30)
    assert "access_token" in stable(http, force_refresh=True)


def test_force_refresh_is_limited_to_20_a_day(http):
    for _ in range(20):
        assert "access_token" in stable(http, force_refresh=True)
        advance(http, 31)
    assert errcode(stable(http, force_refresh=True)) == 45011
    advance(http, 24 * HOUR)
    assert "access_token" in stable(http, force_refresh=True)


# -- customer-service messages ------------------------------------------------------------------
def test_custom_message_needs_a_user_message_within_48_hours(http):
    access_token = token(http)
    control(http, "users", openid=OPENID)
    assert errcode(custom_text(http, access_token)) == 45015  # never wrote to the account
    control(http, "interactions", openid=OPENID)
    advance(http, 47 * HOUR)
    control(http, "tokens/revoke")
    access_token = token(http)
    assert errcode(custom_text(http, access_token)) == 0
    advance(http, 1 * HOUR + 1)
    access_token = token(http)
    assert errcode(custom_text(http, access_token)) == 45015


def test_interaction_time_can_be_set_in_the_past(http, clock):
    access_token = token(http)
    control(http, "interactions", openid=OPENID, at=clock.now() - 49 * HOUR)
    assert errcode(custom_text(http, access_token)) == 45015
    control(http, "interactions", openid=OPENID, at=clock.now() - 47 * HOUR)
    assert errcode(custom_text(http, access_token)) == 0


def test_at_most_five_custom_messages_per_window_then_45047_until_the_user_writes_again(http):
    access_token = token(http)
    control(http, "interactions", openid=OPENID)
    for _ in range(5):
        assert errcode(custom_text(http, access_token)) == 0
    assert errcode(custom_text(http, access_token)) == 45047
    control(http, "interactions", openid=OPENID)
    assert errcode(custom_text(http, access_token)) == 0
    assert len(messages(http)) == 6


def test_custom_message_to_someone_who_unfollowed_is_45015(http):
    access_token = token(http)
    control(http, "interactions", openid=OPENID)
    control(http, "users", openid=OPENID, following=False)
    assert errcode(custom_text(http, access_token)) == 45015


@pytest.mark.parametrize("payload, expected", [
    ({"touser": "o-unknown", "msgtype": "text", "text": {"content": "hi"}}, 40003),
    ({"touser": OPENID, "msgtype": "telegram", "telegram": {}}, 40008),
    ({"touser": OPENID, "msgtype": "text"}, 40008),
    ({"touser": OPENID, "msgtype": "text", "text": {"content": ""}}, 44004),
    ({"touser": OPENID, "msgtype": "text", "text": {"content": "审" * 683}}, 45002),  # 2049 bytes
    (b"", 44002),
    (b"{not json", 47001),
])
def test_custom_message_validation(http, payload, expected):
    access_token = token(http)
    control(http, "interactions", openid=OPENID)
    assert errcode(call(http, "/cgi-bin/message/custom/send", access_token, payload)) == expected
    assert messages(http) == []


def test_custom_text_of_exactly_2048_bytes_is_accepted(http):
    access_token = token(http)
    control(http, "interactions", openid=OPENID)
    assert errcode(custom_text(http, access_token, "a" * 2048)) == 0


# -- template messages --------------------------------------------------------------------------
@pytest.fixture()
def with_template(http):
    control(http, "users", openid=OPENID)
    control(http, "templates", template_id=TEMPLATE, fields=["keyword1", "keyword2"])
    return token(http)


def test_template_message_is_sent_without_a_48_hour_window(http, with_template):
    body = template(http, with_template)
    assert errcode(body) == 0 and body["msgid"]
    [sent] = messages(http)
    assert sent["kind"] == "template" and sent["template_id"] == TEMPLATE


def test_unregistered_template_is_40037(http, with_template):
    assert errcode(template(http, with_template, template_id="tpl-unknown")) == 40037


@pytest.mark.parametrize("data, expected", [
    ({"keyword1": {"value": "施工许可"}}, 47003),  # keyword2 missing
    ({"keyword1": {"value": "施工许可"}, "keyword2": {"value": " "}}, 47003),
    ({"keyword1": "施工许可", "keyword2": "已受理"}, 47001),  # values must be {"value": ...}
    (["施工许可"], 47001),
])
def test_template_data_must_fill_the_registered_fields(http, with_template, data, expected):
    assert errcode(template(http, with_template, data=data)) == expected


def test_template_to_a_user_who_does_not_follow_is_43004(http, with_template):
    control(http, "users", openid=OPENID, following=False)
    assert errcode(template(http, with_template)) == 43004


def test_template_unknown_openid_is_40003(http, with_template):
    assert errcode(template(http, with_template, openid="o-unknown")) == 40003


def test_account_daily_template_quota_gives_45009_until_the_next_beijing_day(http, with_template):
    control(http, "quotas", template_daily=2)
    assert errcode(template(http, with_template)) == 0
    assert errcode(template(http, with_template)) == 0
    assert errcode(template(http, with_template)) == 45009
    advance(http, 24 * HOUR)
    assert errcode(template(http, token(http))) == 0


def test_per_template_daily_quota(http, with_template):
    control(http, "templates", template_id="tpl-other", fields=[])
    control(http, "quotas", per_template={TEMPLATE: 1})
    assert errcode(template(http, with_template)) == 0
    assert errcode(template(http, with_template)) == 45009
    assert errcode(template(http, with_template, template_id="tpl-other", data={})) == 0


def test_default_template_quota_is_100000(http):
    assert control(http, "quotas")["template_daily"] == 100_000


def test_client_msg_id_sends_once_within_ten_minutes(http, with_template):
    first = template(http, with_template, client_msg_id="notice-42")
    again = template(http, with_template, client_msg_id="notice-42")
    assert errcode(again) == 0 and again["msgid"] == first["msgid"]
    [sent] = messages(http)
    assert sent["client_msg_id"] == "notice-42"
    advance(http, 601)
    later = template(http, token(http), client_msg_id="notice-42")
    assert later["msgid"] != first["msgid"]
    assert len(messages(http)) == 2


# -- subscribe messages (bizsend) ---------------------------------------------------------------
GOOD_SUBSCRIBE_DATA = {
    "thing1": {"value": "建设工程规划许可证"},
    "character_string2": {"value": "BB-2024-000123"},
    "phrase3": {"value": "已受理"},
    "time4": {"value": "2024年5月1日 15:01"},
    "date5": {"value": "2024-05-01"},
}


@pytest.fixture()
def with_subscribe_template(http):
    control(http, "users", openid=OPENID)
    control(http, "subscribe_templates", template_id=SUBSCRIBE, fields=list(GOOD_SUBSCRIBE_DATA))
    return token(http)


def test_subscribe_message_needs_the_users_acceptance_43101(http, with_subscribe_template):
    assert errcode(subscribe(http, with_subscribe_template, GOOD_SUBSCRIBE_DATA)) == 43101
    control(http, "subscriptions", openid=OPENID, template_id=SUBSCRIBE, count=1)
    assert errcode(subscribe(http, with_subscribe_template, GOOD_SUBSCRIBE_DATA)) == 0
    # one acceptance, one message
    assert errcode(subscribe(http, with_subscribe_template, GOOD_SUBSCRIBE_DATA)) == 43101


def test_long_term_subscription_is_not_used_up(http, with_subscribe_template):
    control(http, "subscriptions", openid=OPENID, template_id=SUBSCRIBE, long_term=True, count=0)
    for _ in range(3):
        assert errcode(subscribe(http, with_subscribe_template, GOOD_SUBSCRIBE_DATA)) == 0


def test_unregistered_subscribe_template_is_40037(http, with_subscribe_template):
    body = subscribe(http, with_subscribe_template, GOOD_SUBSCRIBE_DATA, template_id="sub-x")
    assert errcode(body) == 40037


@pytest.mark.parametrize("key, value", [
    ("thing1", "一" * 21),  # thing: at most 20 characters
    ("thing1", ""),
    ("character_string2", "A" * 33),  # character_string: at most 32
    ("character_string2", "编号123"),  # letters, digits and symbols only
    ("phrase3", "正在审核中了"),  # phrase: at most 5 Chinese characters
    ("phrase3", "ok"),
    ("time4", "明天下午"),
    ("time4", "25:00"),
    ("date5", "May 1st"),
    ("date5", None),  # field left out
])
def test_subscribe_field_rules_give_47003(http, with_subscribe_template, key, value):
    control(http, "subscriptions", openid=OPENID, template_id=SUBSCRIBE, long_term=True)
    data = dict(GOOD_SUBSCRIBE_DATA)
    if value is None:
        del data[key]
    else:
        data[key] = {"value": value}
    body = subscribe(http, with_subscribe_template, data)
    assert errcode(body) == 47003
    assert key in body["errmsg"]


@pytest.mark.parametrize("key, value", [
    ("thing1", "一" * 20),
    ("character_string2", "A" * 32),
    ("phrase3", "审核通过了"),
    ("time4", "15:01"),
    ("time4", "2024-05-01 09:00~2024-05-01 17:30"),
    ("date5", "2024年5月1日"),
    ("date5", "2024年5月1日 15:01"),
])
def test_subscribe_field_values_at_the_limits_are_accepted(http, with_subscribe_template, key, value):
    control(http, "subscriptions", openid=OPENID, template_id=SUBSCRIBE, long_term=True)
    data = {**GOOD_SUBSCRIBE_DATA, key: {"value": value}}
    assert errcode(subscribe(http, with_subscribe_template, data)) == 0


# -- faults, listing, reset ---------------------------------------------------------------------
def test_busy_fault_answers_minus_one_for_the_next_n_calls_on_that_path_only(http):
    access_token = token(http)
    control(http, "interactions", openid=OPENID)
    control(http, "faults", path="/cgi-bin/message/custom/send", kind="busy", count=2)
    assert errcode(custom_text(http, access_token)) == -1
    assert errcode(fetch_token(http)) == 0  # other paths are unaffected
    assert errcode(custom_text(http, token(http))) == -1
    assert errcode(custom_text(http, token(http))) == 0
    assert len(messages(http)) == 1


def test_http500_and_errcode_faults(http):
    control(http, "faults", path="/cgi-bin/token", kind="http500")
    control(http, "faults", path="/cgi-bin/token", kind="errcode", errcode=45009)
    first = http.get("/cgi-bin/token")
    assert first.status_code == 500
    assert errcode(fetch_token(http)) == 45009
    assert "access_token" in fetch_token(http)
    assert http.get("/_emulator/faults").get_json() == []


def test_delay_fault_still_answers_normally(http):
    control(http, "faults", path="*", kind="delay", delay_seconds=0.01)
    assert "access_token" in fetch_token(http)
    assert http.get("/_emulator/faults").get_json() == []


def test_unknown_fault_kind_is_refused(http):
    res = http.post("/_emulator/faults", json={"path": "/cgi-bin/token", "kind": "meteor"})
    assert res.status_code == 400


def test_reset_forgets_everything(http):
    control(http, "interactions", openid=OPENID)
    custom_text(http, token(http))
    advance(http, 10)
    control(http, "reset")
    assert messages(http) == []
    assert stats(http)["token_fetches"] == 0
    assert stats(http)["now"] == T0


def test_injected_clock_callable_is_used(clock):
    ticks = iter([100.0, 200.0])
    http = create_app(clock=lambda: next(ticks)).test_client()
    assert http.get("/_emulator/clock").get_json()["now"] == 100.0


def test_serve_runs_the_emulator_on_a_free_port():
    with serve() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        res = requests.get(f"{base_url}/cgi-bin/token", params={
            "grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET},
            timeout=5)
        assert res.json()["expires_in"] == 7200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base_url}/_emulator/stats", timeout=1)
