"""Regions in tiers (issue 17, item 6): 市 → 县/区 → 镇/园区, from config/region_tiers.yaml (or the
file BANGBAN_REGION_TIERS names; why a file of its own is said at its top).

One place answers every question about the hierarchy: which codes exist (`problem` for a code
typed on the CLI or the console), what lies below a region (`subtree`: what its supervisors see
and supervise), what lies above it (`chain`: where routing walks up when a 镇 has no commissioner),
its root (`root`: whose documents, 服务选项 and 委托协议 a 镇 uses), its direct subordinates
(`children`: the 挂图作战 table) and which region a typed address names (`find_place`).

A code the file does not name (an old row, a test's made-up region) is its own one-node tree, so
nothing that worked with flat codes stops working.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "region_tiers.yaml"
TIERS = ("city", "county", "town")  # top to bottom: a child's tier is below its parent's
TIER_NAMES = {"city": "市", "county": "县/区", "town": "镇/园区"}
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # Case.region / Staff.region are String(32)


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    tier: str
    parent: str | None = None
    aliases: tuple[str, ...] = ()
    example: bool = False

    @property
    def tier_name(self) -> str:
        return TIER_NAMES.get(self.tier, self.tier)


@dataclass(frozen=True)
class Hierarchy:
    regions: dict[str, Region]
    kids: dict[str, tuple[str, ...]]

    def chain(self, code: str) -> tuple[str, ...]:
        out = [code]
        while (r := self.regions.get(out[-1])) is not None and r.parent:
            out.append(r.parent)
        return tuple(out)

    def subtree(self, code: str) -> tuple[str, ...]:
        out, todo = [], [code]
        while todo:
            here = todo.pop(0)
            out.append(here)
            todo.extend(self.kids.get(here, ()))
        return tuple(out)


def _load_file(path: str) -> Hierarchy:
    import yaml

    p = Path(path)
    data = (yaml.safe_load(p.read_text(encoding="utf-8")) if p.exists() else None) or {}
    regions: dict[str, Region] = {}
    for n, raw in enumerate(data.get("regions") or [], 1):
        where = f"{path}: regions[{n}]"
        code = str((raw or {}).get("code") or "")
        if not CODE_RE.match(code):
            raise ValueError(f"{where}: code {code!r} must be a-z, 0-9 or _, starting with a letter, at most 32 long")
        if code in regions:
            raise ValueError(f"{where}: code {code} appears twice")
        tier = raw.get("tier")
        if tier not in TIERS:
            raise ValueError(f"{where} ({code}): tier must be one of {list(TIERS)}")
        name = str(raw.get("name") or "").strip()
        if not name:
            raise ValueError(f"{where} ({code}): a name is needed")
        regions[code] = Region(code, name, tier, raw.get("parent") or None,
                               tuple(str(a).strip() for a in raw.get("aliases") or () if str(a).strip()),
                               bool(raw.get("example", False)))
    kids: dict[str, list[str]] = {}
    for r in regions.values():
        if r.parent is None:
            continue
        parent = regions.get(r.parent)
        if parent is None:
            raise ValueError(f"{path}: {r.code}'s parent {r.parent} is not in the file")
        if TIERS.index(r.tier) <= TIERS.index(parent.tier):
            raise ValueError(f"{path}: {r.code} ({r.tier}) must be a lower tier than its parent {parent.code} "
                             f"({parent.tier})")
        kids.setdefault(r.parent, []).append(r.code)
    # Tiers strictly descend, so no chain can loop back on itself.
    return Hierarchy(regions, {k: tuple(v) for k, v in kids.items()})


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> Hierarchy:
    return _load_file(path)


def config_path() -> str:
    return os.environ.get("BANGBAN_REGION_TIERS", "").strip() or str(DEFAULT_PATH)


def hierarchy() -> Hierarchy:
    path = config_path()
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        mtime = 0.0
    return _cached(path, mtime)


def get(code: str | None) -> Region | None:
    return hierarchy().regions.get(code or "")


def known(code: str | None) -> bool:
    return get(code) is not None


def name(code: str | None) -> str | None:
    r = get(code)
    return r.name if r else None


def subtree(code: str) -> tuple[str, ...]:
    """`code` and every region below it, top first: what a supervisor of `code` sees."""
    return hierarchy().subtree(code)


def chain(code: str) -> tuple[str, ...]:
    """`code`, its parent, …, its root: where routing looks for a commissioner, lowest first."""
    return hierarchy().chain(code)


def root(code: str | None) -> str | None:
    """The document region a code belongs to (itself for the five, and for a code not in the file)."""
    return chain(code)[-1] if code else code


def children(code: str) -> tuple[Region, ...]:
    h = hierarchy()
    return tuple(h.regions[c] for c in h.kids.get(code, ()))


def watch_links() -> tuple[tuple[str, str], ...]:
    """(region, watcher) for every configured region and each region at or above it: whose
    supervisors watch its cases, as rows the SLA sweep joins in SQL."""
    return tuple((code, up) for code in hierarchy().regions for up in chain(code))


def is_within(code: str | None, top: str) -> bool:
    return bool(code) and top in chain(code)


def problem(code: str | None) -> str | None:
    """Why `code` cannot be a staff member's region (in Chinese), or None when it can."""
    code = (code or "").strip()
    if not code:
        return "地区不能为空"
    if known(code):
        return None
    tops = [r.code for r in hierarchy().regions.values() if r.parent is None]
    return (f"没有地区代码 {code}；请用 config/region_tiers.yaml 里的代码（顶层：{'、'.join(tops)}；"
            f"下级地区见 `bangban staff regions`）")


def find_place(text: str | None, within: str | None = None) -> str | None:
    """The lowest region (below `within`'s root when given) whose name or alias the text names:
    「岳阳县荣家湾镇」 → yyx_rongjiawan. The longest name wins, then the deepest tier; None when the
    text names no sub-region."""
    if not text:
        return None
    h = hierarchy()
    top = root(within) if within else None
    best: tuple[int, int, str] | None = None
    for r in h.regions.values():
        if r.parent is None or (top and top not in h.chain(r.code)):
            continue
        for word in (r.name, r.name.split("（")[0], *r.aliases):
            if word and word in text:
                score = (len(word), TIERS.index(r.tier), r.code)
                if best is None or score > best:
                    best = score
    return best[2] if best else None
