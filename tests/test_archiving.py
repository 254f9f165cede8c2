"""Issue 17 item 5: 立卷归档 as a staff action (seed 004 「对帮办代办服务过程中申报材料及证照结果进行立卷
归档」, seed 003 「终止及办结的代办项目…及时归档，并将…资料及时交还投资者」). A completeness check (a pure
function, tested on its own) lists each point ok or missing; archiving is refused while a required
point is missing, and a supervisor may archive with a non-essential one missing only by writing a
reason. The archive keeps the checklist; the case is read-only afterwards, in the console and in
the chat (through the signed webhook too); the archive workbook holds it all. SQLite and PostgreSQL."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from conftest import CAL, FLASH, PERMIT, db_of
from test_dashboard import rows_after_header, signed_in, workbook_of

from bot.casework import archiving, case_actions, cases, handbacks
from bot.casework.archiving import CaseFacts, completeness
from bot.casework.case_actions import Actor
from bot.casework.cases import ArchivedCaseError, CaseError
from bot.models import CaseArchive, CaseMaterial, LedgerEntry, Notification, Staff
from bot.platform import clock, region_service
from bot.platform.config import Settings
from bot.supervision import ratings
from bot.vocabulary import ArchiveCheck, CaseState, ItemState

pytestmark = pytest.mark.usefixtures("fast_password_hashes")
CODE = "91350100M000100Y43"
TODAY = date(2026, 12, 3)


# -- the check on its own -------------------------------------------------------------------

def facts(**changes) -> CaseFacts:
    """A 帮办 case delivered ten days ago, rated, its materials handed back: nothing missing."""
    base = dict(mode="帮办", state=CaseState.RATED, today=TODAY, items=(("建筑工程施工许可证核发", ItemState.DONE),),
                delivery="送达方式：上门", closed_on=TODAY - timedelta(days=10), rating="非常满意",
                handbacks=("办结交还（当面，2026-12-01，签收人 陈经理）：施工合同",),
                materials=(("材料 M1《营业执照.pdf》", "stored"), ("材料 M2", "listed")))
    return CaseFacts(**{**base, **changes})


def by_key(checks) -> dict:
    return {c.key: c for c in checks}


def test_a_complete_record_passes_every_check_in_order():
    checks = completeness(facts())
    assert [c.key for c in checks] == list(ArchiveCheck)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert all(re.fullmatch(r"[\u4e00-\u9fff]+", c.title) for c in checks)
    assert by_key(checks)[ArchiveCheck.AGREEMENT].detail == "帮办服务无需委托协议"


def test_each_required_point_missing_is_named():
    got = by_key(completeness(facts(mode="代办", agreement=None)))[ArchiveCheck.AGREEMENT]
    assert (got.ok, got.required) == (False, True) and "委托协议" in got.detail
    assert by_key(completeness(facts(mode="代办", agreement="《代办委托协议》第1版")))[ArchiveCheck.AGREEMENT].ok
    results = by_key(completeness(facts(items=(("施工许可", ItemState.DONE), ("图审", ItemState.REVIEWING)))))
    assert not results[ArchiveCheck.RESULTS].ok and "图审（审批中）" in results[ArchiveCheck.RESULTS].detail
    undelivered = by_key(completeness(facts(state=CaseState.COMPLETED, delivery=None, closed_on=None, rating=None)))
    assert not undelivered[ArchiveCheck.DELIVERY].ok and undelivered[ArchiveCheck.DELIVERY].required
    assert "送达" in undelivered[ArchiveCheck.DELIVERY].detail
    rect = by_key(completeness(facts(open_rectifications=("Z3",))))[ArchiveCheck.RECTIFICATION]
    assert (rect.ok, rect.required) == (False, True) and "Z3" in rect.detail
    pending = by_key(completeness(facts(materials=(("材料 M1", "pending"), ("材料 M2", "stored")))))
    assert (pending[ArchiveCheck.MATERIALS].ok, pending[ArchiveCheck.MATERIALS].required) == (False, True)
    assert "下载中" in pending[ArchiveCheck.MATERIALS].detail


def test_a_terminated_case_needs_no_results_nor_delivery():
    checks = by_key(completeness(facts(state=CaseState.TERMINATED, termination_reason="企业主动终止", delivery=None,
                                       items=(("施工许可", ItemState.SUBMITTED),))))
    assert checks[ArchiveCheck.RESULTS].ok and "企业主动终止" in checks[ArchiveCheck.RESULTS].detail
    assert checks[ArchiveCheck.DELIVERY].ok


def test_a_missing_rating_waits_then_is_recorded_as_absent():
    early = by_key(completeness(facts(rating=None, closed_on=TODAY - timedelta(days=3))))[ArchiveCheck.RATING]
    assert (early.ok, early.required) == (False, False) and "还有 4 天" in early.detail
    late = by_key(completeness(facts(rating=None, closed_on=TODAY - timedelta(days=7))))[ArchiveCheck.RATING]
    assert late.ok and late.detail.startswith("企业未评价")


def test_handback_or_no_return_and_lost_materials_are_non_essential():
    none = by_key(completeness(facts(handbacks=())))[ArchiveCheck.HANDBACK]
    assert (none.ok, none.required) == (False, False) and "无需退还" in none.detail
    marked = by_key(completeness(facts(handbacks=(), no_return_needed=True)))[ArchiveCheck.HANDBACK]
    assert marked.ok and marked.detail.startswith("无需退还")
    lost = by_key(completeness(facts(materials=(("材料 M1", "failed"),))))[ArchiveCheck.MATERIALS]
    assert (lost.ok, lost.required) == (False, False) and "未能保存" in lost.detail
    assert by_key(completeness(facts(materials=())))[ArchiveCheck.MATERIALS].ok
    esc = by_key(completeness(facts(open_escalations=("E2 联席会议",))))[ArchiveCheck.ESCALATION]
    assert (esc.ok, esc.required) == (False, True) and "E2" in esc.detail  # it could not be resolved afterwards


# -- the action -----------------------------------------------------------------------------

@pytest.fixture()
def app(console_app):
    return console_app


def delivered_case(db, openid="oArch", mode="帮办", rate=True, materials=()):
    consented = datetime.now(timezone.utc) if mode == "代办" else None
    case = cases.submit(db, cases.Application(
        mode=mode, applicant_openid=openid, company_name="武汉光谷示例科技有限公司", credit_code=CODE,
        project_name="光谷示例研发楼", region="donghu", investment_type="社会投资", stage="3",
        contact_name="陈经理", contact_phone="13800138000", items=(PERMIT,), agreement_consented_at=consented), CAL)
    for k, state in enumerate(materials):
        db.add(CaseMaterial(case_id=case.id, sender_openid=openid, message_key=f"{openid}:{k}", kind="image",
                            state=state))
    db.flush()
    actor = Actor.person(db.get(Staff, case.commissioner_id))
    case_actions.accept(db, case, actor)
    for item in cases.items_of(db, case):
        for to in (ItemState.SUBMITTED, ItemState.ACCEPTED, ItemState.DONE):
            case_actions.move_item(db, case, item.id, to, actor)
    assert case_actions.complete(db, case, actor)
    case_actions.deliver(db, case, "邮寄", actor, tracking_number="SF1234567890")
    if rate:
        ratings.record(db, case, openid, 5, settings=Settings(), calendar=CAL, comment="服务很好")
    return case


def staff(db, username) -> Staff:
    return db.scalar(sa.select(Staff).where(Staff.username == username))


def ledger_count(db, case) -> int:
    return db.scalar(sa.select(sa.func.count(LedgerEntry.id)).where(LedgerEntry.case_id == case.id))


def test_archiving_is_refused_with_what_is_missing_and_changes_nothing(app):
    with db_of(app) as db:
        case = delivered_case(db, rate=False, materials=("pending",))
        before = ledger_count(db, case)
        for who in ("donghu-1", "donghu-lead"):
            with pytest.raises(CaseError) as refused:
                archiving.archive(db, case, staff(db, who), reason="急需归档", no_return_needed=True)
            assert "还不能立卷归档" in str(refused.value) and "微信材料下载" in str(refused.value)
        with pytest.raises(CaseError, match="承办专员或本地区主管"):
            archiving.archive(db, case, staff(db, "jiangbei-lead"))
        assert case.state == CaseState.DELIVERED and archiving.of_case(db, case) is None
        assert ledger_count(db, case) == before


def test_a_supervisor_archives_with_a_non_essential_part_missing_only_with_a_reason(app):
    with db_of(app) as db:
        case = delivered_case(db, rate=False)
        with pytest.raises(CaseError) as refused:
            archiving.archive(db, case, staff(db, "donghu-1"))
        message = str(refused.value)
        assert "服务评价" in message and "材料退还" in message and "主管填写原因" in message
        with pytest.raises(CaseError, match="须填写原因"):
            archiving.archive(db, case, staff(db, "donghu-lead"), no_return_needed=True)
        row = archiving.archive(db, case, staff(db, "donghu-lead"), no_return_needed=True,
                                reason="企业已搬迁，评价另行回访")
        assert case.state == CaseState.ARCHIVED and row.number == "GD-" + case.number.split("-", 1)[1]
        assert row.reason == "企业已搬迁，评价另行回访" and row.no_return_needed and not row.rating_absent
        snapshot = {c["key"]: c for c in row.checklist}
        assert snapshot["rating"]["ok"] is False and snapshot["handback"]["ok"] is True
        [line] = [e.detail for e in cases.ledger_of(db, case) if e.action == "state:archived"]
        assert row.number in line and "企业已搬迁" in line and "「无需退还」" in line


def test_the_rating_absence_is_recorded_after_the_wait(app):
    with db_of(app) as db:
        case = delivered_case(db, rate=False)
        later = datetime.now(timezone.utc) + timedelta(days=region_service.for_region("donghu").rating_wait_days)
        row = archiving.archive(db, case, staff(db, "donghu-1"), no_return_needed=True, now=later)
        assert row.rating_absent and row.reason is None
        assert "「企业未评价」" in cases.ledger_of(db, case)[-1].detail
        number = case.number
    book = workbook_of(signed_in(app, "donghu-lead").get(f"/console/cases/{number}/archive.xlsx"))
    _, rating_rows = rows_after_header(book["评价与整改"], "项目")
    assert rating_rows[0][:2] == ("评价", "企业未评价（立卷归档时记录）")
    _, check_rows = rows_after_header(book["归档检查"], "检查项")
    assert {r[0]: r[1] for r in check_rows}["评价"] == "企业未评价"


def test_the_rating_wait_is_the_regions(app, tmp_path, monkeypatch):
    config = tmp_path / "region_service.yaml"
    config.write_text("regions:\n  donghu:\n    rating_wait_days: 2\n", encoding="utf-8")
    monkeypatch.setenv("BANGBAN_REGION_SERVICE", str(config))
    with db_of(app) as db:
        case = delivered_case(db, openid="oWait2", rate=False)
        today = clock.today()
        [waiting] = [c for c in archiving.check(db, case, today=today) if c.key == "rating"]
        assert not waiting.ok and "2 天内可评价" in waiting.detail
        [absent] = [c for c in archiving.check(db, case, today=today + timedelta(days=2)) if c.key == "rating"]
        assert absent.ok and absent.detail.startswith(archiving.NOT_RATED) and "2 天未评价" in absent.detail
        number = case.number
    page = signed_in(app, "donghu-lead").get(f"/console/cases/{number}/archive").get_data(as_text=True)
    assert "2 天内未评价的" in page
    bad = tmp_path / "bad.yaml"  # (the configuration is read once per file)
    bad.write_text("regions:\n  donghu:\n    rating_wait_days: 0\n", encoding="utf-8")
    monkeypatch.setenv("BANGBAN_REGION_SERVICE", str(bad))
    with pytest.raises(ValueError, match="rating_wait_days"):
        region_service.for_region("donghu")


def test_an_archived_case_refuses_every_change_at_the_service_layer(app):
    with db_of(app) as db:
        case = delivered_case(db)
        archiving.archive(db, case, staff(db, "donghu-1"), no_return_needed=True)
        before = ledger_count(db, case)
        actor = Actor.person(staff(db, "donghu-1"))
        for change in (lambda: cases.log(db, case, "note", "再记一笔"),
                       lambda: case_actions.add_note(db, case, "再记一笔", actor),
                       lambda: cases.transition(db, case, CaseState.TERMINATED, actor_kind="commissioner",
                                                actor_id="donghu-1", reason="其他"),
                       lambda: archiving.archive(db, case, staff(db, "donghu-lead"), reason="再归档一次")):
            with pytest.raises(ArchivedCaseError, match="已立卷归档"):
                change()
        with pytest.raises(CaseError, match="已立卷归档"):
            ratings.record(db, case, "oArch", 1, settings=Settings(rating_correction_hours=48), calendar=CAL)
        assert ledger_count(db, case) == before


# -- the console ----------------------------------------------------------------------------

def token_of(client, path) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def flash_of(response) -> tuple[str, str]:
    return FLASH.search(response.get_data(as_text=True)).groups()


def test_the_commissioner_archives_from_the_case_page_and_the_archive_holds_it_all(app):
    with db_of(app) as db:
        case = delivered_case(db, mode="代办", materials=("stored",))
        number = case.number
        handbacks.record(db, case, returned=["施工合同"], allowed=["施工合同"], method="当面", returned_on=clock.today(),
                         signed_by="陈经理", actor_kind="commissioner", actor_id="donghu-1")
    client = signed_in(app, "donghu-1")
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "立卷归档…" in page and f"/console/cases/{number}/archive" in page
    check = client.get(f"/console/cases/{number}/archive").get_data(as_text=True)
    for title in ("委托协议", "事项办理结果", "送达记录", "服务评价", "材料退还", "微信材料下载", "差评整改"):
        assert title in check
    assert check.count("齐全") >= 8 and "缺少</span>" not in check
    assert f'href="/console/cases/{number}#handbacks"' in check and "确认立卷归档" in check
    r = client.post(f"/console/cases/{number}/archive", data={"csrf_token": token_of(client, f"/console/cases/{number}/archive")},
                    follow_redirects=True)
    kind, text = flash_of(r)
    assert kind == "success" and "GD-" in text and "只读" in text
    page = r.get_data(as_text=True)
    assert "本案已于" in page and "立卷归档…" not in page and "写入台账</button>" not in page
    with db_of(app) as db:
        row = db.scalar(sa.select(CaseArchive))
        assert row.actor_kind == "commissioner" and all(c["ok"] for c in row.checklist)
    from test_api import auth, token_for

    api = app.test_client()
    detail = api.get(f"/api/v1/cases/{number}", headers=auth(token_for(app, "donghu-1"))).get_json()
    assert detail["state"] == "archived" and detail["archive"]["number"].startswith("GD-")
    assert detail["archive"]["missing"] == [] and detail["archive"]["rating_absent"] is False
    item_id = detail["items"][0]["id"]
    refused = api.post(f"/api/v1/cases/{number}/items/{item_id}/status", json={"state": "submitted"},
                       headers=auth(token_for(app, "donghu-1")))
    assert refused.status_code == 409 and "归档" in refused.get_json()["message"]
    archived_check = client.get(f"/console/cases/{number}/archive").get_data(as_text=True)
    assert "归档记录" in archived_check and row.number in archived_check and "确认立卷归档" not in archived_check

    book = workbook_of(signed_in(app, "donghu-lead").get(f"/console/cases/{number}/archive.xlsx"))
    assert {"归档检查", "微信材料", "委托协议", "审批事项", "评价与整改", "材料交还", "服务记录台账"} <= set(book.sheetnames)
    header, rows = rows_after_header(book["归档检查"], "检查项")
    cells = {r[0]: r for r in rows}
    assert cells["归档编号"][1] == row.number and cells["归档人"][1] and cells["归档人身份"][1] == "专员"
    assert cells["送达记录"][1] == "齐全" and "SF1234567890" in cells["送达记录"][3]
    assert cells["服务评价"][1] == "齐全" and "非常满意" in cells["服务评价"][3]
    assert cells["委托协议"][1] == "齐全" and "第1版" in cells["委托协议"][3]
    assert "施工合同" in cells["材料退还"][3]
    _, materials = rows_after_header(book["微信材料"], "编号")
    assert [m[0] for m in materials] == ["M1"]
    _, ledger_rows = rows_after_header(book["服务记录台账"], "时间")
    assert any("立卷归档" in " ".join(str(c) for c in r) for r in ledger_rows)


def test_an_archived_case_refuses_every_console_post_politely(app):
    with db_of(app) as db:
        case = delivered_case(db)
        number, item_id = case.number, cases.items_of(db, case)[0].id
        push = db.scalar(sa.select(Notification.id).where(Notification.case_id == case.id))
        db.execute(sa.update(Notification).where(Notification.id == push).values(state="dead"))
        archiving.archive(db, case, staff(db, "donghu-1"), no_return_needed=True)
        before = ledger_count(db, case)
    client = signed_in(app, "donghu-1")
    token = token_of(client, f"/console/cases/{number}")
    today = clock.today().isoformat()
    posts = [("notes", {"text": "再记一笔"}), (f"items/{item_id}/state", {"to": "done"}),
             (f"items/{item_id}/correction", {"missing": "补一份", "due": today}),
             ("contact", {"contact_name": "王经理"}), (f"items/{item_id}/plan", {"planned": today}),
             ("handback", {"material": "施工合同", "method": "当面", "returned_on": today, "signed_by": "陈经理"}),
             (f"pushes/{push}/resend", {}), ("terminate", {"reason": "其他", "other": "再终止"}), ("deliver", {"method": "上门"}),
             ("archive", {"reason": "再归档"})]
    for path, data in posts:
        r = client.post(f"/console/cases/{number}/{path}", data={**data, "csrf_token": token}, follow_redirects=True)
        kind, text = flash_of(r)
        assert kind == "error" and "已立卷归档" in text, (path, text)
    lead = signed_in(app, "donghu-lead")
    r = lead.post(f"/console/cases/{number}/escalate", follow_redirects=True,
                  data={"level": "联席会议", "note": "协调一下", "csrf_token": token_of(lead, f"/console/cases/{number}")})
    assert flash_of(r)[0] == "error"  # refused (an archived case is not 办理中, nor editable)
    with db_of(app) as db:
        assert ledger_count(db, cases.by_number(db, number)) == before


# -- the chat -------------------------------------------------------------------------------

def test_the_chat_says_the_case_is_archived_and_refuses_changes(app):
    from webhook.simulator import WeChatServer, reply_fields, text_xml

    with db_of(app) as db:
        case = delivered_case(db, openid="oArchChat")
        number = case.number
        archiving.archive(db, case, staff(db, "donghu-1"), no_return_needed=True)
        before = ledger_count(db, case)
    manager = app.extensions["bangban_dialogs"]
    progress = manager.handle_text("oArchChat", "我的申请").reply
    assert "立卷归档" in progress and "GD-" in progress and "不能再变更" in progress
    for message in (f"催一下 {number}", "催一下", "修改联系人", f"修改联系电话 {number}", "我要修改评价", "评价"):
        reply = manager.handle_text("oArchChat", message).reply
        assert reply.startswith(f"{number}已立卷归档，不能再变更"), (message, reply)

    client = app.test_client()
    wx = WeChatServer(app.config["BANGBAN_SETTINGS"].wechat_token)
    replies = []
    for i, message in enumerate(["我的申请", f"催办 {number}"]):
        cb = wx.callback(text_xml("oArchChat", message, msg_id=97000 + i))
        replies.append(reply_fields(client.post(cb.path, data=cb.body, content_type="text/xml")
                                    .get_data(as_text=True))["Content"])
    assert "立卷归档" in replies[0] and "已立卷归档" in replies[1]
    with db_of(app) as db:
        assert ledger_count(db, cases.by_number(db, number)) == before


def test_a_handoff_about_an_archived_case_still_reaches_people_without_touching_its_ledger(app):
    from bot.casework import handoffs

    with db_of(app) as db:
        case = delivered_case(db, openid="oArchAsk")
        archiving.archive(db, case, staff(db, "donghu-1"), no_return_needed=True)
        before = ledger_count(db, case)
        handoff = handoffs.open_handoff(db, "oArchAsk", None, "归档后还能查材料吗")
        handoffs.answer(db, handoff, staff(db, "donghu-1"), "可以到窗口查阅")
        assert handoff.region == "donghu" and ledger_count(db, case) == before


def test_the_dashboard_lists_the_cases_waiting_to_be_archived(app):
    with db_of(app) as db:
        waiting = delivered_case(db, openid="oWait", rate=False).number
        done = delivered_case(db, openid="oDone")
        archiving.archive(db, done, staff(db, "donghu-1"), no_return_needed=True)
        done = done.number
    page = signed_in(app, "donghu-lead").get("/console/dashboard").get_data(as_text=True)
    panel = page[page.index('id="h-archive"'):]
    panel = panel[:panel.index("</section>")]
    assert "待立卷归档" in panel and "已立卷归档 1 件" in panel
    assert waiting in panel and done not in panel
    row = panel[panel.index(waiting):]
    row = row[:row.index("</tr>")]
    assert "服务评价、材料退还" in row and f"/console/cases/{waiting}/archive" in row
    # The Excel export of 挂图作战 holds the same list as its own sheet.
    sheet = workbook_of(signed_in(app, "donghu-lead").get("/console/export/dashboard.xlsx"))["待立卷归档"]
    header, rows = rows_after_header(sheet, "案件编号")
    assert header[5:] == ("送达/终止", "缺少（必备）", "缺少（可由主管说明原因）")
    assert [r[0] for r in rows] == [waiting]
    missing = f"{rows[0][6] or ''}{rows[0][7] or ''}"
    assert "服务评价" in missing and "材料退还" in missing
