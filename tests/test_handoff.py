"""转人工 end to end: the bot hands an unanswered question to the region's people, a person
answers in the console, and the answer goes back to the user through the outbox."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import CAL, PERMIT

from bot.casework import cases
from bot.models import Handoff, Notification, Staff, WechatUser
from bot.people import staff as staff_module
from bot.platform.clock import now
from bot.platform.config import Settings
from bot.platform.db import transaction, upgrade
from bot.platform.kv import MemoryKV
from dialogs import build_manager, texts
from webhook import create_app

PASSWORD = "correct-horse-9"


pytestmark = pytest.mark.usefixtures("fast_password_hashes")

@pytest.fixture()
def app(database_url, kb, retriever):
    upgrade(database_url)
    settings = Settings(database_url=database_url)
    manager = build_manager(settings, kb=kb, kv=MemoryKV(), retriever=retriever)
    with transaction(manager.sessions) as db:
        staff_module.seed_demo_roster(db, password=PASSWORD)
    return create_app(settings, manager=manager)


def chat(app, user, text):
    return app.extensions["bangban_dialogs"].handle_text(user, text)


def pushes(app, **where):
    with app.extensions["bangban_dialogs"].sessions() as s:
        stmt = sa.select(Notification).order_by(Notification.id)
        for k, v in where.items():
            stmt = stmt.where(getattr(Notification, k) == v)
        return s.scalars(stmt).all()


def signed_in(app, username):
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/console/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": token}).status_code == 303
    return client


def test_unanswered_question_goes_to_a_person_and_the_answer_comes_back(app):
    chat(app, "oAsk", "我们项目在东湖")  # nothing the KB knows
    unsure = chat(app, "oAsk", "东湖这边的地下管线迁改找谁审批呢")
    assert unsure.reply == texts.UNSURE
    handed = chat(app, "oAsk", "转人工")
    # The user told the region: it is not asked, and 东湖's people get the question.
    assert "编号 H" in handed.reply and "武汉东湖新技术开发区的帮代办专员" in handed.reply
    assert "「东湖这边的地下管线迁改找谁审批呢」" in handed.reply
    with app.extensions["bangban_dialogs"].sessions() as s:
        h = s.scalars(sa.select(Handoff)).one()
    assert h.question == "东湖这边的地下管线迁改找谁审批呢" and h.state == "open" and h.region == "donghu"
    alerts = pushes(app, purpose="handoff")
    assert [a.recipient_openid for a in alerts] == ["oStaff_donghu_lead"]
    assert f"H{h.id}" in alerts[0].text and "地下管线迁改" in alerts[0].text

    lead = signed_in(app, "donghu-lead")
    inbox = lead.get("/console/handoffs").get_data(as_text=True)
    assert "地下管线迁改" in inbox
    token = re.search(r'name="csrf_token" value="([^"]+)"', inbox).group(1)
    r = lead.post(f"/console/handoffs/{h.id}/answer", data={"answer": "请联系区住建局管线科，我们也会协助。",
                                                           "csrf_token": token}, follow_redirects=True)
    assert f"已答复 H{h.id}" in r.get_data(as_text=True)
    [answer] = pushes(app, recipient_openid="oAsk")
    assert answer.purpose == "handoff_answer" and "管线科" in answer.text and "地下管线迁改" in answer.text
    again = lead.post(f"/console/handoffs/{h.id}/answer", data={"answer": "再答一次", "csrf_token": token},
                      follow_redirects=True)
    assert "已经答复过了" in again.get_data(as_text=True)
    assert len(pushes(app, recipient_openid="oAsk")) == 1


def test_human_without_a_question_asks_for_it_first(app):
    assert chat(app, "oAsk2", "转人工").reply == texts.HANDOFF_ASK
    # Then, since nobody knows where the project is, its region.
    assert chat(app, "oAsk2", "用地红线调整需要走什么程序").reply.startswith(texts.HANDOFF_WHICH_REGION)
    assert "编号 H" in chat(app, "oAsk2", "1").reply


def test_question_in_the_same_message_and_one_open_handoff_per_user(app):
    assert chat(app, "oAsk3", "转人工：厂区道路开口要去哪个部门办").reply.startswith(texts.HANDOFF_WHICH_REGION)
    first = chat(app, "oAsk3", "5")
    second = chat(app, "oAsk3", "人工客服，另外还想问围墙高度限制")
    number = re.search(r"H(\d+)", first.reply).group(1)
    assert f"H{number}" in second.reply
    with app.extensions["bangban_dialogs"].sessions() as s:
        [h] = s.scalars(sa.select(Handoff)).all()
    assert "道路开口" in h.question and "围墙高度" in h.question


def test_region_staff_see_only_their_region(app):
    with app.extensions["bangban_dialogs"].sessions.begin() as s:
        from bot.models import WechatUser
        s.add(WechatUser(openid="oJB", region="jiangbei"))
    chat(app, "oJB", "转人工：江北的临时占道怎么审批")
    assert "临时占道" not in signed_in(app, "donghu-lead").get("/console/handoffs").get_data(as_text=True)
    assert "临时占道" in signed_in(app, "jiangbei-1").get("/console/handoffs").get_data(as_text=True)
    with app.extensions["bangban_dialogs"].sessions() as s:
        h = s.scalars(sa.select(Handoff)).one()
    lead = signed_in(app, "donghu-lead")
    token = re.search(r'name="csrf_token" value="([^"]+)"', lead.get("/console/handoffs").get_data(as_text=True)).group(1)
    assert lead.post(f"/console/handoffs/{h.id}/answer", data={"answer": "x", "csrf_token": token}).status_code == 404


# -- routing: a case decides, else the region the user told (asked for when nobody knows) ----


def new_case(app, openid, region, commissioner, state=None, days_ago=0,
             company="武汉光谷示例科技有限公司", project="光谷示例研发楼") -> str:
    """A submitted case as the chat makes it, pinned to `commissioner` (username)."""
    with transaction(app.extensions["bangban_dialogs"].sessions) as db:
        case = cases.submit(db, cases.Application(
            mode="帮办", applicant_openid=openid, company_name=company, credit_code="91350100M000100Y43",
            project_name=project, region=region, investment_type="社会投资", stage="3", contact_name="陈经理",
            contact_phone="13800000000", items=(PERMIT,)), CAL)
        case.commissioner_id = db.scalar(sa.select(Staff.id).where(Staff.username == commissioner))
        case.state = state or case.state
        case.created_at = now() - timedelta(days=days_ago)
        return case.number


def handoffs_of(app, openid):
    with app.extensions["bangban_dialogs"].sessions() as s:
        return s.scalars(sa.select(Handoff).where(Handoff.openid == openid).order_by(Handoff.id)).all()


def staff_id(app, username):
    with app.extensions["bangban_dialogs"].sessions() as s:
        return s.scalar(sa.select(Staff.id).where(Staff.username == username))


def inbox(app, username):
    return signed_in(app, username).get("/console/handoffs").get_data(as_text=True)


def test_a_user_with_a_case_reaches_its_commissioner_with_company_and_case_on_the_card(app):
    number = new_case(app, "oCase", "donghu", "donghu-2", company="光谷芯材科技有限公司")
    with app.extensions["bangban_dialogs"].sessions.begin() as s:
        s.add(WechatUser(openid="oCase", region="jiangbei"))  # the case, not the profile, decides
    chat(app, "oCase", "我们厂区外的绿化带施工期间能临时占用吗")
    handed = chat(app, "oCase", "转人工")  # the last thing asked goes with it
    assert f"负责{number}的帮代办专员龚志勇" in handed.reply and "编号 H" in handed.reply
    [h] = handoffs_of(app, "oCase")
    assert (h.region, h.commissioner_id, h.question) == ("donghu", staff_id(app, "donghu-2"),
                                                          "我们厂区外的绿化带施工期间能临时占用吗")
    alerts = pushes(app, purpose="handoff")
    assert sorted(a.recipient_openid for a in alerts) == ["oStaff_donghu_2", "oStaff_donghu_lead"]
    for a in alerts:
        assert "光谷芯材科技有限公司" in a.text and number in a.text and "绿化带" in a.text
        assert a.url.endswith(f"/console/handoffs#h{h.id}") and a.case_id is not None

    own = signed_in(app, "donghu-2")
    page = own.get("/console/handoffs").get_data(as_text=True)
    card = page[page.index(f'id="h{h.id}"'):]
    assert "光谷芯材科技有限公司" in card and f'href="/console/cases/{number}"' in card and "绿化带" in card
    assert "地区未知" not in page and own.get(f"/console/cases/{number}").status_code == 200
    assert "绿化带" in inbox(app, "donghu-lead")  # the region's supervisors see it
    assert "绿化带" not in inbox(app, "donghu-1")  # another commissioner's case is not theirs
    assert "绿化带" not in inbox(app, "jiangbei-lead")
    other = signed_in(app, "donghu-1")
    token = re.search(r'name="csrf_token" value="([^"]+)"', other.get("/console/handoffs").get_data(as_text=True)).group(1)
    assert other.post(f"/console/handoffs/{h.id}/answer", data={"answer": "x", "csrf_token": token}).status_code == 404
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    own.post(f"/console/handoffs/{h.id}/answer", data={"answer": "施工期间可以申请临时占用绿地，我来协助办理。",
                                                      "csrf_token": token})
    [answer] = pushes(app, recipient_openid="oCase", purpose="handoff_answer")
    assert "龚志勇" in answer.text and "临时占用绿地" in answer.text


def test_a_case_whose_commissioner_left_goes_to_the_regions_people(app):
    number = new_case(app, "oLeft", "county_city", "county_city-1")
    with app.extensions["bangban_dialogs"].sessions.begin() as s:
        s.scalar(sa.select(Staff).where(Staff.username == "county_city-1")).active = False
    handed = chat(app, "oLeft", "转人工：验收资料交了没人回")
    assert "青禾市（示例）的帮代办专员" in handed.reply
    [h] = handoffs_of(app, "oLeft")
    assert (h.region, h.commissioner_id) == ("county_city", None) and h.case_id is not None
    assert [a.recipient_openid for a in pushes(app, purpose="handoff")] == ["oStaff_county_city_lead"]
    page = inbox(app, "county_city-2")  # unclaimed by any commissioner: the region's see it
    assert "验收资料" in page and number in page


def test_the_open_case_decides_else_the_latest_one(app):
    open_one = new_case(app, "oTwo", "yueyang", "yueyang-1", days_ago=30)
    new_case(app, "oTwo", "donghu", "donghu-1", state="archived")  # newer, but closed
    assert open_one in chat(app, "oTwo", "转人工：施工图审查意见什么时候能出来").reply
    [h] = handoffs_of(app, "oTwo")
    assert (h.region, h.commissioner_id) == ("yueyang", staff_id(app, "yueyang-1"))

    closed = new_case(app, "oDone", "jiangbei", "jiangbei-2", state="delivered")
    handed = chat(app, "oDone", "转人工：送达的证照少了一页怎么办")
    assert f"负责{closed}的帮代办专员何俊峰" in handed.reply  # not asked for a region
    [h] = handoffs_of(app, "oDone")
    assert (h.region, h.commissioner_id) == ("jiangbei", staff_id(app, "jiangbei-2"))


def test_a_user_nobody_knows_is_asked_the_region_first_and_only_once(app):
    asked = chat(app, "oNew", "转人工：厂区道路开口要去哪个部门办")
    assert asked.reply.startswith(texts.HANDOFF_WHICH_REGION) and "3. 岳阳市" in asked.reply
    assert texts.HANDOFF_REGION_TAIL in asked.reply
    for bad in ("9", "哈哈哈"):  # no region: asked again, nothing opened
        assert chat(app, "oNew", bad).reply.startswith(texts.HANDOFF_REGION_AGAIN)
    assert handoffs_of(app, "oNew") == [] and pushes(app, purpose="handoff") == []
    done = chat(app, "oNew", "3")
    assert "岳阳市的帮代办专员" in done.reply and "「厂区道路开口要去哪个部门办」" in done.reply
    [h] = handoffs_of(app, "oNew")
    assert (h.region, h.case_id, h.commissioner_id) == ("yueyang", None, None)
    assert [a.recipient_openid for a in pushes(app, purpose="handoff")] == ["oStaff_yueyang_lead"]
    page = inbox(app, "yueyang-1")  # no commissioner yet: the region's commissioners see it too
    assert "道路开口" in page and "该用户还没有提交过帮代办申请" in page and "地区未知" not in page

    lead = signed_in(app, "yueyang-lead")
    token = re.search(r'name="csrf_token" value="([^"]+)"', lead.get("/console/handoffs").get_data(as_text=True)).group(1)
    lead.post(f"/console/handoffs/{h.id}/answer", data={"answer": "请到市政务服务中心交通窗口办理。", "csrf_token": token})
    later = chat(app, "oNew", "转人工：围墙高度有没有限制")  # told once: not asked again
    assert "岳阳市的帮代办专员" in later.reply
    assert [x.region for x in handoffs_of(app, "oNew")] == ["yueyang", "yueyang"]
    with app.extensions["bangban_dialogs"].sessions() as s:
        assert s.get(WechatUser, "oNew").region == "yueyang"


@pytest.mark.parametrize("replies, region", [
    (["东湖高薪区"], "donghu"),                # one slip in a long name: that name
    (["我们项目在延金那边"], "yanjin"),        # a known slip, with words around it
    (["冬湖", "是"], "donghu"),                # one slip in two characters: confirmed first
    (["武汉", "是的"], "donghu"),              # the city one region lies in
    (["江南", "不是", "其他"], None),          # a guess declined, then none of ours
])
def test_region_by_name_with_slips(app, replies, region):
    chat(app, "oSlip", "转人工：临时用电报装要多久")
    for reply in replies[:-1]:
        turn = chat(app, "oSlip", reply)
        assert handoffs_of(app, "oSlip") == [] and "编号 H" not in turn.reply
    if replies[0] in ("冬湖", "武汉"):
        assert turn.reply.startswith(texts.HANDOFF_REGION_GUESS.format(region="武汉东湖新技术开发区"))
    done = chat(app, "oSlip", replies[-1])
    [h] = handoffs_of(app, "oSlip")
    assert h.region == region and "编号 H" in done.reply
    alerted = {a.recipient_openid for a in pushes(app, purpose="handoff")}
    if region is None:  # none of ours: every supervisor may take it, and the card says so
        assert "帮代办主管" in done.reply and len(alerted) == 5
        assert "未指明地区" in inbox(app, "donghu-lead")
    else:
        assert alerted == {f"oStaff_{region}_lead"}


def test_a_place_none_of_ours_goes_to_the_supervisors_saying_where(app):
    chat(app, "oFar", "转人工：项目能不能申请代办")
    chat(app, "oFar", "长沙")
    [h] = handoffs_of(app, "oFar")
    assert h.region is None and h.question == "（项目在长沙）项目能不能申请代办"


def test_region_named_while_consulting_is_not_asked_again(app):
    chat(app, "oTold", "我们是延津的企业")
    handed = chat(app, "oTold", "转人工：标准厂房的消防验收找谁")
    assert "延津县的帮代办专员" in handed.reply
    assert handoffs_of(app, "oTold")[0].region == "yanjin"


def test_the_last_question_answered_or_not_goes_with_a_bare_human(app):
    answered = chat(app, "oLast", "代办要收费吗")
    assert answered.intent == "consult" and "来源" in answered.reply
    assert chat(app, "oLast", "转人工").reply.startswith(texts.HANDOFF_WHICH_REGION)  # not 「请把问题发给我」
    chat(app, "oLast", "5")
    assert handoffs_of(app, "oLast")[0].question == "代办要收费吗"


def test_cancel_at_the_region_question_opens_nothing(app):
    chat(app, "oCancel", "转人工：能不能先开工后补手续")
    assert chat(app, "oCancel", "取消").reply == texts.HANDOFF_REGION_CANCELLED
    assert handoffs_of(app, "oCancel") == []
    assert chat(app, "oCancel", "代办要收费吗").intent == "consult"


def test_human_inside_the_form_asks_the_region_then_resumes_the_form(app):
    started = chat(app, "oForm", "申请帮办")
    assert "项目在哪个地区" in started.reply
    asked = chat(app, "oForm", "转人工：委托协议要盖什么章")
    assert asked.reply.startswith(texts.HANDOFF_WHICH_REGION) and texts.FORM_RESUME not in asked.reply
    done = chat(app, "oForm", "2")
    assert "延津县的帮代办专员" in done.reply and texts.FORM_RESUME in done.reply
    assert "项目在哪个地区" in done.reply.split(texts.FORM_RESUME)[-1]
    assert handoffs_of(app, "oForm")[0].region == "yanjin"
    # the form goes on where it was: 延津 asks its 服务选项 next (issue 17), then the company
    assert "24小时帮办代办" in chat(app, "oForm", "2").reply
    assert "全称" in chat(app, "oForm", "3").reply


# -- the case's 服务记录台账 -------------------------------------------------------------------

def ledger_lines(app, number):
    with app.extensions["bangban_dialogs"].sessions() as s:
        case = cases.by_number(s, number)
        return [(e.action, e.actor_kind, e.actor_id, e.detail) for e in cases.ledger_of(s, case)]


def answer_in_console(client, handoff_id, text):
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/handoffs").get_data(as_text=True))[1]
    r = client.post(f"/console/handoffs/{handoff_id}/answer", data={"answer": text, "csrf_token": token},
                    follow_redirects=True)
    return re.findall(r'<p class="flash flash-(\w+)"[^>]*>([^<]+)</p>', r.get_data(as_text=True))


def test_a_handoff_about_a_case_is_on_its_ledger_page_and_export(app):
    from io import BytesIO

    from openpyxl import load_workbook

    number = new_case(app, "oLedger", "donghu", "donghu-2", company="光谷芯材科技有限公司")
    chat(app, "oLedger", "转人工：绿化带施工期间能临时占用吗")
    chat(app, "oLedger", "转人工：还有围墙高度有没有限制")  # joins the open one, and its line says so
    [h] = handoffs_of(app, "oLedger")
    own = signed_in(app, "donghu-2")
    answer_in_console(own, h.id, "可以申请临时占用绿地，我来协助办理。")

    lines = [line for line in ledger_lines(app, number) if line[0].startswith("handoff")]
    assert lines == [
        ("handoff", "enterprise", "oLedger", f"企业转人工（H{h.id}），由专员 龚志勇 答复：绿化带施工期间能临时占用吗"),
        ("handoff", "enterprise", "oLedger", f"企业补充转人工问题（H{h.id}）：还有围墙高度有没有限制"),
        ("handoff_answered", "commissioner", "donghu-2", f"答复转人工（H{h.id}）：可以申请临时占用绿地，我来协助办理。"),
    ]
    page = own.get(f"/console/cases/{number}").get_data(as_text=True)
    ledger = page[page.index('id="ledger"'):page.index("</ol>", page.index('id="ledger"'))]
    assert f"企业转人工（H{h.id}），由专员 龚志勇 答复：绿化带施工期间能临时占用吗" in ledger
    assert re.search(rf'<span class="actor">专员 龚志勇</span>\s*<span class="detail">答复转人工（H{h.id}）：可以申请', ledger)
    # The answer's push is the case's too: on the page's pushes, by its Chinese name.
    assert "专员答复" in page[page.index('id="pushes"'):]

    wb = load_workbook(BytesIO(signed_in(app, "donghu-lead").get("/console/export/ledger.xlsx").data))
    rows = [r for r in wb["服务记录台账"].iter_rows(values_only=True) if r[1] == number]
    handed = [(r[5], r[6], r[7], r[8]) for r in rows if "转人工" in (r[8] or "")]
    assert handed == [
        ("企业", None, "转人工", f"企业转人工（H{h.id}），由专员 龚志勇 答复：绿化带施工期间能临时占用吗"),
        ("企业", None, "转人工", f"企业补充转人工问题（H{h.id}）：还有围墙高度有没有限制"),
        ("专员", "龚志勇", "人工答复", f"答复转人工（H{h.id}）：可以申请临时占用绿地，我来协助办理。"),
    ]


def test_a_handoff_without_a_case_or_commissioner_writes_what_it_can(app):
    chat(app, "oNobody", "我们是延津的企业")
    chat(app, "oNobody", "转人工：标准厂房的消防验收找谁")  # no case: no ledger to write
    with app.extensions["bangban_dialogs"].sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(cases.LedgerEntry)
                        .where(cases.LedgerEntry.action.like("handoff%"))) == 0
    number = new_case(app, "oLeft2", "county_city", "county_city-1")
    with app.extensions["bangban_dialogs"].sessions.begin() as s:
        s.scalar(sa.select(Staff).where(Staff.username == "county_city-1")).active = False
    chat(app, "oLeft2", "转人工：验收资料交了没人回")
    [h] = handoffs_of(app, "oLeft2")
    [line] = [x for x in ledger_lines(app, number) if x[0] == "handoff"]
    assert line[3] == f"企业转人工（H{h.id}），由本地区工作人员答复：验收资料交了没人回"
    answer_in_console(signed_in(app, "county_city-lead"), h.id, "资料已收到，明天给您回复。")
    assert ("handoff_answered", "supervisor", "county_city-lead",
            f"答复转人工（H{h.id}）：资料已收到，明天给您回复。") in ledger_lines(app, number)


def test_the_answer_is_said_to_reach_the_enterprise_only_when_it_can(app):
    from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET
    from bot.models import utcnow

    app.config["BANGBAN_SETTINGS"] = app.config["BANGBAN_SETTINGS"].with_(
        wechat_appid=DEFAULT_APPID, wechat_secret=DEFAULT_SECRET, wechat_api_base="http://127.0.0.1:9")
    lead = signed_in(app, "donghu-lead")
    for openid, subscribed, said in (("oHears", True, "答复将推送给企业。"),
                                     ("oGone", False, "企业已取消关注公众号，收不到微信通知，"
                                                      "请电话告知企业（陈经理、13800000000）。")):
        new_case(app, openid, "donghu", "donghu-1")
        chat(app, openid, "转人工：施工图审查意见什么时候能出来")
        with app.extensions["bangban_dialogs"].sessions.begin() as s:
            user = s.get(WechatUser, openid) or WechatUser(openid=openid)
            user.subscribed, user.last_message_at = subscribed, utcnow()
            s.add(user)
        [h] = handoffs_of(app, openid)
        assert answer_in_console(lead, h.id, "下周一前出具。") == [("success", f"已答复 H{h.id}。{said}")]
