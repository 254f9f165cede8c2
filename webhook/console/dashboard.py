"""挂图作战 (supervisors only): the region's figures as charts and tables, and the Excel exports.

The figures come from bot/supervision/dashboard.py (plain data), the workbooks from bot/supervision/exports.py; this
module parses the filters, checks the role and renders.
"""
from __future__ import annotations

from datetime import date
from urllib.parse import quote

from flask import Response, abort, g, render_template, request

from bot.models import Case
from bot.platform import region_tiers
from bot.platform.clock import today as china_today
from bot.platform.workdays import WorkCalendar
from bot.supervision import dashboard as figures
from bot.supervision import escalations as escalation_tiers
from bot.supervision import exports
from bot.vocabulary import Role

from ..params import date_arg
from . import bp, charts, region_name, services, sessions, stage_name
from .archiving import waiting_board
from .auth import case_or_404, case_scope

MAX_DUE_WITHIN = 30


def require_supervisor() -> None:
    if g.staff.role != Role.SUPERVISOR:
        abort(403, description="挂图作战和导出仅限主管使用。")


def calendar() -> WorkCalendar:
    return services().calendar


def selected_region() -> str:
    """The supervisor's own region, or one below it picked in the 地区 selector (`?area=`); a region
    outside their subtree is ignored (regions in tiers, bot/platform/region_tiers.py)."""
    wanted = (request.args.get("area") or "").strip()
    return wanted if wanted in region_tiers.subtree(g.staff.region) else g.staff.region


def area_choices() -> list[tuple[str, str]]:
    """(code, label) of the supervisor's region and every region below it, indented by depth."""
    own_depth = len(region_tiers.chain(g.staff.region))
    return [(code, "\u3000" * (len(region_tiers.chain(code)) - own_depth) + region_name(code))
            for code in _depth_first(g.staff.region)]


def _depth_first(code: str) -> list[str]:
    return [code, *(c for child in region_tiers.children(code) for c in _depth_first(child.code))]


def parse_filters(db) -> tuple[figures.Filters, list[tuple[int, str]]]:
    """Region is the supervisor's own or one below it; a commissioner outside that region is ignored."""
    today = china_today()
    start = date_arg("from", date(today.year, 1, 1))
    end = date_arg("to", today)
    if end < start:
        start, end = end, start
    region = selected_region()
    people = figures.commissioners(db, region)
    wanted = request.args.get("commissioner", type=int)
    commissioner_id = wanted if wanted in {sid for sid, _ in people} else None
    due = request.args.get("due", figures.DEFAULT_DUE_WITHIN_WD, type=int)
    due = min(max(due if due is not None else figures.DEFAULT_DUE_WITHIN_WD, 0), MAX_DUE_WITHIN)
    return figures.Filters(region, start, end, commissioner_id, due), people


def region_case(db, number: str, for_update: bool = False) -> Case:
    """A case of the signed-in staff's scope, else 404."""
    return case_or_404(db, number, case_scope(g.staff), for_update)


def _query_args(f: figures.Filters) -> dict:
    args = {"from": f.start.isoformat(), "to": f.end.isoformat(), "due": f.due_within_wd}
    if f.commissioner_id is not None:
        args["commissioner"] = f.commissioner_id
    if f.region != g.staff.region:
        args["area"] = f.region
    return args


@bp.get("/dashboard")
def dashboard():
    require_supervisor()
    with sessions()() as db:
        f, people = parse_filters(db)
        d = figures.build(db, f, calendar(), china_today())
    stage_rows = [(stage_name(s), n, o) for s, n, o in d.by_stage]
    total = d.ratings_total
    chart = {
        "state": charts.hbar("案件状态分布（期间内申请的案件）", [(label, n) for _, label, n in d.by_state], "件"),
        "stage": charts.hbar("案件所处阶段分布", [(name, n) for name, n, _ in stage_rows], "件"),
        "load": charts.hbar("专员在办案件数", [(r.name, r.open_cases) for r in d.load], "件"),
        "overdue_load": charts.hbar("专员名下逾期事项数", [(r.name, r.overdue_items) for r in d.load], "项",
                                    colour=charts.PALETTE["warn"]),
        "ratings": charts.stacked_months("好差评分布（按月）", [(m.month, m.counts) for m in d.ratings],
                                         figures.RATING_LEVELS),
        "rate": charts.rate_line("满意率（按月）", [(m.month, m.rate) for m in d.ratings]),
        "durations": charts.hbar("承办用时中位数（受理→办结，天）",
                                 [(stage_name(s.stage), s.handle.days or 0) for s in d.durations], "天"),
    }
    names = dict(people)
    return render_template(
        "console/dashboard.html", d=d, f=f, people=people, chart=chart, stage_rows=stage_rows, total=total,
        commissioner_name=names.get(f.commissioner_id), levels=figures.RATING_LEVELS,
        escalation_ladder=escalation_tiers.ladder(f.region), stage_name=stage_name, query=_query_args(f),
        max_due=figures.LIST_LIMIT, region=region_name(f.region),
        areas=area_choices() if region_tiers.children(g.staff.region) else [],
    )


def _xlsx(data: bytes, filename: str) -> Response:
    # Old clients read the ASCII name: what is left of a Chinese name, without its dangling dashes.
    ascii_name = filename.encode("ascii", "ignore").decode().lstrip("-") or "export.xlsx"
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"})


@bp.get("/export/ledger.xlsx")
def export_ledger():
    require_supervisor()
    with sessions()() as db:
        f, _ = parse_filters(db)
        rows = figures.ledger_rows(db, f)
    region = region_name(f.region)
    data = exports.ledger_workbook(rows, region, f.start, f.end)
    return _xlsx(data, f"服务记录台账-{region}-{f.start:%Y%m%d}-{f.end:%Y%m%d}.xlsx")


@bp.get("/export/dashboard.xlsx")
def export_dashboard():
    require_supervisor()
    with sessions()() as db:
        f, people = parse_filters(db)
        d = figures.build(db, f, calendar(), china_today())
    waiting, _ = waiting_board(f.commissioner_id)
    region = region_name(f.region)
    data = exports.dashboard_workbook(d, region, stage_name, dict(people).get(f.commissioner_id), waiting)
    return _xlsx(data, f"挂图作战-{region}-{d.today:%Y%m%d}.xlsx")


@bp.get("/cases/<number>/archive.xlsx")
def export_archive(number: str):
    require_supervisor()
    with sessions()() as db:
        case = region_case(db, number)
        archive = figures.archive_of(db, case)
        data = exports.archive_workbook(archive, region_name(case.region), stage_name)
    return _xlsx(data, f"立卷归档-{case.number}.xlsx")

