"""The rasa-sdk action server's own services (dialogs/services.py), for the actions built without.

In process every action is handed its services by whoever runs it: the dialog manager builds its
actions on its own (`ActionCaseProgress(services)`, `ApplicationForm(services)`, `ActionRating(services)`).
rasa-sdk's executor makes every action class with no arguments; those (`python -m rasa_sdk
--actions dialogs.actions`) use `get()`: the server's services, built from the environment on
first use by the same builder as the webhook's. Nothing in process sets them.
"""
from __future__ import annotations

import threading

from bot.platform.config import load_settings

from ..services import Services, build_services

_current: Services | None = None
_guard = threading.Lock()


def get() -> Services:
    global _current
    if _current is None:
        with _guard:
            if _current is None:
                _current = build_services(load_settings())
    return _current
