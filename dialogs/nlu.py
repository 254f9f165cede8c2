"""Understanding one message: which intent, and which entities it names.

Rules and the domain lexicon first, measured on a labelled set (bench/nlu_eval.py). Anything that
is not a conversational move or a service request is a consultation question for the knowledge
base, which has its own confidence and says when it is unsure.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

_SPACE_PUNCT_RE = re.compile(r"[\s\u3000,.!?;:~，。！？；：、…·\-—'\"“”‘’()（）\[\]【】<>《》]+")


def clean(text: str) -> str:
    return _SPACE_PUNCT_RE.sub("", unicodedata.normalize("NFKC", text or "").lower())


def _has_words(text: str) -> bool:
    """True when the message has letters, digits or CJK — not only emoji, symbols or blanks."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


GREET = {"你好", "您好", "hi", "hello", "在吗", "在不在", "有人吗", "哈喽", "嗨", "早上好", "下午好", "晚上好",
         "你好呀", "您好呀", "喂", "老师好", "领导好"}
HELP = {"菜单", "帮助", "help", "功能", "你能做什么", "你会什么", "能做什么", "怎么用", "使用说明", "menu", "0",
        "你是谁", "你能干啥", "有什么功能"}
THANKS = {"谢谢", "谢谢你", "谢谢您", "感谢", "多谢", "好的谢谢", "好的", "明白了", "知道了", "收到", "thanks",
          "thankyou", "ok", "好", "好嘞", "辛苦了", "谢啦", "懂了"}
MORE = {"更多", "继续", "下一页", "还有呢", "后面呢", "more", "接着说"}
CANCEL = {"取消", "算了", "不办了", "不要了", "退出", "不申请了", "先不了", "不用了", "结束", "cancel", "取消申请",
          "不弄了", "以后再说"}
OTHER_REGION = {"其他", "其它", "都不是", "别的地方"}

_HUMAN_RE = re.compile(r"^(转)?人工|人工(服务|客服)|找(个)?(真人|专员|人工)|联系(专员|人工|工作人员)|^客服$")
_APPLY_RE = re.compile(
    r"(申请|预约|要|想|需要|找人|找你们|请|帮我|给我)(一下)?(个)?(帮办|代办|帮代办|代跑|帮忙办|全程代办)"
    r"|(帮办|代办|帮代办)(服务)?(申请|怎么申请|在哪申请|的申请)?$"
    r"|^(我要|我想|想)(申请|办理)(服务)?$|能(帮|替)我(们)?(办|跑)|帮我(们)?(跑|办)(一下)?(手续|审批|证)"
)
_APPLY_HOWTO_RE = re.compile(r"(怎么|如何|怎样|哪里|在哪|哪儿|流程|条件|能不能|可以吗|可不可以|需要什么|区别|收费|要钱|是什么|吗|么$|有哪些|哪些)")
_PROGRESS_RE = re.compile(
    r"(我的|我们的|我司的|咱们的)?(申请|案件|事项|审批|项目|手续|件)(办|进行|进展|处理)?(得|到)?(怎么样|咋样|如何|哪一步|哪了|哪儿|进度|状态)"
    r"|(查|看|问)(一下|下)?(我的)?(进度|办理进度|审批进度|申请进度|状态)|^进度(查询)?$|办到哪"
    r"|BD-?\d{4}-?\d{6}"
)
_URGE_RE = re.compile(r"催(一下|一催|办|促|下)|太慢|怎么还没|还没(办|批|好|下来)|能快点|快一点|加快")
# Only when the message has no subject of its own: 「施工证需要准备哪些材料」 is a consultation.
_NOTICE_RE = re.compile(r"^(那|那么)?(我|我们|我司)?(还|接下来|下一步|现在)?(要|需要|得|该)(准备|提交|交|补)(些)?(什么|啥|哪些)(材料|资料|东西)?(呢|吗)?$"
                        r"|一次性告知|^(我|我们)?还差(什么|啥|哪些)(材料|资料)?(呢|吗)?$")
_EDIT_RE = re.compile(r"^(修改|更改|改一下|改|更正|换)(一下)?(?P<what>.{1,8})$")
_RATE_RE = re.compile(r"(评价|打分|好评|差评|评分|满意度)")
_ACCEPT_RE = re.compile(r"^受理\s*(?P<number>BD-?\d{4}-?\d{6})$", re.IGNORECASE)

_NUMBER_RE = re.compile(r"^(?:第)?([0-9]{1,2})(?:个|项|号)?$")
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CASE_NUMBER_RE = re.compile(r"BD-?(\d{4})-?(\d{6})", re.IGNORECASE)


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


def case_number(text: str) -> str | None:
    m = _CASE_NUMBER_RE.search(unicodedata.normalize("NFKC", text or ""))
    return f"BD-{m.group(1)}-{m.group(2)}" if m else None


def service_mode(cleaned: str) -> str | None:
    """帮办 or 代办 when the message names exactly one of them."""
    has_dai = any(w in cleaned for w in ("代办", "代跑", "替我办", "全程代办", "委托"))
    has_bang = "帮办" in cleaned and "帮代办" not in cleaned
    if has_dai and not has_bang:
        return "代办"
    if has_bang and not has_dai:
        return "帮办"
    return None


def understand(text: str) -> Understanding:
    raw = (text or "").strip()
    if not raw or not _has_words(raw):
        return Understanding("empty", raw)
    c = clean(raw)
    number = menu_number(c)
    if number is not None:
        return Understanding("select", raw, number=number)
    if c in MORE:
        return Understanding("more", raw)
    if c in CANCEL:
        return Understanding("cancel", raw)
    if _HUMAN_RE.search(c):
        return Understanding("human", raw)
    if c in GREET:
        return Understanding("greet", raw)
    if c in HELP:
        return Understanding("help", raw)
    if c in THANKS:
        return Understanding("thanks", raw)
    if c in OTHER_REGION:
        return Understanding("other_region", raw)
    m = _ACCEPT_RE.match(raw.replace(" ", ""))
    if m:
        return Understanding("accept_case", raw, entities={"case_number": case_number(m.group("number"))})
    m = _EDIT_RE.match(c)
    if m:
        return Understanding("edit", raw, entities={"what": m.group("what")})
    if _URGE_RE.search(c):
        return Understanding("urge", raw, entities=_case_entity(raw))
    if _PROGRESS_RE.search(raw) or _PROGRESS_RE.search(c):
        return Understanding("progress", raw, entities=_case_entity(raw))
    if _NOTICE_RE.search(c):
        return Understanding("notice", raw)
    if _RATE_RE.search(c) and len(c) <= 12:
        return Understanding("rate", raw)
    if _APPLY_RE.search(c) and not _APPLY_HOWTO_RE.search(c):
        mode = service_mode(c)
        intent = {"帮办": "apply_bangban", "代办": "apply_daiban"}.get(mode or "", "apply")
        return Understanding(intent, raw, entities={"mode": mode} if mode else {})
    return Understanding("consult", raw)


def _case_entity(raw: str) -> dict:
    n = case_number(raw)
    return {"case_number": n} if n else {}
