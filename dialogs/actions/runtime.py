"""The services (dialogs/services.py) of the rasa-sdk actions that are not handed theirs.

An action is given its services by whoever runs it: `ServiceAction(services)` (actions/service.py).
One built without (rasa-sdk's executor makes every action class with no arguments) uses `get()`:
under the action server (`python -m rasa_sdk --actions dialogs.actions`) that is the server's own,
built from the environment on first use by the same builder as the webhook's; in process, the
ones the last build_manager configured (the actions of manager.py's SERVICE_ACTIONS, of the
application form and of the rating conversation, until they are handed theirs).
"""
from __future__ import annotations

import threading

from bot.config import load_settings

from ..services import Services, build_services

_current: Services | None = None
_guard = threading.Lock()


def configure(services: Services) -> None:
    global _current
    _current = services


def get() -> Services:
    global _current
    if _current is None:
        with _guard:
            if _current is None:
                _current = build_services(load_settings())
    return _current
