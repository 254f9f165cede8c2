"""Validators and log maskers for the identifiers users type into the application form.

Every ``check_*`` function is pure and returns a :class:`Check`: either the normalised
value or one polite Chinese sentence that tells the user what is wrong and what to do.
The messages are shown to the applicant as-is, so they never contain internals and never
reveal a correct check character (that would let anyone "fix" a code without the licence).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

__all__ = [
    "Check",
    "normalize",
    "check_credit_code",
    "check_project_code",
    "check_phone",
    "mask_credit_code",
    "mask_phone",
    "CASE_NUMBER_RE",
    "find_case_number",
    "case_number",
    "rectification_number",
]


@dataclass(frozen=True)
class Check:
    ok: bool
    value: str | None
    error: str | None

    @classmethod
    def valid(cls, value: str) -> "Check":
        return cls(True, value, None)

    @classmethod
    def invalid(cls, error: str) -> "Check":
        return cls(False, None, error)


# Dashes people actually type: ASCII, the full-width one (NFKC already folds it), and the
# hyphen/dash family a Chinese IME or a copy from Word produces.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_DASH_RE = re.compile(f"[{_DASHES}]")
_SPACE_RE = re.compile(r"\s+")
_ASCII_DIGITS_RE = re.compile(r"[0-9]+")


def _fold(text: str, *, upper: bool = True) -> str:
    """NFKC (full-width → half-width), unify dashes to '-', trim, and upper-case.

    ``upper=False`` is for messages that quote what the user typed: quoting “A” back at
    someone who typed “a” is confusing.
    """
    folded = _DASH_RE.sub("-", unicodedata.normalize("NFKC", text or "")).strip()
    return folded.upper() if upper else folded


def normalize(text: str, *, drop_separators: bool = True) -> str:
    """Full-width → half-width (NFKC), upper-case, and drop spaces and hyphens.

    Separators carry no meaning in a credit code or a phone number, and users copy them
    from licences and business cards in every width; ``drop_separators=False`` keeps them
    (as single ASCII '-' / ' ') for formats where their position matters.
    """
    folded = _fold(text)
    if drop_separators:
        return _SPACE_RE.sub("", folded).replace("-", "")
    return _SPACE_RE.sub(" ", folded)


def _quote_chars(chars: list[str], limit: int = 5) -> str:
    unique = list(dict.fromkeys(chars))
    shown = "".join(f"“{c}”" for c in unique[:limit])
    return shown + ("等" if len(unique) > limit else "")


# --------------------------------------------------------------------------------------
# 统一社会信用代码 (GB 32100-2015)
# --------------------------------------------------------------------------------------

# The 31 characters of GB 32100: digits and capitals without I, O, Z, S, V (too easily
# confused with 1, 0, 2, 5, U). The index of a character is its value in the check sum.
CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_CHARS)}
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# The letters the standard leaves out, and what the user most likely meant.
_EXCLUDED_LETTER_HINTS = {
    "O": "字母O可能应为数字0",
    "I": "字母I可能应为数字1",
    "Z": "字母Z可能应为数字2",
    "S": "字母S可能应为数字5",
    "V": "字母V可能应为字母U",
}

# Position 1 (登记管理部门) → allowed position 2 (机构类别), per GB 32100-2015 表1 and its
# amendment (A 中央军委改革和编制办公室, N 农业). Cross-checked against several public
# implementations of the table.
REGISTRATION_CATEGORIES: dict[str, dict[str, str]] = {
    "1": {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    "2": {"1": "外国常驻新闻机构", "9": "其他"},
    "3": {"1": "律师执业机构", "2": "公证处", "3": "基层法律服务所", "4": "司法鉴定机构",
          "5": "仲裁委员会", "9": "其他"},
    "4": {"1": "外国在华文化中心", "9": "其他"},
    "5": {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
    "6": {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地（大陆）代表机构",
          "9": "其他"},
    "7": {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"},
    "8": {"1": "基层工会", "9": "其他"},
    "9": {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"},
    "A": {"1": "军队事业单位", "9": "其他"},
    "N": {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    "Y": {"1": "其他"},
}

_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_code_check_char(body: str) -> str:
    """GB 11714 check character of an 8-character 组织机构代码 body (digits, A=10 … Z=35)."""
    total = sum(int(c, 36) * w for c, w in zip(body, _ORG_CODE_WEIGHTS))
    remainder = 11 - total % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


def _credit_code_check_char(first17: str) -> str:
    """GB 32100 check character (position 18) of the first 17 characters."""
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def check_credit_code(text: str) -> Check:
    code = normalize(text)
    if not code:
        return Check.invalid("请输入18位统一社会信用代码，可在营业执照或登记证书上找到。")

    illegal = [c for c in code if c not in _CREDIT_VALUE]
    if illegal:
        hints = [_EXCLUDED_LETTER_HINTS[c] for c in dict.fromkeys(illegal) if c in _EXCLUDED_LETTER_HINTS]
        hint = f"（{'；'.join(hints)}）" if hints else ""
        return Check.invalid(
            f"统一社会信用代码只包含数字和大写字母（不含I、O、Z、S、V），"
            f"您输入的内容中有{_quote_chars(illegal)}{hint}，请对照营业执照核对后重新输入。"
        )

    if len(code) != 18:
        return Check.invalid(
            f"统一社会信用代码应为18位，您输入的是{len(code)}位，"
            f"请核对营业执照上的代码后重新输入。"
        )

    department, category = code[0], code[1]
    if department not in REGISTRATION_CATEGORIES:
        return Check.invalid(
            f"统一社会信用代码的第1位（登记管理部门代码）不应为“{department}”，"
            f"企业一般以“9”开头，请核对后重新输入。"
        )
    if category not in REGISTRATION_CATEGORIES[department]:
        return Check.invalid(
            f"统一社会信用代码的第2位（机构类别代码）“{category}”与第1位“{department}”不匹配，"
            f"请核对前两位后重新输入（企业一般以“91”开头）。"
        )

    # 行政区划码: only "six digits" is checked on purpose. GB/T 2260 codes are renamed and
    # merged over the years, but a code keeps the region it was issued in for life.
    if not code[2:8].isdigit():
        return Check.invalid(
            "统一社会信用代码的第3至8位是登记机关的行政区划代码，应全部为数字，"
            "请核对后重新输入。"
        )

    if not code[16].isdigit() and code[16] != "X":
        return Check.invalid(
            "统一社会信用代码的第17位应为数字或字母X，请核对营业执照上的代码后重新输入。"
        )
    if _org_code_check_char(code[8:16]) != code[16]:
        return Check.invalid(
            "统一社会信用代码第9至17位（组织机构代码部分）校验不通过，可能有字符输错，"
            "请对照营业执照逐位核对后重新输入。"
        )
    if _credit_code_check_char(code[:17]) != code[17]:
        return Check.invalid(
            "统一社会信用代码的最后一位校验码与前17位不匹配，可能有字符输错，"
            "请对照营业执照逐位核对后重新输入。"
        )
    return Check.valid(code)


# --------------------------------------------------------------------------------------
# 投资项目代码 (全国投资项目在线审批监管平台)
# --------------------------------------------------------------------------------------
#
# What was confirmed with the search tool (public pages, 2026-11):
# * 24 characters = 20 digits in five hyphen-joined segments of 4-6-2-2-6 digits.
# * Codes issued before the 2020-11 switch (发改投资〔2020〕1439号《固定资产投资项目代码
#   管理规范》, switched province by province until early 2021) read
#   年份YYYY-行政区划-行业-项目类型-流水号, with 项目类型 01/02/03 = 审批/核准/备案; published
#   examples: 2020-330327-48-01-167360, 2020-451421-88-03-016343 (a 备案 certificate).
# * Codes issued since then (same layout, standardised as GB/T 40058-2021) are
#   4位时间代码-6位地区代码-2位中央业务指导部门代码-2位项目类型代码-5位随机码+1位校验码
#   (Hubei 发改委 notice of 2021-01-18; NDRC's explanation of GB/T 40058). The project-type
#   segment there classifies the works (基本建设/技术改造/…), not 审批/核准/备案: a published
#   code uses 05 (2603-141124-89-05-346948).
# NOT confirmed (standard text not available here): the time code reads as YYMM in every
# published new-style code (2111-…, 2411-…, 2603-…), so it is validated as YYMM; the
# check-digit algorithm and the department / type tables are unknown, so they are not
# checked. Both generations are accepted: applicants still hold pre-2021 codes.
# A 4-digit prefix is never ambiguous: a year 2014..2027 can't be a valid YYMM (month > 12),
# and a YYMM from 2020-01 on (2001..) is either below 2014 or above 2100.

PROJECT_SEGMENT_LENGTHS = (4, 6, 2, 2, 6)
_PROJECT_SEGMENT_NAMES = ("赋码时间", "行政区划代码", "行业（部门）代码", "项目类型代码", "流水号")
LEGACY_PROJECT_TYPES = {"01": "审批", "02": "核准", "03": "备案"}
FIRST_PROJECT_CODE_YEAR = 2014
_PROJECT_EXAMPLE = "2020-330327-48-01-167360"


def _hyphenate(digits: str) -> str:
    parts, start = [], 0
    for length in PROJECT_SEGMENT_LENGTHS:
        parts.append(digits[start:start + length])
        start += length
    return "-".join(parts)


def check_project_code(text: str, *, today: date | None = None) -> Check:
    """Check a 投资项目代码; ``today`` is only there to make the year bound testable."""
    today = today or date.today()
    last_year = today.year + 1
    folded = _SPACE_RE.sub("", _fold(text, upper=False))
    if not folded:
        return Check.invalid(
            f"请输入投资项目代码（格式如 {_PROJECT_EXAMPLE}），可在项目备案证明或立项批复上找到。"
        )

    illegal = [c for c in folded if c not in "0123456789-"]
    if illegal:
        return Check.invalid(
            f"投资项目代码只包含数字和短横线，您输入的内容中有{_quote_chars(illegal)}，"
            f"请按 {_PROJECT_EXAMPLE} 的格式重新输入。"
        )

    digits = folded.replace("-", "")
    if "-" in folded:
        # The user gave the segments: if they are mis-cut, say which one rather than
        # silently re-cutting 20 digits (a missing digit here and an extra one there).
        segments = [s for s in folded.split("-") if s]
        if len(segments) != len(PROJECT_SEGMENT_LENGTHS):
            return Check.invalid(
                f"投资项目代码应分为5段（{_PROJECT_EXAMPLE}），您输入的是{len(segments)}段，"
                f"请核对后重新输入。"
            )
        for index, (segment, expected) in enumerate(zip(segments, PROJECT_SEGMENT_LENGTHS)):
            if len(segment) != expected:
                return Check.invalid(
                    f"投资项目代码第{index + 1}段（{_PROJECT_SEGMENT_NAMES[index]}）应为{expected}位，"
                    f"您输入的是{len(segment)}位，请对照 {_PROJECT_EXAMPLE} 的格式核对。"
                )
    elif len(digits) != sum(PROJECT_SEGMENT_LENGTHS):
        return Check.invalid(
            f"投资项目代码应为20位数字（带短横线共24位，如 {_PROJECT_EXAMPLE}），"
            f"您输入的是{len(digits)}位，请核对后重新输入。"
        )

    prefix = int(digits[:4])
    year, month = 2000 + prefix // 100, prefix % 100
    if FIRST_PROJECT_CODE_YEAR <= prefix <= last_year:
        project_type = digits[12:14]
        if project_type not in LEGACY_PROJECT_TYPES:
            return Check.invalid(
                f"投资项目代码第4段是项目类型，应为01（审批）、02（核准）或03（备案），"
                f"您输入的是“{project_type}”，请核对后重新输入。"
            )
    elif not (2020 <= year <= last_year and 1 <= month <= 12):
        return Check.invalid(
            f"投资项目代码的前4位是赋码时间，应为年份（如2019）或年月（如2104表示2021年4月），"
            f"“{digits[:4]}”不在有效范围内，请核对后重新输入。"
        )
    return Check.valid(_hyphenate(digits))


# --------------------------------------------------------------------------------------
# 联系电话
# --------------------------------------------------------------------------------------

_MOBILE_RE = re.compile(r"1[3-9]\d{9}", re.ASCII)
# 010 and 02X are the only two-digit area codes (after the trunk 0); all others have three.
_LANDLINE_RE = re.compile(r"(0(?:10|2\d|[3-9]\d{2}))([2-9]\d{6,7})", re.ASCII)
_EXTENSION_WORD_RE = re.compile(r"^(.*?)(?:转|分机|EXT\.?|X|#)(\d{1,6})$", re.ASCII | re.IGNORECASE)
_PHONE_ALLOWED_RE = re.compile(r"[\d+\-()]", re.ASCII)


def _parse_phone_digits(digits: str, international: bool) -> str | None:
    if international or (digits.startswith("86") and len(digits) == 13):
        digits = digits[2:]
        if not digits.startswith("1") and not digits.startswith("0"):
            digits = "0" + digits  # +86 591 87654321: the trunk 0 is dropped abroad
    if _MOBILE_RE.fullmatch(digits):
        return digits
    landline = _LANDLINE_RE.fullmatch(digits)
    if landline:
        return f"{landline.group(1)}-{landline.group(2)}"
    return None


def _parse_phone(compact: str) -> str | None:
    """``compact`` is folded, without spaces; returns the normalised number or None."""
    international = compact.startswith("+86") or compact.startswith("0086")
    body = compact[1:] if compact.startswith("+") else compact
    body = body[2:] if body.startswith("0086") else body
    body = body.replace("(", "").replace(")", "")

    candidates: list[tuple[str, str | None]] = []
    worded = _EXTENSION_WORD_RE.match(body)
    if worded:
        candidates.append((worded.group(1), worded.group(2)))
    else:
        candidates.append((body, None))
        # 010-12345678-123: a trailing dash group may be an extension, but only if the
        # number without it is complete (0591-8765-4321 is a split subscriber number).
        head, dash, tail = body.rpartition("-")
        if dash and _ASCII_DIGITS_RE.fullmatch(tail) and len(tail) <= 6:
            candidates.append((head, tail))

    for number, extension in candidates:
        digits = number.replace("-", "")
        if not _ASCII_DIGITS_RE.fullmatch(digits):
            continue
        parsed = _parse_phone_digits(digits, international)
        if parsed is None:
            continue
        if extension is not None and not parsed.startswith("0"):
            continue  # mobiles have no extensions
        return f"{parsed}-{extension}" if extension else parsed
    return None


def check_phone(text: str) -> Check:
    """Mainland mobile → ``13800138000``; landline → ``0591-87654321`` or ``010-12345678-123``."""
    compact = _SPACE_RE.sub("", _fold(text, upper=False))
    if not compact:
        return Check.invalid("请输入联系电话：11位手机号，或带区号的座机号（如 0591-87654321）。")

    parsed = _parse_phone(compact)
    if parsed:
        return Check.valid(parsed)

    without_words = _EXTENSION_WORD_RE.sub(r"\1", compact)
    illegal = [c for c in without_words if not _PHONE_ALLOWED_RE.match(c)]
    if illegal:
        return Check.invalid(
            f"电话号码中只能有数字、空格和短横线，您输入的内容中有{_quote_chars(illegal)}，"
            f"请重新输入。"
        )

    digits = re.sub(r"[^0-9]", "", without_words)
    if digits.startswith("86") and len(digits) > 11 and not compact.startswith("0"):
        digits = digits[2:]
    if digits.startswith("1"):
        if len(digits) != 11:
            return Check.invalid(
                f"手机号应为11位，您输入的是{len(digits)}位，请核对后重新输入。"
            )
        return Check.invalid(
            f"手机号的第2位应为3至9，以“{digits[:2]}”开头的手机号不存在，请核对后重新输入。"
        )
    if not digits.startswith("0") and 7 <= len(digits) <= 8:
        return Check.invalid("座机号码请加上区号，例如 0591-87654321。")
    return Check.invalid(
        "这不像有效的电话号码。请输入11位手机号，或带区号的座机号（如 0591-87654321，"
        "分机可写成 0591-87654321-123）。"
    )


# --------------------------------------------------------------------------------------
# Maskers for logs: never raise, whatever they are given.
# --------------------------------------------------------------------------------------

def _mask(text: str, head: int, tail: int) -> str:
    if len(text) <= head + tail:
        return "*" * len(text)
    return text[:head] + "*" * (len(text) - head - tail) + text[-tail:]


def mask_credit_code(code: str) -> str:
    """``91350100M000100Y43`` → ``9135************43`` (keeps type and province only)."""
    return _mask(normalize(code or ""), 4, 2)


def mask_phone(phone: str) -> str:
    """``13800138000`` → ``138****8000``; ``0591-87654321`` → ``0591-****4321``."""
    checked = check_phone(phone or "")
    if not checked.ok:
        return _mask(normalize(phone or ""), 2, 2)
    value = checked.value
    if value.startswith("0"):
        area, number, *extension = value.split("-")
        return f"{area}-{_mask(number, 0, 4)}"  # an extension adds nothing to a log line
    return _mask(value, 3, 4)


# -- case numbers (BD-2026-000123) ----------------------------------------------------------
# As people type them, in chat or into the console: any case, spaces, dashes or dots between the
# parts, full-width digits (folded by NFKC first): 「bd 2026 000123」, 「BD－２０２６－０００１２３」.
CASE_NUMBER_RE = re.compile(r"bd[\s\-－–—_.]*(\d{4})[\s\-－–—_.]*(\d{6})(?!\d)", re.IGNORECASE)


def find_case_number(text: str | None) -> str | None:
    """The case number written somewhere in `text` (a chat message), as BD-YYYY-NNNNNN, or None."""
    m = CASE_NUMBER_RE.search(unicodedata.normalize("NFKC", text or ""))
    return f"BD-{m.group(1)}-{m.group(2)}" if m else None


def case_number(text: str) -> str:
    """The number a typed case number stands for (a console form, a URL, a look-up): BD-YYYY-NNNNNN
    when the whole of `text` is one, else `text` trimmed and upper-cased (what was typed, for the
    「没有案件 …」 message)."""
    m = CASE_NUMBER_RE.fullmatch(unicodedata.normalize("NFKC", text or "").strip())
    return f"BD-{m.group(1)}-{m.group(2)}" if m else (text or "").strip().upper()


# -- 整改 numbers (Z3) -----------------------------------------------------------------------
RECTIFICATION_PREFIX = "Z"  # 整改 (zhěnggǎi), as E numbers a 协调事项


def rectification_number(rect_id: int) -> str:
    """How a 整改 is named everywhere (console, ledger, exports): 「Z3」."""
    return f"{RECTIFICATION_PREFIX}{rect_id}"
