"""The shape of the knowledge base, and the checks that keep curated data honest.

Pure: plain dataclasses built from YAML dicts, with every problem reported as a readable line
(file, id, what is wrong) instead of the first exception.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

ID_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")
MAX_ANSWER_CHARS = 450
# The one exception to "no phone numbers in the data": contacts a seed document itself publishes
# for the service (岳阳's 导则 names each working group's lead and number), quoted with the caveat
# that the window's current list prevails.
PUBLISHED_CONTACT_TAG = "文件公布联系人"
GENERAL_GUIDANCE_NOTE = "以上为一般性指引，具体以当地办事指南为准。"


@dataclass(frozen=True)
class Source:
    title: str
    section: str = ""
    doc: str = ""  # seed number ("000".."004") when the source is one of the seed documents

    def cite(self) -> str:
        return f"{self.title}{self.section and ' ' + self.section}"


@dataclass(frozen=True)
class Entry:
    id: str
    topic: str
    title: str
    question: str
    paraphrases: tuple[str, ...]
    answer: str
    sources: tuple[Source, ...]
    region: str = "all"
    tags: tuple[str, ...] = ()
    reviewed: date | None = None
    general_guidance: bool = False
    file: str = ""

    @property
    def questions(self) -> tuple[str, ...]:
        return (self.title, self.question, *self.paraphrases)

    def cited_answer(self) -> str:
        """The answer as the user sees it: text, the general-guidance caveat, then its source."""
        parts = [self.answer.strip()]
        if self.general_guidance:
            parts.append(GENERAL_GUIDANCE_NOTE)
        parts.append("来源：" + "；".join(s.cite() for s in self.sources))
        return "\n".join(parts)


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    short: str
    aliases: tuple[str, ...]
    centre: str = ""
    scope: str = ""
    excluded_project_kinds: tuple[str, ...] = ()
    eligible_note: str = ""
    apply_channels: tuple[str, ...] = ()
    source: Source | None = None
    # Places inside the region its document covers without rules or contacts of their own
    # (岳阳's 县市区): named, they are the region, but a figure asked of them is not published.
    places: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, self.short, *self.aliases, *self.places)


@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    summary: str = ""


@dataclass(frozen=True)
class Item:
    """One approval item (审批事项) of the catalogue that forms and case tracking use."""

    id: str
    name: str
    stage: str
    department: str
    aliases: tuple[str, ...] = ()
    time_limit_wd: int | None = None
    time_limit_note: str = ""
    commitment_allowed: bool = False
    materials: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    general_guidance: bool = False
    kb_entry: str = ""
    after: tuple[str, ...] = ()  # items whose result this one needs first
    optional: bool = False  # an extra the enterprise may ask for (营业执照, 不动产登记)


@dataclass
class Problems:
    """Collected validation problems; empty means the data is fit to serve."""

    lines: list[str] = field(default_factory=list)

    def add(self, where: str, what: str) -> None:
        self.lines.append(f"{where}: {what}")

    def __bool__(self) -> bool:
        return bool(self.lines)


def _tuple(value) -> tuple:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


def _sources(raw, where: str, problems: Problems) -> tuple[Source, ...]:
    out = []
    for s in _tuple(raw):
        if not isinstance(s, dict) or not str(s.get("title", "")).strip():
            problems.add(where, "every source needs a title (document name)")
            continue
        out.append(Source(title=str(s["title"]).strip(), section=str(s.get("section", "") or "").strip(),
                          doc=str(s.get("doc", "") or "").strip()))
    return tuple(out)


def _date(value) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def build_entry(raw: dict, file: str, problems: Problems) -> Entry | None:
    eid = str(raw.get("id", "")).strip()
    where = f"{file} [{eid or '?'}]"
    if not ID_RE.match(eid):
        problems.add(where, "id must be lowercase ascii words joined by dots, e.g. service.scope.donghu")
        return None
    for key in ("title", "question", "answer"):
        if not str(raw.get(key, "") or "").strip():
            problems.add(where, f"missing {key}")
    paraphrases = tuple(str(p).strip() for p in _tuple(raw.get("paraphrases")) if str(p).strip())
    sources = _sources(raw.get("source"), where, problems)
    if not sources:
        problems.add(where, "missing source: cite the seed document and section, or a national document")
    answer = str(raw.get("answer", "") or "").strip()
    if len(answer) > MAX_ANSWER_CHARS:
        problems.add(where, f"answer is {len(answer)} characters; keep it under {MAX_ANSWER_CHARS} for a phone screen")
    if PHONE_RE.search(answer) and PUBLISHED_CONTACT_TAG not in _tuple(raw.get("tags")):
        problems.add(where, "answer contains a phone number: contacts belong in configuration, not data "
                            f"(unless a seed document publishes them: tag the entry {PUBLISHED_CONTACT_TAG})")
    reviewed = _date(raw.get("reviewed"))
    if raw.get("reviewed") is not None and reviewed is None:
        problems.add(where, f"reviewed is not a date: {raw.get('reviewed')!r}")
    return Entry(
        id=eid,
        topic=str(raw.get("topic") or eid).strip(),
        title=str(raw.get("title", "")).strip(),
        question=str(raw.get("question", "")).strip(),
        paraphrases=paraphrases,
        answer=answer,
        sources=sources,
        region=str(raw.get("region") or "all").strip(),
        tags=tuple(str(t) for t in _tuple(raw.get("tags"))),
        reviewed=reviewed,
        general_guidance=bool(raw.get("general_guidance", False)),
        file=file,
    )


def build_region(raw: dict, file: str, problems: Problems) -> Region | None:
    rid = str(raw.get("id", "")).strip()
    if not ID_RE.match(rid) or not raw.get("name"):
        problems.add(f"{file} [{rid or '?'}]", "a region needs an id and a name")
        return None
    src = _sources(raw.get("source"), f"{file} [{rid}]", problems)
    return Region(
        id=rid, name=str(raw["name"]), short=str(raw.get("short") or raw["name"]),
        aliases=tuple(str(a) for a in _tuple(raw.get("aliases"))),
        centre=str(raw.get("centre", "") or ""), scope=str(raw.get("scope", "") or "").strip(),
        excluded_project_kinds=tuple(str(k) for k in _tuple(raw.get("excluded_project_kinds"))),
        eligible_note=str(raw.get("eligible_note", "") or "").strip(),
        apply_channels=tuple(str(c) for c in _tuple(raw.get("apply_channels"))),
        source=src[0] if src else None,
        places=tuple(str(p) for p in _tuple(raw.get("places"))),
    )


def build_stage(raw: dict, file: str, problems: Problems) -> Stage | None:
    if raw.get("id") is None or not raw.get("name"):
        problems.add(f"{file} [?]", "a stage needs an id and a name")
        return None
    return Stage(id=str(raw["id"]), name=str(raw["name"]),
                 aliases=tuple(str(a) for a in _tuple(raw.get("aliases"))),
                 summary=str(raw.get("summary", "") or "").strip())


def build_item(raw: dict, file: str, problems: Problems) -> Item | None:
    iid = str(raw.get("id", "")).strip()
    where = f"{file} [{iid or '?'}]"
    if not ID_RE.match(iid) or not raw.get("name") or raw.get("stage") is None:
        problems.add(where, "an item needs an id, a name and a stage")
        return None
    limit = raw.get("time_limit_wd")
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        problems.add(where, f"time_limit_wd must be a whole number of working days, not {limit!r}")
        limit = None
    return Item(
        id=iid, name=str(raw["name"]), stage=str(raw["stage"]),
        department=str(raw.get("department", "") or ""),
        aliases=tuple(str(a) for a in _tuple(raw.get("aliases"))),
        time_limit_wd=limit, time_limit_note=str(raw.get("time_limit_note", "") or ""),
        commitment_allowed=bool(raw.get("commitment_allowed", False)),
        materials=tuple(str(m) for m in _tuple(raw.get("materials"))),
        sources=_sources(raw.get("source"), where, problems),
        general_guidance=bool(raw.get("general_guidance", False)),
        kb_entry=str(raw.get("kb_entry", "") or ""),
        after=tuple(str(a) for a in _tuple(raw.get("after"))),
        optional=bool(raw.get("optional", False)),
    )
