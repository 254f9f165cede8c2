"""「我的申请」's lines about 协调事项 the enterprise was told of (issue 17 item 7;
bot/supervision/escalations.py): 「协调中：已提交联席会议（预计12月10日前答复）」 while a tier works on
it, the result once the supervisor records it with 「告知企业」. Nothing for escalations the
supervisor kept internal."""
from __future__ import annotations

from datetime import date

from bot.models import Case
from bot.platform.clock import date_text
from bot.supervision import escalations

OPEN_LINE = "协调中：已提交{level}（预计{due}前答复）"
OPEN_LINE_NO_DUE = "协调中：已提交{level}"
RESULT_LINE = "协调结果（{level}）：{resolution}"


def progress_lines(db, case: Case, today: date) -> list[str]:
    out = []
    for view in escalations.enterprise_view(db, case):
        if view.resolution is not None:
            out.append(RESULT_LINE.format(level=view.level, resolution=view.resolution[:200]))
        elif view.due_date:
            out.append(OPEN_LINE.format(level=view.level, due=date_text(view.due_date, today)))
        else:
            out.append(OPEN_LINE_NO_DUE.format(level=view.level))
    return out
