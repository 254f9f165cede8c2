"""The template messages a deployment needs: for each template key, the fields its pushes fill.

A template key is what a Notification's `template` names and WECHAT_TEMPLATE_IDS maps to the id
of a template in 公众号后台 → 模板消息 (several purposes may share one key: the 待受理提醒 uses the
分派 template). The fields are what bot/push/notify.py (every push) and bot/supervision/sla.py (the sweep's, built
in SQL) put in `data`; `required` ones are filled by every push of that key (an optional one,
like a 快递单号, is empty for some), so an account's template may insist on them. The labels are how the field reads to a person (the web chat shows a template
message with them, as WeChat shows a template's keywords).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool = True


def _fields(*spec: str) -> tuple[Field, ...]:
    """'number:案件编号' is required; a trailing '?' ('tracking:快递单号?') makes it optional."""
    out = []
    for item in spec:
        key, label = item.split(":")
        out.append(Field(key, label.rstrip("?"), not label.endswith("?")))
    return tuple(out)


TEMPLATE_FIELDS: dict[str, tuple[Field, ...]] = {
    # to the enterprise
    "accepted": _fields("number:案件编号", "commissioner:帮代办专员", "mode:服务方式"),
    "progress": _fields("number:案件编号", "item:审批事项", "state:办理状态"),
    "correction": _fields("number:案件编号", "item:审批事项", "missing:需补正材料", "due:补正期限"),
    "completed": _fields("number:案件编号", "project:项目名称"),
    "delivered": _fields("number:案件编号", "method:送达方式", "tracking:快递单号?"),
    "terminated": _fields("number:案件编号", "reason:终止原因"),
    "rating": _fields("number:案件编号", "project:项目名称"),
    "handoff_answer": _fields("name:答复专员", "answer:答复内容"),
    "rectification_feedback": _fields("number:案件编号", "outcome:整改结果"),
    "sla_apology": _fields("number:案件编号", "item:审批事项", "due:承诺期限"),
    # to staff
    "assignment": _fields("number:案件编号", "company:申请企业", "mode:服务方式"),
    "item_reported": _fields("number:案件编号", "item:审批事项", "state:办理状态"),
    "urge": _fields("number:案件编号", "items:待办事项"),
    "handoff": _fields("number:转人工编号", "question:企业问题"),
    "rectification": _fields("number:案件编号", "level:评价结果", "due:回访期限"),
    "accept_escalation": _fields("number:案件编号", "company:申请企业", "reason:超时情况"),
    "sla_warn": _fields("number:案件编号", "item:审批事项", "due:承诺期限"),
    "sla_urge": _fields("number:案件编号", "item:审批事项", "due:承诺期限"),
    "sla_overdue": _fields("date:日期", "count:超期事项数", "oldest:最早期限"),
    "sla_escalate": _fields("date:日期", "count:升级事项数"),
    "digest": _fields("date:日期", "region:地区", "open:在办案件", "unassigned:待分派", "overdue:超期事项",
                      "dead:发送失败"),
}


def required_keys(template: str) -> list[str]:
    return [f.key for f in TEMPLATE_FIELDS.get(template, ()) if f.required]


def field_label(template: str | None, key: str) -> str | None:
    """The field's name as a person reads it; None for a field this table does not know."""
    for f in TEMPLATE_FIELDS.get(template or "", ()):
        if f.key == key:
            return f.label
    return None
