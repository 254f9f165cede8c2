"""Understanding one message: which intent, and which entities it names.

Rules and the domain lexicon first (measured by bench/ once the labelled set grows); anything
that is not a conversational move is a consultation question for the knowledge base.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

_SPACE_PUNCT_RE = re.compile(r"[\s\u3000,.!?;:~，。！？；：、…·\-—'\"“”‘’()（）\[\]【】]+")


def _clean(text: str) -> str:
    return _SPACE_PUNCT_RE.sub("", unicodedata.normalize("NFKC", text or "").lower())


def _has_words(text: str) -> bool:
    """True when the message has letters, digits or CJK — not only emoji, symbols or blanks."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


GREET = {"你好", "您好", "hi", "hello", "在吗", "在不在", "有人吗", "哈喽", "嗨", "早上好", "下午好", "晚上好", "你好呀", "您好呀"}
HELP = {"菜单", "帮助", "help", "功能", "你能做什么", "你会什么", "能做什么", "怎么用", "使用说明", "menu", "0"}
THANKS = {"谢谢", "谢谢你", "谢谢您", "感谢", "多谢", "好的谢谢", "好的", "明白了", "知道了", "收到", "thanks", "thankyou", "ok", "好"}
MORE = {"更多", "继续", "下一页", "还有呢", "后面呢", "more"}
HUMAN = {"转人工", "人工", "人工服务", "人工客服", "找人工", "真人", "联系专员", "找专员", "客服"}
OTHER_REGION = {"其他", "其它", "都不是", "别的地方"}

_NUMBER_RE = re.compile(r"^(?:第)?([0-9]{1,2})(?:个|项|号)?$")
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


@dataclass(frozen=True)
class Understanding:
    intent: str
    text: str
    number: int | None = None
    entities: dict = field(default_factory=dict)


def menu_number(cleaned: str) -> int | None:
    m = _NUMBER_RE.match(cleaned)
    if m:
        return int(m.group(1))
    if len(cleaned) <= 3:
        core = cleaned.removeprefix("第").removesuffix("个").removesuffix("项")
        if core in _CN_DIGITS:
            return _CN_DIGITS[core]
    return None


def understand(text: str) -> Understanding:
    raw = (text or "").strip()
    if not raw or not _has_words(raw):
        return Understanding("empty", raw)
    c = _clean(raw)
    number = menu_number(c)
    if number is not None:
        return Understanding("select", raw, number=number)
    if c in MORE:
        return Understanding("more", raw)
    if c in HUMAN or c.startswith("转人工"):
        return Understanding("human", raw)
    if c in GREET:
        return Understanding("greet", raw)
    if c in HELP:
        return Understanding("help", raw)
    if c in THANKS:
        return Understanding("thanks", raw)
    if c in OTHER_REGION:
        return Understanding("other_region", raw)
    return Understanding("consult", raw)
