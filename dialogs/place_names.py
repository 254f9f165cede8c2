"""What the chat calls a region whose document never names its place.

Seed 003 is written by a county-level city that never says which: the knowledge base, faithful to
it, calls the city 「某县级市」, a placeholder. Users read the name the deployment configured
(bot.platform.config REGION_NAMES / BANGBAN_REGION_NAMES, the same as the console's), and may type it
back, with or without its 「（示例）」: both ways are translated at the chat's edge, so the
knowledge base and everything between keep one spelling.
"""
from __future__ import annotations

import re

from knowledge import KnowledgeBase

PLACEHOLDER_PREFIX = "某"  # the knowledge base's own convention for a place its document leaves unnamed


class PlaceNames:
    def __init__(self, kb: KnowledgeBase, display_names: dict[str, str]):
        self._out: list[tuple[str, str]] = []   # (knowledge base's name, display name)
        self._in: list[tuple[str, str]] = []    # (what a user may type, knowledge base's name)
        for region in kb.regions.values():
            shown = (display_names.get(region.id) or "").strip()
            if not region.name.startswith(PLACEHOLDER_PREFIX) or not shown or shown == region.name:
                continue
            self._out.append((region.name, shown))
            core = re.sub(r"[（(][^）)]*[）)]$", "", shown).strip()
            for typed in sorted({shown, core} - {""}, key=len, reverse=True):
                self._in.append((typed, region.name))

    def for_user(self, text: str) -> str:
        for placeholder, shown in self._out:
            text = text.replace(placeholder, shown)
        return text

    def for_kb(self, text: str) -> str:
        for typed, placeholder in self._in:
            text = text.replace(typed, placeholder)
        return text
