"""Property-based fuzzing of the WeChat callback: whatever arrives, the answer is a proper status
(200 with a reply or `success`, 400, 403, 413) and never a server error; an unsigned or badly
signed request never changes anything. The suite runs FUZZ_EXAMPLES (default 3,000) generated
messages; FUZZ_EXAMPLES=10000 for a deeper run, and bench/webhook_fuzz.py runs 100,000."""
from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import WechatUser
from bot.platform.config import Settings
from bot.platform.kv import MemoryKV
from dialogs import build_manager
from knowledge import Retriever, Thresholds, load
from webhook import create_app
from webhook.simulator import WeChatServer, event_xml, text_xml

TOKEN = "fuzz-token"
# Bounded for the suite's 6 minutes: an example costs ~3.5 ms (half of it Hypothesis drawing it),
# so 10,000 took 36 s. The examples are fixed (derandomize), and 3,000 of them reach everything
# 10,000 did: every one of the sample texts, every body kind with every signing and encoding
# (each such combination at least 5 times), over 1,000 text messages (half of them signed well,
# so answered by the dialogs). FUZZ_EXAMPLES raises it (10,000 was the old default).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3000"))
FIXTURE_KB = Path(__file__).with_name("kb_fixture")
OK_STATUSES = {200, 400, 403, 413}

texts = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=400),
    st.sampled_from(["施工许可证要什么材料", "申请代办", "取消", "1", "更多", "转人工", "催一下", "我的申请怎么样了",
                     "修改联系人", "受理 BD-2026-000001", "]]>", "<![CDATA[", "&amp;", "\x00", "\ufffe", "😀" * 50]),
    st.builds(lambda s, n: s * n, st.sampled_from(["长", "a", "施工", "\u3000"]), st.integers(1, 3000)),
)
msg_types = st.sampled_from(["text", "image", "voice", "video", "location", "link", "event", "file", "", "TEXT"])
events = st.sampled_from(["subscribe", "unsubscribe", "CLICK", "VIEW", "SCAN", "", "LOCATION"])


@st.composite
def bodies(draw):
    kind = draw(st.sampled_from(["text", "event", "typed", "raw", "truncated", "entity"]))
    user = draw(st.sampled_from(["oFuzzA", "oFuzzB", "", "o" * 200, "<x>"]))
    if kind == "text":
        return text_xml(user, draw(texts), msg_id=draw(st.integers(0, 2**63)))
    if kind == "event":
        return event_xml(user, draw(events), create_time=draw(st.integers(0, 2**31)))
    if kind == "typed":
        return text_xml(user, draw(texts)).replace("<![CDATA[text]]>", f"<![CDATA[{draw(msg_types)}]]>", 1)
    if kind == "truncated":
        xml = text_xml(user, draw(texts))
        return xml[: draw(st.integers(0, len(xml)))]
    if kind == "entity":
        return '<!DOCTYPE x [<!ENTITY a "' + "A" * 50 + '">]><xml><Content>&a;&a;&a;</Content></xml>'
    return draw(st.text(max_size=300))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite3"
    settings_ = Settings(wechat_token=TOKEN, database_url=f"sqlite:///{db}")
    kb = load(FIXTURE_KB)
    manager = build_manager(settings_, kb=kb, kv=MemoryKV(), retriever=Retriever(kb, thresholds=Thresholds()))
    return create_app(settings_, manager=manager)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(body=bodies(), signed=st.sampled_from(["good", "good", "good", "bad", "none", "stale"]),
       encoding=st.sampled_from(["utf-8", "utf-8", "gbk", "utf-16", "latin-1"]))
def test_any_callback_gets_a_proper_answer(app, body, signed, encoding):
    wx = WeChatServer(TOKEN)
    cb = wx.callback("", timestamp=int(time.time()) - (3600 if signed == "stale" else 0))
    query = cb.query
    if signed == "bad":
        query = query.replace("signature=", "signature=0")
    elif signed == "none":
        query = "&".join(p for p in query.split("&") if not p.startswith("signature="))
    data = body.encode(encoding, errors="replace")
    before = _users(app) if signed != "good" else None
    r = app.test_client().post("/wechat?" + query, data=data, content_type="text/xml")
    assert r.status_code in OK_STATUSES, (r.status_code, body[:200])
    if signed != "good":
        assert r.status_code == 403
        assert _users(app) == before
    elif r.status_code == 200:
        out = r.get_data(as_text=True)
        assert out == "success" or (out.startswith("<xml>") and "<Content>" in out)


def _users(app) -> int:
    # A plain read on a connection of its own: through the app's sessions every count began a
    # write transaction (bot.platform.db takes SQLite's lock up front), ~40 % of an unsigned example's time.
    path = app.extensions["bangban_dialogs"].sessions.kw["bind"].url.database
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute(f"select count(*) from {WechatUser.__tablename__}").fetchone()[0]
