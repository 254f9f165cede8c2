"""Issue 17, item 2: 委托协议 as a document. The text is versioned per region (config/agreements/),
the case keeps exactly the version agreed, when and by whom; the chat's consent step shows the
summary and the public page of the whole text; the console shows the agreement and prints the
委托书 with the case's details; a new version never changes what was agreed before."""
from __future__ import annotations

import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import CAL, FLASH, PERMIT, db_of, fill_database
from test_dashboard import rows_after_header, signed_in, workbook_of

from bot.casework import agreements, case_actions, cases
from bot.casework.cases import ACTION_NAMES, CaseError
from bot.models import Case, CaseAgreement
from bot.platform import clock
from bot.platform.config import Settings
from bot.platform.db import transaction
from bot.platform.kv import MemoryKV
from dialogs import build_manager

pytestmark = pytest.mark.usefixtures("fast_password_hashes")
CODE = "91350100M000100Y43"
SHIPPED = Path(__file__).resolve().parents[1] / "config" / "agreements"


@pytest.fixture()
def app(console_app):
    return console_app


@pytest.fixture()
def texts_dir(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped texts the test may add versions to (BANGBAN_AGREEMENTS)."""
    folder = tmp_path / "agreements"
    shutil.copytree(SHIPPED, folder)
    monkeypatch.setenv("BANGBAN_AGREEMENTS", str(folder))
    return folder


def daiban(db, region="county_city", openid="oEnt", when=None, version=None) -> Case:
    return cases.submit(db, cases.Application(
        mode="代办", applicant_openid=openid, company_name="示例精密机械有限公司", credit_code=CODE,
        project_name="示例精密零部件厂房", region=region, investment_type="社会投资", stage="3",
        contact_name="陈经理", contact_phone="13800138000", items=(PERMIT,),
        agreement_consented_at=when or datetime.now(timezone.utc), agreement_version=version), CAL)


def add_version(folder: Path, region: str, version: str, effective, text: str, title: str = "投资建设项目代办协议（修订）"):
    (folder / region / f"{version}.yaml").write_text(
        f"title: {title}\ndocument: 委托代办协议\neffective: {effective:%Y-%m-%d}\nsource: 测试\n"
        f"summary:\n  - 修订后的要点\ntext: |\n  {text}\n", encoding="utf-8")


# -- the texts -----------------------------------------------------------------------------

def test_each_region_has_its_text_and_the_others_take_the_default():
    county = agreements.in_effect("county_city")
    assert county.version == "v1" and county.region == "county_city" and "代办协议" in county.title
    assert "经委托方确认后办结" in county.text  # seed 003 五、4
    assert "持本委托书向各审批窗口报建" in agreements.in_effect("yueyang").text  # seed 002
    assert "申请表" in agreements.in_effect("donghu").title  # seed 004: the 申请表 is what is signed
    assert agreements.in_effect("jiangbei").region == "default"
    assert agreements.get("county_city", "v9") is None and agreements.get("../etc", "v1") is None
    for code in ("agreement_consented", "plan_proposed", "plan_changed"):
        assert re.fullmatch(r"[\u4e00-\u9fff]+", ACTION_NAMES[code])


def test_the_version_in_effect_follows_the_effective_date(texts_dir):
    today = clock.today()
    add_version(texts_dir, "county_city", "v2", today.replace(year=today.year + 1), "明年才施行的文本")
    assert agreements.in_effect("county_city").version == "v1"
    assert agreements.in_effect("county_city", today.replace(year=today.year + 1)).version == "v2"


def test_a_broken_text_file_says_which_file_and_what_is_missing(texts_dir):
    (texts_dir / "county_city" / "v3.yaml").write_text("title: 缺正文\neffective: 2026-01-01\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"v3\.yaml: missing summary, text"):
        agreements.in_effect("county_city")


# -- the case keeps what it agreed to ----------------------------------------------------------

def test_a_new_version_never_changes_what_was_agreed_before(db_sessions, texts_dir):
    with transaction(db_sessions) as db:
        old = daiban(db, openid="oOld").number
    add_version(texts_dir, "county_city", "v2", clock.today(), "第一条 新版本的条款。")
    (texts_dir / "county_city" / "v1.yaml").write_text(  # even an edited old file (which one must not do)
        (texts_dir / "county_city" / "v1.yaml").read_text(encoding="utf-8").replace("自愿委托", "改过的"),
        encoding="utf-8")
    with transaction(db_sessions) as db:
        new = daiban(db, openid="oNew").number
    with db_sessions() as db:
        kept = agreements.of_case(db, cases.by_number(db, old))
        assert kept.version == "v1" and "自愿委托" in kept.text and "新版本" not in kept.text
        assert kept.agreed_name == "陈经理" and kept.agreed_phone == "13800138000" and kept.agreed_openid == "oOld"
        later = agreements.of_case(db, cases.by_number(db, new))
        assert later.version == "v2" and "新版本的条款" in later.text
        [line] = [e.detail for e in cases.ledger_of(db, cases.by_number(db, old)) if e.action == "agreement_consented"]
        assert "第1版" in line and "陈经理" in line


def test_the_version_shown_at_consent_is_the_one_kept(db_sessions, texts_dir):
    add_version(texts_dir, "county_city", "v2", clock.today(), "第一条 新版本。")
    with transaction(db_sessions) as db:
        number = daiban(db, version="v1").number  # shown before v2 came into effect
    with db_sessions() as db:
        assert agreements.of_case(db, cases.by_number(db, number)).version == "v1"


def test_a_region_without_any_text_cannot_take_a_daiban(db_sessions, tmp_path, monkeypatch):
    monkeypatch.setenv("BANGBAN_AGREEMENTS", str(tmp_path / "none"))
    with pytest.raises(CaseError, match="委托协议"), transaction(db_sessions) as db:
        daiban(db)
    with db_sessions() as db:
        assert db.scalar(sa.select(sa.func.count(Case.id))) == 0  # nothing kept


# -- the chat's consent step -------------------------------------------------------------------

ANSWERS = ["我要申请代办", "4", "示例精密机械有限公司", CODE, "示例精密零部件厂房", "无", "1", "否", "1", "3", "1",
           "陈明", "13800138000"]


def test_the_chat_shows_the_summary_and_the_page_and_records_the_version(database_url, kb, retriever):
    fill_database(database_url, "roster")
    m = build_manager(Settings(database_url=database_url, public_url="https://bbt.example.cn"), kb=kb,
                      kv=MemoryKV(), retriever=retriever)
    for text in ANSWERS:
        turn = m.handle_text("oChat", text)
    assert "《投资建设项目代办协议》（第1版" in turn.reply, turn.reply
    assert "经投资者确认后办结" in turn.reply  # a summary point of seed 003's text
    assert "https://bbt.example.cn/agreements/county_city/v1" in turn.reply
    assert "请回复「同意」" in m.handle_text("oChat", "嗯？").reply  # not an answer: asked again, nothing kept
    summary = m.handle_text("oChat", "同意").reply
    assert "委托协议：已同意《投资建设项目代办协议》第1版" in summary
    m.handle_text("oChat", "确认")
    with m.sessions() as db:
        [case] = db.scalars(sa.select(Case).where(Case.applicant_openid == "oChat")).all()
        row = agreements.of_case(db, case)
        assert (row.region, row.version, row.agreed_openid, row.agreed_name, row.agreed_phone) == (
            "county_city", "v1", "oChat", "陈明", "13800138000")
        assert row.agreed_at == case.agreement_consented_at
    mine = m.handle_text("oChat", "我的申请").reply
    assert "委托协议：《投资建设项目代办协议》第1版" in mine and "https://bbt.example.cn/agreements/county_city/v1" in mine


def test_another_region_after_consent_asks_the_consent_again_with_its_text(database_url, kb, retriever):
    fill_database(database_url, "roster")
    m = build_manager(Settings(database_url=database_url), kb=kb, kv=MemoryKV(), retriever=retriever)
    for text in ANSWERS:
        m.handle_text("oMove", text)
    assert "已同意《投资建设项目代办协议》" in m.handle_text("oMove", "同意").reply
    m.handle_text("oMove", "修改地区")
    again = m.handle_text("oMove", "5")  # 东湖: its 申请表 is another text
    assert "《武汉东湖新技术开发区投资项目帮办代办服务申请表》（第1版" in again.reply, again.reply
    assert "已同意《武汉东湖新技术开发区投资项目帮办代办服务申请表》" in m.handle_text("oMove", "同意").reply
    m.handle_text("oMove", "确认")
    with m.sessions() as db:
        [case] = db.scalars(sa.select(Case).where(Case.applicant_openid == "oMove")).all()
        assert (case.region, agreements.of_case(db, case).region) == ("donghu", "donghu")


# -- the web pages -------------------------------------------------------------------------------

def test_the_text_is_a_public_printable_page(app):
    client = app.test_client()  # not signed in
    page = client.get("/agreements/county_city/v1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "投资建设项目代办协议" in html and "@media print" in html
    assert "经委托方确认后办结" in html and "经投资者确认后办结" in html  # the text and its summary
    assert client.get("/agreements/county_city").headers["Location"].endswith("/agreements/county_city/v1")
    assert client.get("/agreements/county_city/v7").status_code == 404
    assert client.get("/agreements/nowhere/v1").status_code == 404


def test_the_public_page_of_an_old_version_says_it_was_replaced(app, texts_dir):
    add_version(texts_dir, "county_city", "v2", clock.today(), "第一条 新版本。")
    html = app.test_client().get("/agreements/county_city/v1").get_data(as_text=True)
    assert "已由" in html and "第2版" in html and "仍按本版本执行" in html


def test_the_case_page_shows_the_agreement_and_prints_the_weituoshu(app, texts_dir):
    with db_of(app) as db:
        number = daiban(db).number
    add_version(texts_dir, "county_city", "v2", clock.today(), "第一条 新版本的条款。")
    client = signed_in(app, "county_city-1")
    html = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "《投资建设项目代办协议》第1版" in html and "陈经理（13800138000）" in html
    assert f"/console/cases/{number}/agreement" in html and "county_city" not in html  # the region by its name
    printed = client.get(f"/console/cases/{number}/agreement").get_data(as_text=True)
    assert "示例精密机械有限公司" in printed and CODE in printed and "建筑工程施工许可证核发" in printed
    assert "经委托方确认后办结" in printed and "新版本的条款" not in printed  # the text as agreed
    assert "@media print" in printed and "经办人签字" in printed
    assert app.test_client().get(f"/console/cases/{number}/agreement").status_code in (302, 303)  # staff only
    from test_api import auth, token_for

    api = app.test_client().get(f"/api/v1/cases/{number}", headers=auth(token_for(app, "county_city-lead"))).get_json()
    assert api["agreement"]["version"] == "v1" and api["agreement"]["region"] == "county_city"
    other = signed_in(app, "yanjin-1")
    assert other.get(f"/console/cases/{number}/agreement").status_code == 404  # another region's case


def test_a_bangban_case_has_no_weituoshu(app):
    with db_of(app) as db:
        number = cases.submit(db, cases.Application(
            mode="帮办", applicant_openid="oB", company_name="示例精密机械有限公司", credit_code=CODE,
            project_name="示例厂房", region="county_city", investment_type="社会投资", stage="3",
            contact_name="陈经理", items=(PERMIT,)), CAL).number
        assert db.scalar(sa.select(sa.func.count(CaseAgreement.id))) == 0
    client = signed_in(app, "county_city-1")
    assert client.get(f"/console/cases/{number}/agreement").status_code == 404


def test_the_archive_workbook_holds_the_agreement(app):
    with db_of(app) as db:
        case = daiban(db)
        number = case.number
        staff = db.scalar(sa.select(cases.Staff).where(cases.Staff.username == "county_city-1"))
        case.commissioner_id = staff.id
        case_actions.terminate(db, case, "企业主动终止", case_actions.Actor.person(staff))
    client = signed_in(app, "county_city-lead")
    wb = workbook_of(client.get(f"/console/cases/{number}/archive.xlsx"))
    _, rows = rows_after_header(wb["委托协议"], "项目")
    facts = dict(rows)
    assert facts["版本"].startswith("第1版") and facts["确认人"] == "陈经理" and "经委托方确认后办结" in facts["协议全文"]
    assert FLASH  # (imported for the console tests' shared helpers)
