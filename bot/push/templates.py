"""The template messages a deployment needs: for each template key, the fields its pushes fill.

A template key is what a Notification's `template` names and WECHAT_TEMPLATE_IDS maps to the id
of a template in 公众号后台 → 模板消息 (several purposes may share one key: the 待受理提醒 uses the
分派 template). The fields are what bot/push/notify.py (every push) and bot/supervision/sla.py (the sweep's, built
in SQL) put in `data`; `required` ones are filled by every push of that key (an optional one,
like a 快递单号, is empty for some), so an account's template may insist on them. The labels are how the field reads to a person (the web chat shows a template
message with them, as WeChat shows a template's keywords).

Each field has a WeChat value type (the new-style templates name their keywords by it:
thing1.DATA, character_string2.DATA, phrase3.DATA, time4.DATA …) and each type its limit
(FIELD_TYPES). `fit` cuts a value to its field's limit, on a character, with 「…」 where the type
allows it (a phrase is Chinese characters only, a number digits only: those are cut short or
left whole, never given an ellipsis that would break the type). Every push's data goes through it
(bot/push/notify.py when it is queued, and the dispatcher again before a template or subscribe
message is sent, which covers the SLA sweep's rows built in SQL).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ELLIPSIS = "…"


@dataclass(frozen=True)
class FieldType:
    max_chars: int | None  # None: no length rule (a format rule instead)
    ellipsis: bool = True  # may a cut value end in 「…」 (a symbol)?


# WeChat's value rules per type (template and subscribe messages alike).
FIELD_TYPES: dict[str, FieldType] = {
    "thing": FieldType(20),  # 事物: 20 characters, Chinese, letters, digits, symbols
    "const": FieldType(20),
    "character_string": FieldType(32),  # letters, digits, symbols
    "name": FieldType(10),  # 10 Chinese characters (or 20 letters)
    "phrase": FieldType(5, ellipsis=False),  # 5 Chinese characters only
    "number": FieldType(32, ellipsis=False),  # digits only: a cut number would lie, it is not cut
    "letter": FieldType(32, ellipsis=False),
    "symbol": FieldType(5, ellipsis=False),
    "phone_number": FieldType(17, ellipsis=False),
    "car_number": FieldType(8, ellipsis=False),
    "amount": FieldType(None),
    "date": FieldType(None),  # 2026年12月3日 / 2026-12-03, optionally with a 24-hour time
    "time": FieldType(None),
}
DEFAULT_TYPE = "thing"
_NOT_CUT = frozenset({"number"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")  # newlines and other control characters are not allowed


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool = True
    type: str = DEFAULT_TYPE


def _fields(*spec: str) -> tuple[Field, ...]:
    """'number:案件编号:character_string': key, label and value type (default thing); a trailing
    '?' on the label ('tracking:快递单号?') makes the field optional."""
    out = []
    for item in spec:
        key, label, *kind = item.split(":")
        out.append(Field(key, label.rstrip("?"), not label.endswith("?"), kind[0] if kind else DEFAULT_TYPE))
    return tuple(out)


TEMPLATE_FIELDS: dict[str, tuple[Field, ...]] = {
    # to the enterprise
    "accepted": _fields("number:案件编号:character_string", "commissioner:帮代办专员", "mode:服务方式:phrase"),
    "progress": _fields("number:案件编号:character_string", "item:审批事项", "state:办理状态:phrase"),
    "correction": _fields("number:案件编号:character_string", "item:审批事项", "missing:需补正材料", "due:补正期限:date"),
    "completed": _fields("number:案件编号:character_string", "project:项目名称"),
    "delivered": _fields("number:案件编号:character_string", "method:送达方式:phrase", "tracking:快递单号?:character_string"),
    "terminated": _fields("number:案件编号:character_string", "reason:终止原因"),
    "rating": _fields("number:案件编号:character_string", "project:项目名称"),
    "handoff_answer": _fields("name:答复专员", "answer:答复内容"),
    "rectification_feedback": _fields("number:案件编号:character_string", "outcome:整改结果"),
    "sla_apology": _fields("number:案件编号:character_string", "item:审批事项", "due:承诺期限:date"),
    # to staff
    "assignment": _fields("number:案件编号:character_string", "company:申请企业", "mode:服务方式:phrase"),
    "item_reported": _fields("number:案件编号:character_string", "item:审批事项", "state:办理状态:phrase"),
    "urge": _fields("number:案件编号:character_string", "items:待办事项"),
    "handoff": _fields("number:转人工编号:character_string", "question:企业问题"),
    "rectification": _fields("number:案件编号:character_string", "level:评价结果:phrase", "due:回访期限:date"),
    "accept_escalation": _fields("number:案件编号:character_string", "company:申请企业", "reason:超时情况"),
    "sla_warn": _fields("number:案件编号:character_string", "item:审批事项", "due:承诺期限:date"),
    "sla_urge": _fields("number:案件编号:character_string", "item:审批事项", "due:承诺期限:date"),
    "sla_overdue": _fields("date:日期:date", "count:超期事项数:number", "oldest:最早期限:date"),
    "sla_escalate": _fields("date:日期:date", "count:升级事项数:number"),
    "digest": _fields("date:日期:date", "region:地区", "open:在办案件:number", "unassigned:待分派:number", "overdue:超期事项:number",
                      "dead:发送失败:number"),
}


def required_keys(template: str) -> list[str]:
    return [f.key for f in TEMPLATE_FIELDS.get(template, ()) if f.required]


def field_label(template: str | None, key: str) -> str | None:
    """The field's name as a person reads it; None for a field this table does not know."""
    for f in TEMPLATE_FIELDS.get(template or "", ()):
        if f.key == key:
            return f.label
    return None


def field_type(template: str | None, key: str) -> str:
    """The value type of `template`'s field `key`; a key named like a new-style template's
    keyword ('thing3', 'character_string12') is its own type; anything else is a thing."""
    for f in TEMPLATE_FIELDS.get(template or "", ()):
        if f.key == key:
            return f.type
    prefix = re.sub(r"\d+$", "", key)
    return prefix if prefix in FIELD_TYPES else DEFAULT_TYPE


def cut(value: object, kind: str = DEFAULT_TYPE) -> str:
    """`value` as a field of type `kind` may carry it: one line, within the type's length."""
    text = _CONTROL.sub(" ", "" if value is None else str(value)).strip()
    rule = FIELD_TYPES.get(kind, FIELD_TYPES[DEFAULT_TYPE])
    if rule.max_chars is None or kind in _NOT_CUT or len(text) <= rule.max_chars:
        return text
    if not rule.ellipsis:
        return text[:rule.max_chars]
    return text[:rule.max_chars - 1].rstrip() + ELLIPSIS


def fit(template: str | None, key: str, value: object) -> str:
    return cut(value, field_type(template, key))


def fit_all(template: str | None, data: dict | None) -> dict:
    """Every field of `data` cut to its limit (entries already shaped {"value": …} are cut inside)."""
    out = {}
    for key, value in (data or {}).items():
        if isinstance(value, dict) and "value" in value:
            out[key] = {**value, "value": fit(template, key, value["value"])}
        else:
            out[key] = fit(template, key, value)
    return out
