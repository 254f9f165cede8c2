"""Follow-ups that lean on the previous answer: after 「施工许可证要什么材料」, 「那规划证呢」 asks the
same thing about another item. Pure string work over the knowledge base's item names."""
from __future__ import annotations

import re

from knowledge import KnowledgeBase

from .nlu import kb_form

_FOLLOW_UP_RE = re.compile(r"^(那|那么|那个|还有|另外|再问下?|如果是|换成)?(?P<subject>.{1,14}?)(呢|怎么样|咋样|呐)?[?？。!！]*$")


# 「不是，我问的是代办」 alone: the last question again, about what the user meant.
_CORRECTED_RE = re.compile(r"^不是(的|啦)?[，,。\s]*(我)?(问|说|想问|要问|问的)的?是(?P<subject>[^，,。？?\s]{1,10}?)(呢|啊|哈|啦)?[。！!]*$")


def is_follow_up(text: str) -> bool:
    t = text.strip()
    return len(kb_form(t)) <= 14 and (t.startswith(("那", "还有", "另外", "换成", "如果是")) or t.rstrip("?？。").endswith("呢")
                                      or _CORRECTED_RE.match(t) is not None)


def follow_up_subject(text: str) -> str | None:
    """What a follow-up asks about (「那东湖呢」 → 东湖), or None if it is not a follow-up."""
    if not is_follow_up(text):
        return None
    t = text.strip()
    m = _CORRECTED_RE.match(t) or _FOLLOW_UP_RE.match(t)
    return (m.group("subject") if m else t) or None


# 帮办 and 代办 are two services: a follow-up naming one asks the last question of it instead.
_SERVICES = ("帮代办", "帮办", "代办")


def item_names(kb: KnowledgeBase) -> list[str]:
    """The item names a follow-up may swap, longest first (施工许可证 before 施工许可), names of one
    length in a fixed order: in the set's order the first match among them changed from one
    process to the next (bench set J's follow-ups scored 84.4 % or 86.7 %)."""
    names = {n for i in kb.items.values() for n in (i.name, *i.aliases) if len(n) >= 2}
    names |= {w for w in kb.lexicon.words if len(w) >= 3}
    return sorted(names, key=lambda n: (-len(n), n))


# 「材料呢」「钱呢」 change what is asked about the same thing, not the thing itself.
ASPECTS = ("材料", "资料", "时限", "期限", "多久", "时间", "费用", "钱", "收费", "部门", "条件", "流程")


_ASKING_WORDS = re.compile(r"要|带|准备|需要|提供|交|什么|啥|哪些|多少|有没有|有|呢|吗|的|是|得|那")


def bare_aspect(text: str) -> str | None:
    """The aspect a message asks and nothing else (「要带什么资料」, 「多久呢」), or None: 「材料不齐呢」
    says something about the materials, it does not ask for them."""
    rest = _ASKING_WORDS.sub("", kb_form(text))
    return rest if rest in ASPECTS else None


def rewrite(text: str, previous_question: str, names: list[str]) -> tuple[str, str] | None:
    """(the previous question with its subject swapped for the new one, the new subject),
    or None if the message is not a follow-up. An aspect (「材料呢」 after 「竣工验收备案有期限吗」)
    is asked of the previous question's item, or of the service when it named none."""
    subject = follow_up_subject(text)
    if subject is None:
        if bare_aspect(text) is None:  # 「要带什么资料」 right after 「竣工验收后备案有时限吗」
            return None
        subject = text.strip()
    if bare_aspect(subject) is not None:
        item = next((name for name in names if name in previous_question), None)
        return f"{item or '帮办代办'}{subject}", subject
    for name in names:
        if name in previous_question:
            return previous_question.replace(name, subject, 1), subject
    if subject in _SERVICES and (other := next((w for w in _SERVICES if w in previous_question and w != subject), None)):
        return previous_question.replace(other, subject, 1), subject
    return f"{subject} {previous_question}", subject
