"""Which clause of which seed document each knowledge-base entry answers (data/coverage/*.yaml).

One file per seed: its clauses top to bottom, each with the entries whose answers state it.
A clause marked `substantive: false` (letterhead, distribution list) needs none. `bangban kb
coverage` prints the report; `bangban kb check` fails while a substantive clause is uncovered,
an entry named does not exist, or it answers for another region than the seed's.

Pure: reads YAML, knows nothing of the retriever or the bot.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .loader import DATA_DIR, KnowledgeBase
from .schema import Problems


@dataclass(frozen=True)
class Clause:
    id: str
    section: str
    text: str
    entries: tuple[str, ...] = ()
    substantive: bool = True


@dataclass
class SeedMap:
    seed: str
    title: str
    region: str
    file: str
    clauses: list[Clause] = field(default_factory=list)
    path: str = ""

    @property
    def substantive(self) -> list[Clause]:
        return [c for c in self.clauses if c.substantive]


def read(data_dir: Path = DATA_DIR, problems: Problems | None = None) -> list[SeedMap]:
    problems = problems if problems is not None else Problems()
    maps = []
    for path in sorted((Path(data_dir) / "coverage").glob("*.yaml")):
        where = f"coverage/{path.name}"
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            problems.add(where, f"not valid YAML: {err}")
            continue
        if not isinstance(raw, dict) or not isinstance(raw.get("clauses"), list):
            problems.add(where, "expected a mapping with seed, title, region and a list of clauses")
            continue
        m = SeedMap(str(raw.get("seed", "")), str(raw.get("title", "")), str(raw.get("region", "")),
                    str(raw.get("file", "")), path=where)
        for i, c in enumerate(raw["clauses"]):
            if not isinstance(c, dict) or not c.get("id"):
                problems.add(where, f"clause #{i + 1} has no id")
                continue
            entries = c.get("entries") or []
            m.clauses.append(Clause(str(c["id"]), str(c.get("section", "")), str(c.get("text", "")),
                                    tuple(str(e) for e in (entries if isinstance(entries, list) else [entries])),
                                    bool(c.get("substantive", True))))
        maps.append(m)
    return maps


def check(kb: KnowledgeBase, data_dir: Path = DATA_DIR) -> Problems:
    """Every coverage problem as a line a curator can act on."""
    problems = Problems()
    maps = read(data_dir, problems)
    seeds_cited = {s.doc for e in kb.entries for s in e.sources if s.doc}
    mapped = {m.seed for m in maps}
    for doc in sorted(seeds_cited - mapped):
        problems.add("coverage/", f"seed {doc} is cited by entries but has no coverage map")
    seen: dict[str, str] = {}
    for m in maps:
        if m.region not in kb.regions:
            problems.add(m.path, f"unknown region {m.region!r}")
        for c in m.clauses:
            if c.id in seen:
                problems.add(f"{m.path} [{c.id}]", f"duplicate clause id (also in {seen[c.id]})")
            seen.setdefault(c.id, m.path)
            if c.substantive and not c.entries:
                problems.add(f"{m.path} [{c.id}]", f"uncovered: {c.section} {c.text}")
            for eid in c.entries:
                entry = kb.by_id.get(eid)
                if entry is None:
                    problems.add(f"{m.path} [{c.id}]", f"entry {eid!r} does not exist")
                elif entry.region not in ("all", m.region):
                    problems.add(f"{m.path} [{c.id}]", f"entry {eid} answers for {entry.region}, not {m.region}")
    return problems


def report(kb: KnowledgeBase, data_dir: Path = DATA_DIR) -> list[str]:
    """Per seed: substantive clauses covered, then each uncovered one."""
    lines = []
    total = covered = 0
    for m in read(data_dir):
        subs = m.substantive
        ok = [c for c in subs if c.entries and all(e in kb.by_id for e in c.entries)]
        total += len(subs)
        covered += len(ok)
        lines.append(f"{m.seed} {m.title}（{m.region}）: {len(ok)}/{len(subs)} substantive clauses covered"
                     f" ({len(m.clauses) - len(subs)} not substantive)")
        lines += [f"    uncovered {c.id}: {c.section} {c.text}" for c in subs if c not in ok]
    lines.append(f"all seeds: {covered}/{total} substantive clauses covered"
                 + (f" ({100 * covered / total:.1f}%)" if total else ""))
    return lines
