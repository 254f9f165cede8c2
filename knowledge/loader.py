"""Load the curated knowledge base from YAML and check it.

`load()` gives a ready KnowledgeBase; `check()` lists every problem a curator should fix
(`bangban kb check`). Both read the same files the same way, so what passes the check is what
the bot serves.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .schema import (
    Entry,
    Item,
    Problems,
    Region,
    Stage,
    build_entry,
    build_item,
    build_region,
    build_stage,
)
from .text import normalize

DATA_DIR = Path(__file__).with_name("data")


@dataclass
class Lexicon:
    words: tuple[str, ...] = ()
    synonyms: tuple[tuple[str, ...], ...] = ()  # canonical first
    # Folk names of several things (ambiguous.yaml): 规划证 → the two planning permits.
    ambiguous: dict[str, "FolkName"] = field(default_factory=dict)
    # Provinces and cities whose rules we do not hold (lexicon.yaml `other_places`), longest first.
    other_places: tuple[str, ...] = ()


@dataclass(frozen=True)
class FolkName:
    means: tuple[str, ...]
    not_after: tuple[str, ...] = ()  # qualifiers that make it unambiguous (用地规划证)


@dataclass
class KnowledgeBase:
    entries: list[Entry]
    regions: dict[str, Region] = field(default_factory=dict)
    stages: dict[str, Stage] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    lexicon: Lexicon = field(default_factory=Lexicon)

    def __post_init__(self):
        self.by_id = {e.id: e for e in self.entries}
        topics: dict[str, list[Entry]] = defaultdict(list)
        for e in self.entries:
            topics[e.topic].append(e)
        self.topics: dict[str, list[Entry]] = dict(topics)
        # Names as messages are compared (normal form), made once: every question looks for them.
        self._region_names = [(n, r.id) for r in self.regions.values() for n in map(normalize, r.names) if n]
        self._places = [(normalize(p), r.id, p) for r in self.regions.values() for p in r.places if normalize(p)]
        self._other_places = [(normalize(p), p) for p in self.lexicon.other_places]

    def variant(self, topic: str, region: str | None) -> Entry | None:
        """The entry that answers `topic` for `region`: its own variant, else the general one.

        None means the topic only has region-specific answers and the region is unknown:
        the caller should ask the user's region once.
        """
        variants = self.topics.get(topic, [])
        by_region = {e.region: e for e in variants}
        if region and region in by_region:
            return by_region[region]
        if "all" in by_region:
            return by_region["all"]
        if len(variants) == 1:
            return variants[0]
        return None

    def topic_title(self, topic: str) -> str:
        variants = self.topics[topic]
        general = next((e for e in variants if e.region == "all"), variants[0])
        return general.title

    def region_regional_topics(self, topic: str) -> list[str]:
        return [e.region for e in self.topics.get(topic, []) if e.region != "all"]

    def find_region(self, text: str) -> str | None:
        """The region a message names (东湖, 江北区, 岳阳 ...), longest alias first."""
        t = normalize(text)
        best: tuple[int, str] | None = None
        for n, rid in self._region_names:
            if n in t and (best is None or len(n) > best[0]):
                best = (len(n), rid)
        return best[1] if best else None

    def find_regions(self, text: str) -> list[str]:
        """Every region a message names, in the order named (「江北和岳阳的帮办有啥不一样」 →
        jiangbei, yueyang); a name inside a longer one counts once (东湖 in 东湖高新区)."""
        t = normalize(text)
        spans: list[tuple[int, int, str]] = []
        for n, rid in self._region_names:
            start = t.find(n)
            while start >= 0:
                spans.append((start, start + len(n), rid))
                start = t.find(n, start + 1)
        kept: list[tuple[int, int, str]] = []
        for start, end, rid in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):  # longest first
            if not any(start < e and s < end for s, e, _ in kept):
                kept.append((start, end, rid))
        ordered: list[str] = []
        for _, _, rid in sorted(kept):
            if rid not in ordered:
                ordered.append(rid)
        return ordered

    def find_place(self, text: str) -> tuple[str, str] | None:
        """(region, place) for a place inside a region that a message names (华容县 → yueyang); the
        one named last when there are several (「岳阳县下面比如华容县」 asks about 华容县)."""
        t = normalize(text)
        named = [(t.rfind(n), rid, p) for n, rid, p in self._places if n in t]
        return max(named)[1:] if named else None

    def find_other_place(self, text: str) -> str | None:
        """A province or city the message names whose rules we do not hold (湖北省, 广东, 上海 ...)."""
        t = normalize(text)
        return next((p for n, p in self._other_places if n in t), None)


def _read_list(path: Path, problems: Problems) -> list[dict]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        problems.add(path.name, f"not valid YAML: {err}")
        return []
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        problems.add(path.name, "expected a list of mappings")
        return []
    return data


def _read(data_dir: Path) -> tuple[KnowledgeBase, Problems]:
    problems = Problems()
    entries: list[Entry] = []
    entry_files = sorted((data_dir / "entries").glob("*.yaml")) if (data_dir / "entries").is_dir() else []
    for path in entry_files:
        rel = f"entries/{path.name}"
        for raw in _read_list(path, problems):
            entry = build_entry(raw, rel, problems)
            if entry:
                entries.append(entry)

    def build_all(name, builder):
        path = data_dir / name
        if not path.exists():
            return {}
        built = (builder(raw, name, problems) for raw in _read_list(path, problems))
        return {b.id: b for b in built if b}

    regions = build_all("regions.yaml", build_region)
    stages = build_all("stages.yaml", build_stage)
    items = build_all("items.yaml", build_item)
    lexicon = Lexicon()
    lex_path = data_dir / "lexicon.yaml"
    if lex_path.exists():
        raw = yaml.safe_load(lex_path.read_text(encoding="utf-8")) or {}
        lexicon = Lexicon(
            words=tuple(str(w) for w in raw.get("words") or ()),
            synonyms=tuple(tuple(str(s) for s in group) for group in raw.get("synonyms") or () if group),
            other_places=tuple(sorted({str(p) for p in raw.get("other_places") or ()}, key=len, reverse=True)),
        )
    amb_path = data_dir / "ambiguous.yaml"
    if amb_path.exists():
        raw = yaml.safe_load(amb_path.read_text(encoding="utf-8")) or {}
        for term, spec in (raw.items() if isinstance(raw, dict) else ()):
            means = spec.get("means") if isinstance(spec, dict) else None
            if not isinstance(means, list) or len(means) < 2:
                problems.add(f"ambiguous.yaml [{term}]", "needs `means`: a list of two or more meanings")
                continue
            lexicon.ambiguous[str(term)] = FolkName(tuple(map(str, means)), tuple(map(str, spec.get("not_after") or ())))
        # Longest first, so 规划许可证 is recognised before 规划许可 inside it.
        lexicon.ambiguous = dict(sorted(lexicon.ambiguous.items(), key=lambda kv: -len(kv[0])))
    return KnowledgeBase(entries, regions, stages, items, lexicon), problems


def check(data_dir: Path = DATA_DIR) -> Problems:
    """Every problem with the data, as lines a curator can act on."""
    kb, problems = _read(data_dir)
    if not kb.entries:
        problems.add(str(data_dir), "no entries found under entries/*.yaml")
    seen: dict[str, str] = {}
    for e in kb.entries:
        if e.id in seen:
            problems.add(f"{e.file} [{e.id}]", f"duplicate id (also in {seen[e.id]})")
        seen.setdefault(e.id, e.file)
        if e.region != "all" and e.region not in kb.regions:
            problems.add(f"{e.file} [{e.id}]", f"unknown region {e.region!r}; known: all, {', '.join(kb.regions)}")
    for topic, variants in kb.topics.items():
        regions = [v.region for v in variants]
        dupes = {r for r in regions if regions.count(r) > 1}
        if dupes:
            problems.add(f"topic {topic}", f"two variants for region(s) {', '.join(sorted(dupes))}")
    # A paraphrase that points at two topics makes the retriever toss a coin.
    owner: dict[str, str] = {}
    for e in kb.entries:
        for q in e.questions:
            key = normalize(q)
            other = owner.get(key)
            if other and other != e.topic:
                problems.add(f"{e.file} [{e.id}]", f"question {q!r} also belongs to topic {other}")
            owner.setdefault(key, e.topic)
    for item in kb.items.values():
        if item.stage not in kb.stages:
            problems.add(f"items.yaml [{item.id}]", f"unknown stage {item.stage!r}")
        if item.kb_entry and item.kb_entry not in kb.by_id and item.kb_entry not in kb.topics:
            problems.add(f"items.yaml [{item.id}]", f"kb_entry {item.kb_entry!r} does not exist")
        if not item.sources:
            problems.add(f"items.yaml [{item.id}]", "missing source")
        for pre in item.after:
            if pre not in kb.items:
                problems.add(f"items.yaml [{item.id}]", f"after: unknown item {pre!r}")
    from . import coverage  # every substantive seed clause answered (coverage.py imports this module)

    problems.lines += coverage.check(kb, data_dir).lines
    return problems


def load(data_dir: Path = DATA_DIR, strict: bool = True) -> KnowledgeBase:
    kb, problems = _read(data_dir)
    if strict and problems:
        raise ValueError("knowledge base has problems (run `bangban kb check`):\n" + "\n".join(problems.lines))
    return kb
