"""Our form loop around the rasa-sdk actions (rasa-sdk validates; the loop is ours to write).

A turn builds a Tracker whose trailing `slot` events carry the candidate values (what Rasa's own
FormAction would append), runs the validation action, applies the SlotSet events it returns and
reads the next requested slot from them.
"""
from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass, field

from rasa_sdk import Action, Tracker

from .actions.application import (
    DOMAIN,
    FORM,
    SLOTS,
    ActionSubmitApplication,
    ValidateApplicationForm,
)
from .services import Services


@dataclass
class FormTurn:
    messages: list[str]
    slots: dict
    requested: str | None
    events: list = field(default_factory=list)

    @property
    def ineligible(self) -> bool:
        return bool(self.slots.get("ineligible"))


def run_action(action: Action, user: str, slots: dict, text: str = "", candidates: dict | None = None,
               intent: str = "", entities: dict | None = None) -> tuple[list[str], list[dict]]:
    """Run one rasa-sdk action in process: the same call the action server makes."""
    candidates = candidates or {}
    events = [{"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in candidates.items()]
    tracker = Tracker.from_dict({
        "sender_id": user, "slots": {**slots, **candidates}, "events": events, "paused": False,
        "latest_message": {"text": text, "intent": {"name": intent},
                           "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()]},
        "followup_action": None, "active_loop": {"name": FORM} if isinstance(action, ValidateApplicationForm) else {},
        "latest_action_name": "action_listen",
    })
    from rasa_sdk.executor import CollectingDispatcher  # pydantic (~70 ms): not on the consultation path

    dispatcher = CollectingDispatcher()
    result = _run(action.run(dispatcher, tracker, DOMAIN))
    return [m["text"] for m in dispatcher.messages if m.get("text")], list(result or [])


_loops = threading.local()


def _run(coroutine):
    """Run an action's coroutine on this thread's own event loop. asyncio.run would build and
    tear down a loop per call, which cost more than the validation itself (~0.8 ms a turn)."""
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loops.loop = asyncio.new_event_loop()
    return loop.run_until_complete(coroutine)


class ApplicationForm:
    """The application form's two actions, run on the services of the manager that builds it."""

    def __init__(self, services: Services):
        self.validator = ValidateApplicationForm(services)
        self.submitter = ActionSubmitApplication(services)

    @staticmethod
    def new_slots(**prefill) -> dict:
        slots = {s: None for s in SLOTS}
        slots["submission_key"] = uuid.uuid4().hex
        slots.update({k: v for k, v in prefill.items() if v is not None})
        return slots

    def fill(self, user: str, slots: dict, candidates: dict, text: str = "") -> FormTurn:
        """Validate candidate values and find (and ask) the next question."""
        messages, events = run_action(self.validator, user, slots, text, candidates)
        slots = dict(slots)
        requested = None
        for e in events:
            if e.get("event") != "slot":
                continue
            if e["name"] == "requested_slot":
                requested = e["value"]
            else:
                slots[e["name"]] = e["value"]
        return FormTurn(messages, slots, requested, events)

    def submit(self, user: str, slots: dict) -> list[str]:
        messages, _ = run_action(self.submitter, user, slots)
        return messages
