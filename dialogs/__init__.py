"""Dialog manager: understands each message and decides the reply (see manager.py)."""
from __future__ import annotations

from bot.platform.config import Settings
from bot.platform.kv import KV
from bot.platform.workdays import WorkCalendar
from knowledge import KnowledgeBase, Retriever

from .manager import DialogManager, Turn
from .services import Services, build_services

__all__ = ["DialogManager", "Services", "Turn", "build_manager", "build_services"]


def build_manager(settings: Settings | None = None, kb: KnowledgeBase | None = None, kv: KV | None = None,
                  retriever: Retriever | None = None, calendar: WorkCalendar | None = None, *,
                  services: Services | None = None) -> DialogManager:
    """The dialog manager on `services` (built from `settings` and the parts given when none are
    handed in): it builds its actions on them; `manager.services` is what it runs on, for whoever
    serves it (create_app)."""
    if services is None:
        if settings is None:
            raise TypeError("build_manager needs settings or services")
        services = build_services(settings, kb=kb, kv=kv, retriever=retriever, calendar=calendar)
    return DialogManager(services)
