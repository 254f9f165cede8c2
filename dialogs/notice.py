"""一次性告知 (seed 003): one complete notice of every approval item ahead, with materials,
department, committed time limit and the expected date, so the enterprise prepares at once."""
from __future__ import annotations

from datetime import date

from bot.cases import ItemPlan, Schedule, plan_schedule
from bot.clock import date_text
from bot.workdays import WorkCalendar
from knowledge import KnowledgeBase


def item_plans(kb: KnowledgeBase, codes) -> list[ItemPlan]:
    return [ItemPlan(i.id, i.name, i.department, i.stage, i.time_limit_wd, i.after)
            for c in codes if (i := kb.items.get(c))]


def later_items(kb: KnowledgeBase, stage: str, chosen) -> list[str]:
    """Names of catalogue items in later stages, so nothing ahead comes as a surprise."""
    later = [i for i in kb.items.values() if i.stage.isdigit() and stage.isdigit()
             and int(i.stage) > int(stage) and i.id not in chosen]
    return [i.name for i in later]


def one_time_notice(kb: KnowledgeBase, codes, stage: str, start: date, calendar: WorkCalendar,
                    number: str | None = None) -> str:
    schedule: Schedule = plan_schedule(item_plans(kb, codes), start, calendar)
    head = f"【一次性告知】{number + ' ' if number else ''}以下事项请一次准备齐全："
    lines = [head]
    for n, planned in enumerate(schedule.items, 1):
        item = kb.items[planned.plan.code]
        limit = f"承诺时限约{item.time_limit_wd}个工作日" if item.time_limit_wd is not None else "时限以当地承诺为准"
        when = f"，预计{date_text(planned.due)}前办结" if planned.due else ""
        lines.append(f"{n}. {item.name}（{item.department}；{limit}{when}）")
        if item.materials:
            lines.append("   材料：" + "、".join(item.materials))
    if schedule.finish:
        lines.append(f"按工作日推算，以上事项预计{schedule.finish:%Y年%m月%d日}前全部办结（已扣除法定节假日）。")
    if any(not calendar.covers(p.due) for p in schedule.items if p.due):
        lines.append("（部分日期超出已公布的节假日安排，仅按周末推算。）")
    ahead = later_items(kb, stage, set(codes))
    if ahead:
        lines.append("后续阶段还将涉及：" + "、".join(ahead[:8]) + ("等" if len(ahead) > 8 else "") + "。")
    lines.append("以上材料为一般性清单，具体以审批部门办事指南为准；随时回复「我还要准备什么」可再次查看。")
    return "\n".join(lines)
