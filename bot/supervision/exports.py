"""Excel workbooks (openpyxl): 服务记录台账, the 挂图作战 tables, and one case's 立卷归档.

Pure: plain data in (bot/supervision/dashboard.py gathers it), bytes out. Every sheet has Chinese headers,
a frozen, bold header row, widths fitted to the text, and prints landscape, one page wide, with
the header repeated on every page.

Every string is written as text, never as a formula: names and comments come from applicants,
and openpyxl stores any string starting with "=" as a live formula (=HYPERLINK, =WEBSERVICE).
Characters XML cannot hold are dropped on the way out too, so no stored row breaks a report.
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bot.casework.agreements import version_name
from bot.casework.cases import action_name
from bot.identifiers import rectification_number
from bot.platform import clock
from bot.platform.text_safety import looks_like_formula, xml_safe
from bot.supervision.dashboard import ESCALATION_LEVELS, Archive, Dashboard, LedgerRow
from bot.vocabulary import (ACTOR_KINDS, CASE_STATES, COMPLETION_STATES, ESCALATION_STATES, ITEM_STATES, RATING_LEVELS,
                            RECTIFICATION_STATES)

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")
WRAP = Alignment(wrap_text=True, vertical="top")
CAPTION_FONT = Font(bold=True, size=12)
MAX_WIDTH = 60
WIDTH_SAMPLE = 2000
EXCEL_CELL_CHARS = 32767  # Excel's limit for one cell; a longer one makes it "repair" the file
PERCENT_FORMAT = "0.0%"
LEDGER_HEADERS = ("时间", "案件编号", "项目单位", "项目名称", "审批事项", "记录人类别", "记录人", "动作", "内容")


@dataclass
class Sheet:
    title: str
    headers: Sequence[str]
    rows: Iterable[Sequence]
    caption: str | None = None  # a line above the table (what, where, when)
    wrap: bool = False  # wrap cells holding line breaks


class Percent(float):
    """A share (0.833) written as a number Excel shows as a percentage (83.3%), so it still sorts
    and sums; None (nothing to divide) stays an empty cell."""


def percent(value: float | None) -> Percent | None:
    return Percent(value) if value is not None else None


def local(dt: datetime | None) -> str:
    return clock.stamp(dt)


def _width(value) -> float:
    text = "" if value is None else f"{value:.1%}" if isinstance(value, Percent) else str(value)
    # CJK characters print about twice as wide as Latin ones.
    longest = max((sum(2 if ord(ch) > 0x2E80 else 1 for ch in line) for line in text.split("\n")), default=0)
    return longest


def _cell(value):
    if isinstance(value, datetime):
        return local(value)
    if isinstance(value, str):
        value = xml_safe(value)
        return value if len(value) <= EXCEL_CELL_CHARS else value[:EXCEL_CELL_CHARS - 1] + "…"
    return value


def _out(ws, value, wrap: bool = False, font: Font | None = None, fill: PatternFill | None = None):
    """What to append for `value`: the value itself, or a cell when it needs a style or must be
    kept from being read as a formula."""
    formula_like = isinstance(value, str) and looks_like_formula(value)
    wrapped = wrap and isinstance(value, str) and "\n" in value
    share = isinstance(value, Percent)
    if not (formula_like or wrapped or share or font or fill):
        return value
    cell = WriteOnlyCell(ws, value=float(value) if share else value)
    if share:
        cell.number_format = PERCENT_FORMAT
    if formula_like:
        # Text, as OWASP asks: the string type, and the quote prefix (what a typed leading ' is in
        # xlsx), so Excel also keeps it text when someone edits the cell.
        cell.data_type = "s"
        cell.quotePrefix = True
    if wrapped:  # text with line breaks (an item's history) prints on several lines
        cell.alignment = WRAP
    if font:
        cell.font = font
    if fill:
        cell.fill = fill
    return cell


def write_sheet(wb: Workbook, sheet: Sheet) -> None:
    """One sheet in a write-only workbook (fast and lean for a year's ledger): caption, header,
    rows; widths from the header and the first WIDTH_SAMPLE rows, set before any row is written."""
    ws = wb.create_sheet(sheet.title[:31])
    rows = [[_cell(v) for v in row] for row in sheet.rows]
    widths = [_width(h) + 2 for h in sheet.headers]
    for row in rows[:WIDTH_SAMPLE]:
        for col, value in enumerate(row[:len(widths)]):
            widths[col] = max(widths[col], min(_width(value) + 2, MAX_WIDTH))
    for col, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(col)].width = max(8, min(w, MAX_WIDTH))
    header_row = 3 if sheet.caption else 1
    # Write-only sheets emit their settings with the first row: set everything before appending.
    ws.freeze_panes = f"A{header_row + 1}"
    ws.print_title_rows = f"{header_row}:{header_row}"
    last = header_row + len(rows)
    if rows:
        ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(sheet.headers))}{last}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if sheet.caption:
        ws.append([_out(ws, _cell(sheet.caption), font=CAPTION_FONT)])
        ws.append([])
    ws.append([_out(ws, _cell(title), font=HEADER_FONT, fill=HEADER_FILL) for title in sheet.headers])
    for row in rows:
        ws.append([_out(ws, v, wrap=sheet.wrap) for v in row])


def workbook(sheets: Iterable[Sheet]) -> bytes:
    wb = Workbook(write_only=True)
    for sheet in sheets:
        write_sheet(wb, sheet)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _ledger_cells(rows: Iterable[LedgerRow]):
    for e in rows:
        yield (e.at, e.case_number, e.company, e.project, e.item or "", ACTOR_KINDS.get(e.actor_kind, e.actor_kind),
               e.actor or "", action_name(e.action), e.detail)


# -- the three workbooks ------------------------------------------------------------------

def ledger_workbook(rows: Sequence[LedgerRow], region: str, start: date, end: date) -> bytes:
    return workbook([Sheet("服务记录台账", LEDGER_HEADERS, _ledger_cells(rows),
                           caption=f"服务记录台账 · {region} · {start:%Y-%m-%d} 至 {end:%Y-%m-%d} · 共 {len(rows)} 条")])


def dashboard_workbook(d: Dashboard, region: str, stage_name=lambda s: s, commissioner: str | None = None,
                       archive_waiting: Sequence = ()) -> bytes:
    f = d.filters
    scope = f"{region} · {f.start:%Y-%m-%d} 至 {f.end:%Y-%m-%d}" + (f" · 专员：{commissioner}" if commissioner else "")
    item_headers = ("案件编号", "项目单位", "项目名称", "审批事项", "审批部门", "事项状态", "承诺办结日", "帮代办专员")
    total = d.ratings_total
    return workbook([
        Sheet("案件状态", ("状态", "案件数"), [(label, n) for _, label, n in d.by_state] + [("合计", d.cases_total)],
              caption=f"案件状态（期间内申请的案件）· {scope}"),
        Sheet("案件阶段", ("所处阶段", "案件数", "其中未结"), [(stage_name(s), n, o) for s, n, o in d.by_stage],
              caption=f"案件阶段（期间内申请的案件）· {scope}"),
        Sheet("逾期事项", (*item_headers, "逾期天数", "逾期工作日"),
              [(r.case_number, r.company, r.project, r.item, r.department, r.state_label, r.due_date,
                r.commissioner or "待分派", r.days, r.workdays) for r in d.overdue],
              caption=f"逾期事项（截至 {d.today:%Y-%m-%d}，共 {d.overdue_total} 项）· {scope}"),
        Sheet("临期事项", (*item_headers, "剩余天数", "剩余工作日"),
              [(r.case_number, r.company, r.project, r.item, r.department, r.state_label, r.due_date,
                r.commissioner or "待分派", r.days, r.workdays) for r in d.due_soon],
              caption=f"{f.due_within_wd}个工作日内到期（至 {d.due_cutoff:%Y-%m-%d}，共 {d.due_soon_total} 项）· {scope}"),
        Sheet("专员工作量", ("帮代办专员", "未结案件", "未办结事项", "逾期事项", "临期事项"),
              [(r.name, r.open_cases, r.open_items, r.overdue_items, r.due_soon_items) for r in d.load],
              caption=f"专员在办工作量（当前）· {scope}"),
        Sheet("专员考核", ("帮代办专员", "承办案件", "已办结", "已办结事项", "按时办结事项", "按时办结率",
                          "评价条数", "平均评价", "差评", "整改未结", "整改已结"),
              [(r.name, r.cases, r.closed, r.items_done, r.items_on_time,
                percent(r.on_time_rate), r.ratings, r.rating_avg,
                r.bad_ratings, r.rectifications_open, r.rectifications_closed) for r in d.performance],
              caption=f"专员考核（{f.start:%Y-%m-%d} 至 {f.end:%Y-%m-%d} 申请的案件）· {scope}"),
        Sheet("办理用时", ("所处阶段", "受理用时中位数（天）", "受理样本数", "承办用时中位数（天）", "承办样本数",
                          "事项审批用时中位数（天）", "事项样本数"),
              [(stage_name(s.stage), s.accept.days, s.accept.n, s.handle.days, s.handle.n, s.item.days, s.item.n)
               for s in d.durations],
              caption="办理用时中位数（自然日）：受理=申请→受理；承办=受理→办结（不含终止）；事项=首次申报→事项办结；"
                      "按期间内结束的计"),
        Sheet("事项环节停留", ("事项状态", "停留天数中位数", "样本数"),
              [(label, m.days, m.n) for _, label, m in d.dwell], caption="事项在各状态停留的自然日中位数"),
        Sheet("好差评", ("月份", *RATING_LEVELS.values(), "合计", "满意率"),
              [(m.month, *(m.counts.get(lv, 0) for lv in RATING_LEVELS), m.total, percent(m.rate))
               for m in [*d.ratings, total]],
              caption=f"好差评（满意率 = 非常满意+满意+基本满意 / 全部评价）· {scope}"),
        Sheet("协调事项", ("编号", "案件编号", "项目单位", "项目名称", "提请层级", "问题", "提请人", "提请时间", "帮代办专员",
                          "层级", "协调单位", "答复期限", "是否超期", "可上报", "告知企业", "越级理由"),
              [(f"E{e.id}", e.case_number, e.company, e.project, e.level, e.note, e.raised_by or "", e.raised_at,
                e.commissioner or "", f"第{e.tier_no}级" if e.tier_no else "原协调层级", e.who, e.due_date or "未设期限",
                "是" if e.overdue else "否", e.next_level or "", "是" if e.told else "否", e.skip_reason or "")
               for e in d.escalations], caption=f"未解决的协调事项（按本地区协调层级，低层级在前）· {scope}"),
        Sheet("整改", ("编号", "案件编号", "项目单位", "评价", "评价意见", "状态", "整改期限", "负责人", "是否逾期"),
              [(r.number, r.case_number, r.company, RATING_LEVELS.get(r.level, r.level), r.comment or "",
                r.state_label, r.due_date, r.supervisor or "", "是" if r.overdue else "否") for r in d.rectifications],
              caption=f"未办结的整改 · {scope}"),
        Sheet("重点项目", ("案件编号", "项目单位", "项目名称", "案件状态", "服务选项", "帮代办专员", "未办结事项",
                          "逾期事项", "最近承诺办结日"),
              [(r.case_number, r.company, r.project, r.state_label, r.service_option or "", r.commissioner or "待分派",
                r.open_items, r.overdue_items, r.next_due or "") for r in d.key_projects],
              caption=f"重点项目挂图作战（绿色通道，未结案件，当前）· {scope}"),
        Sheet("计划与进度", ("案件编号", "项目单位", "项目名称", "案件状态", "帮代办专员", "计划全部办结", "已办结事项",
                          "事项数", "滞后事项", "最多滞后（工作日）", "滞后明细"),
              [(r.case_number, r.company, r.project, r.state_label, r.commissioner or "待分派",
                r.plan.planned_finish or "", r.plan.done, r.plan.items, r.plan.late_items, r.plan.slip_workdays,
                r.late_text) for r in d.plans],
              caption=f"一企一策计划与进度（未结案件，按滞后排列，当前）· {scope}"),
        Sheet("待企业确认办结", ("案件编号", "项目单位", "项目名称", "状态", "帮代办专员", "请企业确认", "答复期限"),
              [(r.case_number, r.company, r.project, r.state_label, r.commissioner or "待分派", local(r.requested_at),
                r.deadline) for r in d.completion_waiting],
              caption=f"待企业确认办结（逾期未答复视为确认，当前）· {scope}"),
        # Regions in tiers (issue 17 item 6): the region's direct subordinates, only where it has any.
        *([Sheet("下级地区", ("地区", "层级", "期间内申请", "未结案件", "待分派", "逾期事项", "在岗专员"),
                 [(r.name, r.tier, r.applied, r.open_cases, r.unassigned, r.overdue_items, r.commissioners)
                  for r in d.subregions],
                 caption=f"下级地区（各含其下级；期间内申请按期间，其余为当前）· {scope}")] if d.subregions else []),
        appointments_ahead_sheet(d.appointments, scope),  # 上门受理 / 窗口预约 (issue 17 item 1)
        archive_waiting_sheet(archive_waiting, scope),  # 立卷归档 (issue 17 item 5)
    ])


def archive_waiting_sheet(rows, scope: str) -> Sheet:
    """挂图作战's 待立卷归档 panel as a sheet (bot/casework/archiving.waiting rows)."""
    return Sheet("待立卷归档", ("案件编号", "项目单位", "项目名称", "状态", "帮代办专员", "送达/终止", "缺少（必备）",
                             "缺少（可由主管说明原因）"),
                 [(r.case.number, r.case.company_name, r.case.project_name, CASE_STATES.get(r.case.state, r.case.state),
                   r.commissioner or "待分派", r.closed_on or "", "、".join(r.essential), "、".join(r.optional))
                  for r in rows],
                 caption=f"待立卷归档（已送达、已评价或已终止，尚未归档，当前）· {scope}")


def archive_workbook(a: Archive, region: str, stage_name=lambda s: s) -> bytes:
    c = a.case
    facts = [
        ("案件编号", c.number), ("服务方式", c.mode), ("案件状态", CASE_STATES.get(c.state, c.state)),
        ("项目单位", c.company_name), ("统一社会信用代码", c.credit_code), ("项目名称", c.project_name),
        ("项目代码", c.project_code or ""), ("地区", region), ("投资类型", c.investment_type),
        ("重点项目", "是" if c.key_project else "否"), ("项目类别", c.project_kind or ""),
        ("所处阶段", stage_name(c.stage)), ("项目经办人", c.contact_name), ("联系电话", c.contact_phone or ""),
        ("帮代办专员", a.commissioner or "待分派"), ("委托协议确认", local(c.agreement_consented_at)),
        ("申请时间", local(c.created_at)), ("受理时间", local(c.accepted_at)), ("结束时间", local(c.closed_at)),
        ("终止原因", c.termination_reason or ""), ("服务选项", c.service_option or ""),
    ]
    item_rows = []
    for item in a.items:
        history = a.item_history.get(item.id, [])
        item_rows.append((item.name, item.department, ITEM_STATES.get(item.state, item.state),
                          item.time_limit_wd if item.time_limit_wd is not None else "", item.due_date or "",
                          "\n".join(f"{local(h.at)} {h.detail}" for h in history)))
    sheets = [
        Sheet("案件信息", ("项目", "内容"), facts, caption=f"立卷归档 · {c.number} · {c.company_name}"),
        Sheet("审批事项", ("审批事项", "审批部门", "状态", "承诺时限（工作日）", "承诺办结日", "办理经过"), item_rows,
              caption=f"{c.number} 审批事项及办理经过", wrap=True),
        Sheet("服务记录台账", LEDGER_HEADERS, _ledger_cells(a.ledger),
              caption=f"{c.number} 服务记录台账（全部 {len(a.ledger)} 条）"),
    ]
    if a.agreement is not None:
        g = a.agreement
        sheets.append(Sheet("委托协议", ("项目", "内容"), [
            ("协议", f"《{g.title}》"), ("版本", f"{version_name(g.version)}（{g.effective_from:%Y-%m-%d}起施行）"),
            ("确认时间", local(g.agreed_at)), ("确认人", g.agreed_name), ("联系电话", g.agreed_phone or ""),
            ("确认方式", "微信公众号在线确认"), ("协议全文", g.text)],
            caption=f"{c.number} 委托协议（企业确认的版本）", wrap=True))
    if any(p.planned for p in a.plan):
        sheets.append(Sheet("一企一策计划", ("审批事项", "状态", "计划日期", "实际办结", "滞后（工作日）"),
                            [(p.name, ITEM_STATES.get(p.state, p.state), p.planned or "", p.actual or "",
                              p.late_workdays) for p in a.plan],
                            caption=f"{c.number} 一企一策计划与进度"))
    r = a.rating
    rating_rows = [("评价", RATING_LEVELS.get(r.level, r.level)), ("办事效率", _level(r.efficiency)),
                   ("服务态度", _level(r.attitude)), ("廉洁自律", _level(r.integrity)),
                   ("评价意见", r.comment or ""), ("评价时间", local(r.created_at))] if r else [
                       ("评价", "企业未评价（立卷归档时记录）" if getattr(a.archive, "rating_absent", False) else "暂无评价")]
    for rect in a.rectifications:
        rating_rows += [("整改编号", rectification_number(rect.id)),
                        ("整改状态", RECTIFICATION_STATES.get(rect.state, rect.state)),
                        ("整改期限", rect.due_date), ("负责人", a.staff_names.get(rect.supervisor_id, "")),
                        ("回访情况", rect.visit_note or ""), ("整改结果", rect.outcome or ""),
                        ("整改办结时间", local(rect.closed_at))]
    sheets.append(Sheet("评价与整改", ("项目", "内容"), rating_rows, caption=f"{c.number} 好差评与整改回访"))
    if a.escalations:
        sheets.append(Sheet("协调事项", ("编号", "提请层级", "问题", "提请人", "提请时间", "状态", "协调结果", "解决时间",
                                      "答复期限", "由下级上报", "越级理由", "告知企业", "结果告知企业"),
                            [(f"E{e.id}", e.level, e.note, a.staff_names.get(e.raised_by, ""), e.raised_at,
                              ESCALATION_STATES.get(e.state, e.state), e.resolution or "", local(e.resolved_at),
                              e.due_date or "未设期限", f"E{e.previous_id}" if e.previous_id else "", e.skip_reason or "",
                              "是" if e.tell_enterprise else "否", "是" if e.resolution_told else "否")
                             for e in a.escalations], caption=f"{c.number} 协调事项（逐级提请、上报与协调结果）"))
    if a.appointments:  # 上门受理 / 窗口预约 (issue 17 item 1)
        sheets.append(appointment_sheet(a))
    if a.completions:
        sheets.append(Sheet("办结确认", ("请企业确认时间", "答复期限", "结果", "答复时间", "异议"),
                            [(local(r.requested_at), r.deadline, COMPLETION_STATES.get(r.state, r.state),
                              local(r.answered_at), r.objection or "") for r in a.completions],
                            caption=f"{c.number} 办结确认（委托代办事项经投资者确认后办结）"))
    sheets.append(Sheet("材料交还", ("交还时机", "交还材料", "交还方式", "快递单号", "交还日期", "签收人", "说明",
                                  "登记人", "登记时间", "企业确认收到"),
                        [(h.occasion, "、".join(h.materials), h.method, h.tracking_number or "", h.returned_on,
                          h.signed_by, h.note or "", a.staff_names.get(h.recorded_by, ""), local(h.recorded_at),
                          local(h.confirmed_at) or "未确认") for h in a.handbacks] or [("暂无交还记录",)],
                        caption=f"{c.number} 材料交还（办结、终止后将有关资料交还投资者）", wrap=True))
    sheets += _archive_sheets(a)
    return workbook(sheets)


def _archive_sheets(a: Archive) -> list[Sheet]:
    """立卷归档 (issue 17 item 5): the chat's materials, and the archive with its completeness
    check as it stood when the case was archived (bot/casework/archiving.py)."""
    from bot.casework import materials as chat_materials

    c = a.case
    sheets = [Sheet("微信材料", ("编号", "类型", "文件名", "大小（字节）", "文件校验码", "收到时间", "状态", "保存时间", "说明"),
                    [(f"M{m.id}", chat_materials.KIND_NAMES.get(m.kind, m.kind), m.file_name or "", m.size or "",
                      m.md5 or "", local(m.received_at), chat_materials.STATE_NAMES.get(m.state, m.state),
                      local(m.stored_at), (m.last_error or "") if m.state == chat_materials.FAILED_STATE else "")
                     for m in a.materials] or [("企业未在微信中发来材料",)],
                    caption=f"{c.number} 企业在微信中发来的材料")]
    r = a.archive
    if r is None:
        sheets.append(Sheet("归档检查", ("项目", "内容"), [("归档", "尚未立卷归档")], caption=f"{c.number} 立卷归档"))
        return sheets
    head = [("归档编号", r.number), ("归档人", a.staff_names.get(r.archived_by, "") or ""),
            ("归档人身份", ACTOR_KINDS.get(r.actor_kind, r.actor_kind)), ("归档时间", local(r.archived_at)),
            ("评价", "企业未评价" if r.rating_absent else "见「评价与整改」"),
            ("材料退还", "无需退还" if r.no_return_needed else "见「材料交还」"), ("先行归档原因", r.reason or "")]
    checks = [(item.get("title", ""), "齐全" if item.get("ok") else "缺少", "必备" if item.get("required") else "非必备",
               item.get("detail", "")) for item in r.checklist or []]
    sheets.append(Sheet("归档检查", ("检查项", "结果", "必备", "说明"), [(k, v, "", "") for k, v in head] + checks,
                        caption=f"{c.number} 立卷归档（{r.number}）及归档时的完整性检查", wrap=True))
    return sheets


def _level(value: int | None) -> str:
    return RATING_LEVELS.get(value, "") if value else ""


__all__ = ["Sheet", "workbook", "ledger_workbook", "dashboard_workbook", "archive_workbook", "LEDGER_HEADERS",
           "ESCALATION_LEVELS"]


def appointment_sheet(a: Archive) -> Sheet:
    """The case's 上门受理 and 窗口预约 (issue 17 item 1): when, where, what to bring, the
    enterprise's answer and what happened, the oldest first."""
    from bot.casework import appointments

    return Sheet("预约上门", ("类型", "预约时间", "地点", "状态", "请企业准备", "企业希望改期", "结果", "结果登记时间",
                          "约定人", "约定时间", "企业答复时间", "提醒时间"),
                 [(appointments.kind_name(r.kind), local(r.starts_at), r.place, appointments.state_name(r.state),
                   r.bring or "", r.enterprise_note or "", r.outcome or "", local(r.outcome_at),
                   a.staff_names.get(r.proposed_by, "") if r.proposed_by else "", local(r.proposed_at),
                   local(r.answered_at), local(r.reminded_at)) for r in a.appointments],
                 caption=f"{a.case.number} 上门受理与窗口预约", wrap=True)


def appointments_ahead_sheet(rows, scope: str) -> Sheet:
    """挂图作战's 近期预约: the next two weeks' 上门受理 / 窗口预约 and every request for another time
    (bot/casework/appointments.ahead_in_region), requests first."""
    from bot.casework import appointments

    return Sheet("近期预约", ("案件编号", "项目单位", "类型", "预约时间", "地点", "状态", "企业希望改期", "帮代办专员"),
                 [(r.case_number, r.company, appointments.kind_name(r.appointment.kind), local(r.appointment.starts_at),
                   r.appointment.place, appointments.state_name(r.appointment.state), r.appointment.enterprise_note or "",
                   r.commissioner or "待分派") for r in rows],
                 caption=f"近期预约（未来两周及企业请求改期的，当前）· {scope}")
