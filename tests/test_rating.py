"""好差评 in chat, end to end: an enterprise whose case was delivered (or terminated) rates it
through the dialog manager (and once through the signed webhook); a bad rating opens a 整改 that
the region's supervisor works in the console (回访, then close); unrated cases get at most two
reminders. On the embedded SQLite and on PostgreSQL."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import CAL, PERMIT, STAFF_PASSWORD, fill_database

from bot.casework import case_actions, cases
from bot.models import Case, LedgerEntry, Notification, Rating, Rectification, Staff
from bot.platform import clock
from bot.platform.clock import today as china_today
from bot.platform.config import Settings
from bot.platform.db import transaction
from bot.platform.kv import MemoryKV
from bot.supervision import ratings
from dialogs import build_manager, texts
from dialogs.texts import rating as rating_texts
from webhook import create_app
from webhook.simulator import WeChatServer, reply_fields, text_xml

pytestmark = pytest.mark.usefixtures("fast_password_hashes")

PASSWORD = STAFF_PASSWORD  # the demo roster's in the template (conftest)
SUPERVISOR = "万海燕"  # donghu-lead in the demo roster


@pytest.fixture()
def world(database_url, kb, retriever):
    fill_database(database_url, "roster")  # migrated, with the demo roster (password PASSWORD)
    settings = Settings(wechat_token="rate-tok", database_url=database_url)
    manager = build_manager(settings, kb=kb, kv=MemoryKV(), retriever=retriever, calendar=CAL)
    return create_app(settings, manager=manager), manager


def finished_case(manager, openid, project="光谷示例研发楼", terminate=False) -> str:
    """A case worked to 送达 (or 终止) the way the console does it; the rating invitation is queued."""
    with transaction(manager.sessions) as db:
        case = cases.submit(db, cases.Application(
            mode="帮办", applicant_openid=openid, company_name="武汉光谷示例科技有限公司",
            credit_code="91350100M000100Y43", project_name=project, region="donghu",
            investment_type="社会投资", stage="3", contact_name="陈经理", contact_phone="13800000000",
            items=(PERMIT,)), CAL)
        db.flush()
        actor = case_actions.Actor.person(db.get(Staff, case.commissioner_id))
        if terminate:
            case_actions.terminate(db, case, "企业主动终止", actor)
        else:
            case_actions.accept(db, case, actor)
            [item] = cases.items_of(db, case)
            for to in ("submitted", "accepted", "done"):
                case_actions.move_item(db, case, item.id, to, actor)
            case_actions.complete(db, case, actor)
            case_actions.deliver(db, case, "上门", actor)
        return case.number


def say(manager, user, *messages):
    return [manager.handle_text(user, m).reply for m in messages]


def rating_of(manager, number):
    with manager.sessions() as s:
        case = s.scalar(sa.select(Case).where(Case.number == number))
        return case, s.scalar(sa.select(Rating).where(Rating.case_id == case.id))


def ledger_actions(manager, number):
    with manager.sessions() as s:
        case_id = s.scalar(sa.select(Case.id).where(Case.number == number))
        return [a for (a,) in s.execute(sa.select(LedgerEntry.action).where(LedgerEntry.case_id == case_id)
                                        .order_by(LedgerEntry.id))]


def age(manager, number, **delta):
    """Move the case's 送达 (and its invitation) into the past; the ledger is append-only."""
    back = timedelta(**delta)
    with transaction(manager.sessions) as db:
        case = db.scalar(sa.select(Case).where(Case.number == number))
        for n in db.scalars(sa.select(Notification).where(Notification.case_id == case.id)):
            n.created_at = clock.as_utc(n.created_at) - back
        case.closed_at = clock.as_utc(case.closed_at) - back
        case.created_at = clock.as_utc(case.created_at) - back


# -- the chat -----------------------------------------------------------------------------

def test_a_number_answers_the_invitation(world):
    _, manager = world
    number = finished_case(manager, "oRate1")
    first, _, comment = say(manager, "oRate1", "5", "跳过", "没有")
    assert f"{number} 评价「非常满意」" in first and "效率" in first and "跳过" in first
    assert comment.startswith(rating_texts.THANKS_GOOD)
    assert "前如需修改" in comment
    case, rating = rating_of(manager, number)
    assert (case.state, rating.level, rating.efficiency, rating.comment) == ("rated", 5, None, None)
    assert {"state:rated", "rated"} <= set(ledger_actions(manager, number))
    with manager.sessions() as s:  # a good rating opens nothing
        assert s.scalar(sa.select(sa.func.count(Rectification.id))) == 0


def test_a_word_rates_and_a_terminated_case_stays_terminated(world):
    _, manager = world
    number = finished_case(manager, "oRate2", terminate=True)
    ask, done = say(manager, "oRate2", "我要评价", "基本满意")
    assert number in ask
    assert all(line in ask for line in ("5 非常满意", "4 满意", "3 基本满意", "2 不满意", "1 非常不满意"))
    assert "「基本满意」" in done
    case, rating = rating_of(manager, number)
    assert (case.state, rating.level) == ("terminated", 3)


def test_one_message_gives_level_and_comment(world):
    _, manager = world
    number = finished_case(manager, "oRate3")
    first, last = say(manager, "oRate3", "5 很好", "效率5 态度4 廉洁5")
    assert "「非常满意」" in first
    assert last.startswith(rating_texts.THANKS_GOOD)  # the comment was given: no comment question
    _, rating = rating_of(manager, number)
    assert (rating.level, rating.comment) == (5, "很好")
    assert (rating.efficiency, rating.attitude, rating.integrity) == (5, 4, 5)


def test_level_dimensions_and_comment_all_in_one_message(world):
    _, manager = world
    number = finished_case(manager, "oRate3b")
    (reply,) = say(manager, "oRate3b", "非常满意 效率5 态度4 廉洁5 服务很好")
    assert "「非常满意」" in reply and reply.rstrip().endswith(rating_texts.THANKS_GOOD.rstrip()) or \
        rating_texts.THANKS_GOOD in reply
    assert rating_texts.ASK_DIMENSIONS not in reply and rating_texts.ASK_COMMENT not in reply
    _, rating = rating_of(manager, number)
    assert (rating.level, rating.efficiency, rating.attitude, rating.integrity) == (5, 5, 4, 5)
    assert rating.comment == "服务很好"  # not 「效率5 态度4 廉洁5 服务很好」


def test_a_comment_in_the_rating_message_is_stored_as_typed(world):
    """Full-width digits are read as scores, but the comment keeps the user's own 「，」 and 「！」."""
    _, manager = world
    bad = finished_case(manager, "oRateTyped")
    say(manager, "oRateTyped", "２，太慢了，材料来回跑了三趟！", "跳过")
    _, rating = rating_of(manager, bad)
    assert (rating.level, rating.comment) == (2, "太慢了，材料来回跑了三趟！")
    with manager.sessions() as s:
        details = [d for (d,) in s.execute(sa.select(LedgerEntry.detail).where(LedgerEntry.action == "rated"))]
        push = s.scalar(sa.select(Notification.text).where(Notification.purpose == "rectification"))
    assert details == ["企业评价：不满意；意见：太慢了，材料来回跑了三趟！"]
    assert "意见：太慢了，材料来回跑了三趟！" in push
    good = finished_case(manager, "oRateTyped2", project="光谷示例二期")
    say(manager, "oRateTyped2", "非常满意，效率５，态度5，廉洁5，专员（张工）很耐心，谢谢！")
    _, rating = rating_of(manager, good)
    assert (rating.efficiency, rating.attitude, rating.integrity) == (5, 5, 5)
    assert rating.comment == "专员（张工）很耐心，谢谢！"


def test_level_and_dimensions_in_one_message_then_the_comment(world):
    _, manager = world
    number = finished_case(manager, "oRate3c")
    first, last = say(manager, "oRate3c", "满意，效率4 态度5 廉洁5", "还可以再快一点")
    assert rating_texts.ASK_COMMENT in first
    _, rating = rating_of(manager, number)
    assert (rating.level, rating.efficiency, rating.attitude, rating.integrity, rating.comment) == \
        (4, 4, 5, 5, "还可以再快一点")


def test_step_by_step_with_bad_input_dimensions_and_comment(world):
    _, manager = world
    number = finished_case(manager, "oRate4")
    ask, wrong, out_of_range, level, dims, comment = say(
        manager, "oRate4", "评价", "嗯嗯这个嘛", "7", "4", "5 4 5", "专员很耐心，跑了好几趟")
    assert "请为" in ask and number in ask
    assert wrong == out_of_range == rating_texts.ASK_LEVEL_AGAIN
    assert "「满意」" in level and "效率" in level
    assert dims == rating_texts.ASK_COMMENT
    assert comment.startswith(rating_texts.THANKS_GOOD)
    _, rating = rating_of(manager, number)
    assert (rating.level, rating.efficiency, rating.attitude, rating.integrity) == (4, 5, 4, 5)
    assert rating.comment == "专员很耐心，跑了好几趟"
    assert ledger_actions(manager, number).count("rating_detail") == 2


def test_answered_days_later_without_conversation_state(world):
    _, manager = world
    number = finished_case(manager, "oRate5")
    age(manager, number, days=6)
    manager.store.save("oRate5", {})  # nothing remembered of the invitation in the conversation
    reply = manager.handle_text("oRate5", "不满意，太慢了")
    assert reply.intent == "rate" and "「不满意」" in reply.reply
    assert SUPERVISOR in reply.reply and "回访" in reply.reply  # 不满意 is a 差评 too
    _, rating = rating_of(manager, number)
    assert (rating.level, rating.comment) == (2, "太慢了")
    with manager.sessions() as s:
        assert s.scalar(sa.select(Rectification.rating_id)) == rating.id


def test_several_unrated_cases_ask_which(world):
    _, manager = world
    older = finished_case(manager, "oRate6", project="一号楼")
    newer = finished_case(manager, "oRate6", project="二号楼")
    choose, out, picked = say(manager, "oRate6", "5 很周到", "9", "2")
    assert "1. " in choose and "2. " in choose and older in choose and newer in choose
    assert "1-2" in out
    assert "「非常满意」" in picked
    chosen = re.search(r"2\. (BD-\d{4}-\d{6})", choose)[1]
    other = older if chosen == newer else newer
    assert rating_of(manager, chosen)[1].comment == "很周到"
    assert rating_of(manager, other)[1] is None
    # The other one is still waiting: 「评价」 goes straight to it.
    assert other in manager.handle_text("oRate6", "评价").reply


def test_rated_once_correction_window_then_polite_refusal(world):
    _, manager = world
    number = finished_case(manager, "oRate7")
    say(manager, "oRate7", "4", "跳过", "没有")
    offer, changed = say(manager, "oRate7", "评价", "3")
    assert "已评价为「满意」" in offer and "修改" in offer
    assert f"{number} 的评价改为「基本满意」" in changed
    case, rating = rating_of(manager, number)
    assert (case.state, rating.level) == ("rated", 3)
    assert ledger_actions(manager, number).count("rated") == 1
    assert "rating_changed" in ledger_actions(manager, number)
    say(manager, "oRate7", "跳过", "没有")
    assert say(manager, "oRate7", "评价", "不改了")[1] == rating_texts.UNCHANGED
    # A bare «5» later is not a rating any more: nothing is waiting for one.
    assert manager.handle_text("oRate7", "5").reply == texts.MENU_EXPIRED
    with transaction(manager.sessions) as db:
        db.execute(sa.update(Rating).where(Rating.id == rating.id)
                   .values(created_at=clock.now() - timedelta(hours=25)))
    refused = manager.handle_text("oRate7", "评价 1 太差").reply
    assert "不能再修改" in refused and "转人工" in refused
    assert rating_of(manager, number)[1].level == 3
    with manager.sessions() as s:
        assert s.scalar(sa.select(sa.func.count(Rectification.id))) == 0


def test_bad_rating_opens_rectification_and_tells_who_calls_back_by_when(world):
    _, manager = world
    number = finished_case(manager, "oRate8")
    reply = manager.handle_text("oRate8", "非常不满意 材料丢了两次").reply
    due = CAL.add_workdays(china_today(), Settings().rectification_due_workdays)
    assert "「非常不满意」" in reply and SUPERVISOR in reply and ratings.due_text(due) in reply
    with manager.sessions() as s:
        case = s.scalar(sa.select(Case).where(Case.number == number))
        [rect] = s.scalars(sa.select(Rectification)).all()
        supervisor = s.scalar(sa.select(Staff).where(Staff.username == "donghu-lead"))
        [alert] = s.scalars(sa.select(Notification).where(Notification.purpose == "rectification")).all()
    assert (rect.case_id, rect.supervisor_id, rect.due_date, rect.state) == (case.id, supervisor.id, due, "open")
    assert alert.recipient_openid == supervisor.wechat_openid
    assert number in alert.text and "材料丢了两次" in alert.text
    assert "rectification_opened" in ledger_actions(manager, number)


def test_leaving_the_rating_for_another_request(world):
    _, manager = world
    number = finished_case(manager, "oRate9")
    say(manager, "oRate9", "评价")
    progress = manager.handle_text("oRate9", "我的申请怎么样了")
    assert progress.intent == "progress" and number in progress.reply
    assert rating_of(manager, number)[1] is None
    assert manager.handle_text("oRate9", "cancel").intent == "cancel"


def test_nothing_to_rate(world):
    _, manager = world
    assert manager.handle_text("oNobody", "我要评价").reply == rating_texts.NOTHING_TO_RATE
    assert manager.handle_text("oNobody", "5").reply == texts.MENU_EXPIRED


def test_rating_through_the_signed_webhook(world):
    app, manager = world
    number = finished_case(manager, "oRateWx")
    client = app.test_client()
    wx = WeChatServer("rate-tok")
    replies = []
    for i, message in enumerate(["评价", "5 很好", "跳过"]):
        cb = wx.callback(text_xml("oRateWx", message, msg_id=91000 + i))
        r = client.post(cb.path, data=cb.body, content_type="text/xml")
        replies.append(reply_fields(r.get_data(as_text=True))["Content"])
    assert number in replies[0] and "「非常满意」" in replies[1]
    assert replies[2].startswith(rating_texts.THANKS_GOOD)
    _, rating = rating_of(manager, number)
    assert (rating.level, rating.comment) == (5, "很好")


# -- 回访 and 整改 in the console -----------------------------------------------------------

def signed_in(app, username):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").get_data(as_text=True))[1]
    r = client.post("/console/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303
    return client


def post(client, path, **form):
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/console/rectifications").get_data(as_text=True))[1]
    r = client.post(path, data={**form, "csrf_token": token}, follow_redirects=True)
    assert r.status_code == 200
    return re.findall(r'<p class="flash flash-(\w+)"[^>]*>([^<]*)</p>', r.get_data(as_text=True))


def test_revisit_and_close_through_the_console(world):
    app, manager = world
    number = finished_case(manager, "oRate10")
    say(manager, "oRate10", "1 专员一直不回电话")
    with manager.sessions() as s:
        [rect] = s.scalars(sa.select(Rectification)).all()
    assert signed_in(app, "donghu-1").get("/console/rectifications").status_code == 403
    other_region = signed_in(app, "jiangbei-lead")
    assert number not in other_region.get("/console/rectifications").get_data(as_text=True)
    assert post(other_region, f"/console/rectifications/{rect.id}/visit", note="打过电话")[0][0] == "error"

    lead = signed_in(app, "donghu-lead")
    page = lead.get("/console/rectifications").get_data(as_text=True)
    assert number in page and "专员一直不回电话" in page and "非常不满意" in page
    [(kind, message)] = post(lead, f"/console/rectifications/{rect.id}/close", outcome="已约谈")
    assert kind == "error" and "回访" in message
    assert post(lead, f"/console/rectifications/{rect.id}/visit", note="电话回访：专员出差未转接")[0][0] == "success"
    assert post(lead, f"/console/rectifications/{rect.id}/close",
                outcome="已约谈专员，设置来电转接")[0][0] == "success"
    with manager.sessions() as s:
        rect = s.get(Rectification, rect.id)
        feedback = s.scalars(sa.select(Notification).where(Notification.recipient_openid == "oRate10",
                                                           Notification.purpose == "rectification_feedback")).all()
    assert (rect.state, rect.visit_note, rect.outcome) == ("closed", "电话回访：专员出差未转接", "已约谈专员，设置来电转接")
    assert len(feedback) == 1 and "设置来电转接" in feedback[0].text
    assert {"revisited", "rectification_closed"} <= set(ledger_actions(manager, number))
    assert number not in lead.get("/console/rectifications").get_data(as_text=True)
    assert number in lead.get("/console/rectifications?show=all").get_data(as_text=True)


# -- reminders ----------------------------------------------------------------------------

def test_unrated_cases_are_reminded_at_most_twice(world):
    _, manager = world
    settings = Settings(rating_reminder_hours=72)
    waiting = finished_case(manager, "oRate11")
    rated = finished_case(manager, "oRate12")
    say(manager, "oRate12", "5")
    now = clock.now()

    def remind(hours):
        return ratings.remind_unrated(manager.sessions, settings, now + timedelta(hours=hours))

    assert remind(10) == 0
    assert remind(73) == 1
    assert remind(73) == 0  # re-run: the idempotency key holds
    assert remind(100) == 0  # too soon after the first reminder
    assert remind(146) == 1
    assert remind(1000) == 0  # never a third
    with manager.sessions() as s:
        sent = s.scalars(sa.select(Notification).where(Notification.purpose == "rating_reminder")
                         .order_by(Notification.id)).all()
    assert [n.recipient_openid for n in sent] == ["oRate11", "oRate11"]
    assert all(waiting in n.text for n in sent) and "最后一次" in sent[1].text
    assert ledger_actions(manager, waiting).count("rating_reminded") == 2
    assert "rating_reminded" not in ledger_actions(manager, rated)
    # A reminder answered with a number is a rating like any other.
    assert "「满意」" in manager.handle_text("oRate11", "4").reply
    assert remind(2000) == 0


def test_an_old_unanswered_question_expires(world):
    _, manager = world
    number = finished_case(manager, "oRate13")
    say(manager, "oRate13", "5")  # the dimensions question is open now
    state = manager.store.load("oRate13")
    state["rating"]["at"] -= 2 * 3600
    manager.store.save("oRate13", state)
    assert manager.handle_text("oRate13", "专员很耐心").intent != "rate"
    _, rating = rating_of(manager, number)
    assert (rating.level, rating.comment) == (5, None)
