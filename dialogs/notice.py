"""一次性告知 (seed 003): one complete notice of every approval item ahead, with materials,
department, committed time limit and the expected date, so the enterprise prepares at once."""
from __future__ import annotations

from datetime import date

from bot.casework.cases import ItemPlan, Schedule, plan_schedule
from bot.platform.clock import date_text
from bot.platform.workdays import WorkCalendar
from knowledge import KnowledgeBase

from . import texts


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
    lines = [texts.NOTICE_HEAD.format(number=number + " " if number else "")]
    for n, planned in enumerate(schedule.items, 1):
        item = kb.items[planned.plan.code]
        limit = (texts.NOTICE_LIMIT.format(days=item.time_limit_wd) if item.time_limit_wd is not None
                 else texts.NOTICE_LIMIT_LOCAL)
        due = texts.NOTICE_DUE.format(date=date_text(planned.due)) if planned.due else ""
        lines.append(texts.NOTICE_ITEM.format(n=n, item=item.name, department=item.department, limit=limit, due=due))
        if item.materials:
            lines.append(texts.NOTICE_MATERIALS.format(materials=texts.NOTICE_LIST_SEPARATOR.join(item.materials)))
    if schedule.finish:
        lines.append(texts.NOTICE_FINISH.format(finish=schedule.finish))
    if any(not calendar.covers(p.due) for p in schedule.items if p.due):
        lines.append(texts.NOTICE_BEYOND_CALENDAR)
    ahead = later_items(kb, stage, set(codes))
    if ahead:
        lines.append(texts.NOTICE_AHEAD.format(items=texts.NOTICE_LIST_SEPARATOR.join(ahead[:8]),
                                               more=texts.NOTICE_AHEAD_MORE if len(ahead) > 8 else ""))
    lines.append(texts.NOTICE_FOOT)
    return "\n".join(lines)
