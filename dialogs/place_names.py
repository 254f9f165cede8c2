"""What the chat calls a region whose document never names its place.

Seed 003 is written by a county-level city that never says which: the knowledge base, faithful to
it, calls the city 「某县级市」, a placeholder. Users read the name the deployment configured
(bot.platform.config REGION_NAMES / BANGBAN_REGION_NAMES, the same as the console's), and may type it
back, with or without its 「（示例）」: both ways are translated at the chat's edge, so the
knowledge base and everything between keep one spelling.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.platform import region_tiers
from knowledge import KnowledgeBase

PLACEHOLDER_PREFIX = "某"  # the knowledge base's own convention for a place its document leaves unnamed
# Names of lower tiers (config/region_tiers.yaml) too common to say which region is meant: many a
# county has a 城关镇, many a city an 经济开发区.
_TOO_COMMON = {"城关镇", "城关", "经济开发区", "经开区", "开发区", "高新区", "工业园", "工业园区", "产业园"}


def _without_example(name: str) -> str:
    return re.sub(r"[（(][^）)]*[）)]$", "", name).strip()


@dataclass(frozen=True)
class LowerPlace:
    """A 镇 or 园区 the message names, and the place above it the knowledge base answers for."""

    typed: str   # as the user wrote it
    name: str    # its name (config/region_tiers.yaml)
    within: str  # the knowledge base's name of the nearest place above it that it knows
    region: str  # the knowledge base's name of the document region it is in

    @property
    def where(self) -> str:
        """「岳阳县（岳阳市）」, or the region alone when it is the place above."""
        return self.within if self.within == self.region else f"{self.within}（{self.region}）"


class PlaceNames:
    def __init__(self, kb: KnowledgeBase, display_names: dict[str, str]):
        self._out: list[tuple[str, str]] = []   # (knowledge base's name, display name)
        self._in: list[tuple[str, str]] = []    # (what a user may type, knowledge base's name)
        for region in kb.regions.values():
            shown = (display_names.get(region.id) or "").strip()
            if not region.name.startswith(PLACEHOLDER_PREFIX) or not shown or shown == region.name:
                continue
            self._out.append((region.name, shown))
            core = _without_example(shown)
            for typed in sorted({shown, core} - {""}, key=len, reverse=True):
                self._in.append((typed, region.name))
        self._lower = _lower_places(kb)

    def for_user(self, text: str) -> str:
        for placeholder, shown in self._out:
            text = text.replace(placeholder, shown)
        return text

    def for_kb(self, text: str) -> tuple[str, LowerPlace | None]:
        """The message in the knowledge base's names, and the 镇 or 园区 it named, read as the place
        above it (「荣家湾镇的项目能代办吗」: 岳阳县's, so 岳阳's)."""
        for typed, placeholder in self._in:
            text = text.replace(typed, placeholder)
        if (lower := self.lower_place(text)) is not None:
            text = text.replace(lower.typed, lower.within, 1)
        return text, lower

    def lower_place(self, text: str) -> LowerPlace | None:
        """The 镇 or 园区 below the knowledge base's places that the message names, longest name first."""
        return next((p for p in self._lower if p.typed in text), None)


def _lower_places(kb: KnowledgeBase) -> list[LowerPlace]:
    """Every name of a region of config/region_tiers.yaml the knowledge base does not know, with the
    nearest region above it that it does (a 县 of its `places`, or a document region)."""
    h = region_tiers.hierarchy()

    def known(code: str) -> str | None:
        if code in kb.regions:
            return kb.regions[code].name
        r = h.regions.get(code)
        name = _without_example(r.name) if r else ""
        return name if name and (kb.find_place(name) or kb.find_region(name)) else None

    out = []
    for r in h.regions.values():
        if r.parent is None or known(r.code):
            continue
        within = next((k for k in map(known, h.chain(r.code)[1:]) if k), None)
        top = kb.regions.get(h.chain(r.code)[-1])
        if within is None or top is None:
            continue
        for typed in {r.name, _without_example(r.name), *r.aliases}:
            if len(typed) >= 3 and typed not in _TOO_COMMON:
                out.append(LowerPlace(typed, _without_example(r.name), within, top.name))
    return sorted(out, key=lambda p: len(p.typed), reverse=True)
