"""The 帮办/代办 application form, written against rasa-sdk so the same code runs in process (our
form loop in dialogs/forms.py) and behind `python -m rasa_sdk --actions dialogs.actions`.

ValidateApplicationForm validates each answer, says clearly what is wrong, and asks the next
question; ActionSubmitApplication stores the request and answers with its number and the
一次性告知.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet

from bot.casework import agreements, cases
from bot.identifiers import check_credit_code, check_phone, check_project_code, mask_credit_code
from bot.models import Staff
from bot.platform import clock, region_service, region_tiers
from bot.platform.db import transaction

from .. import texts
from ..nlu import NO_WORDS, SKIP_WORDS, YES_WORDS, clean, menu_number, service_mode
from ..notice import item_plans, one_time_notice
from .service import HandedServices

if TYPE_CHECKING:  # the executor pulls in pydantic (~70 ms), which only a form run needs
    from rasa_sdk.executor import CollectingDispatcher

FORM = "application_form"
SLOTS = ["service_mode", "region", "service_option", "company_name", "credit_code", "project_name", "project_code",
         "investment_type", "key_project", "project_kind", "stage", "items", "contact_name",
         "contact_phone", "agreement", "confirmed"]
OPTIONAL_NONE = ""  # an optional slot the user skipped (None means "not asked yet")
INVESTMENT_TYPES = ["社会投资", "政府投资"]
PROJECT_KINDS = ["工业项目", "商业/办公项目", "经营性房地产开发", "市政基础设施", "公共服务设施（教育、医疗等）", "其他"]
EDITABLE = {
    "联系人": "contact_name", "联系电话": "contact_phone", "电话": "contact_phone", "手机": "contact_phone",
    "公司": "company_name", "企业": "company_name", "公司名称": "company_name", "企业名称": "company_name",
    "单位": "company_name", "信用代码": "credit_code", "统一社会信用代码": "credit_code", "代码": "credit_code",
    "项目名称": "project_name", "项目名": "project_name", "项目代码": "project_code", "地区": "region",
    "区域": "region", "所在地": "region", "阶段": "stage", "事项": "items", "办理事项": "items",
    "投资类型": "investment_type", "重点项目": "key_project", "项目类型": "project_kind",
    "服务方式": "service_mode", "方式": "service_mode",
    "服务选项": "service_option", "服务时段": "service_option",
}

DOMAIN: dict[str, Any] = {
    "version": "3.1",
    # agreement_version: the 委托协议 version the consent step showed (bot/casework/agreements.py);
    # region_area: the 镇/园区/县 the 属地 answer named inside its region (bot/platform/region_tiers.py)
    "slots": {s: {"type": "any", "mappings": [{"type": "custom"}]}
              for s in SLOTS + ["requested_slot", "ineligible", "agreement_version", "region_area"]},
    "forms": {FORM: {"required_slots": SLOTS}},
    "responses": {},
    "actions": ["validate_application_form", "action_submit_application"],
}


def required_slots_for(slots: dict) -> list[str]:
    """The agreement is asked only for 代办 (帮办 needs no 委托, seed 002)."""
    return [s for s in SLOTS if (s != "agreement" or slots.get("service_mode") == "代办")
            and (s != "service_option" or bool(service_options_of(slots.get("region"))))]


def service_options_of(region: str | None) -> tuple[str, ...]:
    """The 服务选项 the region offers (config/region_service.yaml; 延津: 24小时, 分阶段, 全程), asked
    only there; nothing is asked before the region is known."""
    return region_service.for_region(region).service_options if region else ()


def _numbered(options) -> str:
    return "\n".join(f"{i}. {o}" for i, o in enumerate(options, 1))


def _pick(value: str, options: list[str]) -> str | None:
    """An option chosen by number or by (part of) its name."""
    c = clean(value)
    n = menu_number(c)
    if n is not None:
        return options[n - 1] if 1 <= n <= len(options) else None
    hits = [o for o in options if clean(o) and (clean(o) in c or (len(c) >= 2 and c in clean(o)))]
    return hits[0] if len(hits) == 1 else None


def stage_options(kb) -> list[tuple[str, str]]:
    return [(s.id, s.name) for s in kb.stages.values()]


def item_options(kb, stage: str) -> list[tuple[str, str]]:
    return [(i.id, i.name) for i in kb.items.values() if i.stage == stage]


# The numbered choices a slot's question lists ({options} of texts.QUESTIONS).
_CHOICES = {
    "region": lambda kb, slots: [r.name for r in kb.regions.values()],
    "service_option": lambda kb, slots: list(service_options_of(slots.get("region"))),
    "investment_type": lambda kb, slots: INVESTMENT_TYPES,
    "project_kind": lambda kb, slots: PROJECT_KINDS,
    "stage": lambda kb, slots: [name for _, name in stage_options(kb)],
    "items": lambda kb, slots: [name for _, name in item_options(kb, slots.get("stage") or "")],
}


def prompt(slot: str, slots: dict, kb, public_url: str | None = None) -> str:
    """The question for `slot` (texts.QUESTIONS), with the choices of `kb` the user can answer by number."""
    if slot == "agreement":
        return agreement_prompt(slots.get("region"), public_url)
    fields = {}
    if slot in _CHOICES:
        fields["options"] = _numbered(_CHOICES[slot](kb, slots))
    if slot == "confirmed":
        fields["summary"] = summary(slots, kb)
    return texts.QUESTIONS.get(slot, "").format(**fields)


def agreement_prompt(region: str | None, public_url: str | None = None) -> str:
    """The 委托协议 consent step: the region's text in effect (bot/casework/agreements.py), its
    summary and the page where the whole text is read and printed; the built-in points when no
    text is configured."""
    text = agreements.in_effect(region)
    if text is None:
        return texts.AGREEMENT_TERMS
    if public_url is None:
        from bot.platform.config import load_settings

        public_url = load_settings().public_url
    return texts.AGREEMENT_PROMPT.format(
        title=text.title, version=text.version_name, effective=f"{text.effective:%Y-%m-%d}",
        points="\n".join(f"{n}. {p}；" if n < len(text.summary) else f"{n}. {p}。"
                         for n, p in enumerate(text.summary, 1)),
        url=public_url.rstrip("/") + text.path)


def summary(slots: dict, kb) -> str:
    region = kb.regions.get(slots.get("region") or "")
    stage = kb.stages.get(slots.get("stage") or "")
    names = [kb.items[c].name for c in slots.get("items") or [] if c in kb.items]
    blank = texts.SUMMARY_BLANK
    text = texts.SUMMARY.format(
        mode=slots.get("service_mode") or "", region=(region.name + (f"（{region_tiers.name(slots['region_area'])}）"
                                                          if slots.get("region_area") else "")) if region else blank,
        company=slots.get("company_name") or blank, credit_code=slots.get("credit_code") or blank,
        project=slots.get("project_name") or blank,
        project_code=slots.get("project_code") or texts.SUMMARY_NO_PROJECT_CODE,
        investment_type=slots.get("investment_type") or blank,
        key_project=texts.SUMMARY_KEY_PROJECT[bool(slots.get("key_project"))],
        project_kind=slots.get("project_kind") or blank, stage=stage.name if stage else blank,
        items=texts.SUMMARY_ITEM_SEPARATOR.join(names) or blank, contact_name=slots.get("contact_name") or blank,
        contact_phone=slots.get("contact_phone") or texts.SUMMARY_NO_PHONE)
    if slots.get("service_option") and slots["service_option"] in service_options_of(slots.get("region")):
        text += "\n" + texts.SUMMARY_SERVICE_OPTION.format(option=slots["service_option"])
    if slots.get("service_mode") == "代办" and slots.get("agreement"):
        agreed = (agreements.get(agreements.folder_of(slots.get("region")), slots["agreement_version"])
                  if slots.get("agreement_version") else None)
        text += "\n" + (texts.SUMMARY_AGREED_VERSION.format(title=agreed.title, version=agreed.version_name)
                        if agreed else texts.SUMMARY_AGREED)
    return text


def _invalid(dispatcher: CollectingDispatcher, slot: str, **fields) -> None:
    """Say what is wrong with the answer to `slot` (texts.INVALID)."""
    dispatcher.utter_message(text=texts.INVALID[slot].format(**fields))


def scope_problem(kb, region_id: str, investment_type: str | None,
                  project_kind: str | None) -> str | None:
    """Why this region's service (in `kb`) does not cover the project, or None when it does."""
    region = kb.regions.get(region_id)
    if region is None:
        return None
    for excluded in region.excluded_project_kinds:
        for value in (project_kind, investment_type):
            if value and (value in excluded or excluded in value):
                return texts.INELIGIBLE.format(region=region.name, excluded=excluded,
                                               source=region.source.cite() if region.source else texts.INELIGIBLE_SOURCE)
    return None


class ValidateApplicationForm(HandedServices, FormValidationAction):
    def name(self) -> str:
        return "validate_application_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        return required_slots_for(tracker.slots)

    async def next_requested_slot(self, dispatcher, tracker, domain):
        # Always name the next slot (rasa-sdk skips this unless required_slots differs from the
        # domain's list), and ask it, so the reply is complete wherever the action runs.
        if tracker.slots.get("ineligible"):
            return SlotSet("requested_slot", None)
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        missing = next((s for s in required if tracker.slots.get(s) is None), None)
        if missing:
            dispatcher.utter_message(text=prompt(missing, tracker.slots, self.services.kb,
                                                 self.services.settings.public_url))
        return SlotSet("requested_slot", missing)

    # -- one validator per slot: return the clean value, or None after saying what is wrong --

    def validate_service_mode(self, value, dispatcher, tracker, domain):
        c = clean(str(value))
        mode = {1: "帮办", 2: "代办"}.get(menu_number(c) or 0) or service_mode(c)
        if mode:
            return {"service_mode": mode}
        if any(w in c for w in ("区别", "不同", "不确定", "不知道", "哪个好", "有啥不一样")):
            dispatcher.utter_message(text=texts.MODE_DIFFERENCE)
        else:
            _invalid(dispatcher, "service_mode")
        return {"service_mode": None}

    def validate_region(self, value, dispatcher, tracker, domain):
        kb = self.services.kb
        ids = list(kb.regions)
        n = menu_number(clean(str(value)))
        region = value if value in kb.regions else (
            ids[n - 1] if n and 1 <= n <= len(ids) else kb.find_region(str(value)))
        # Regions in tiers (issue 17 item 6): 「岳阳县荣家湾镇」, or a bare 「荣家湾镇」, names a 镇 whose
        # commissioners then take the case (cases.place_of); its document region answers for it.
        area = None if n or value in kb.regions else region_tiers.find_place(str(value), within=region)
        if area and not region and region_tiers.root(area) in kb.regions:
            region = region_tiers.root(area)
        if region:
            # Another region offers other 服务选项 (or none): the choice is asked again there.
            changed = tracker.get_slot("service_option") is not None and region != tracker.get_slot("region")
            # Another region's 委托协议 is another text: the consent is asked again with that one.
            other_text = (tracker.get_slot("agreement") is not None
                          and agreements.folder_of(region) != agreements.folder_of(tracker.get_slot("region")))
            return {"region": region, "region_area": area, **({"service_option": None} if changed else {}),
                    **({"agreement": None, "agreement_version": None} if other_text else {})}
        _invalid(dispatcher, "region", n=len(ids))
        return {"region": None}

    def validate_service_option(self, value, dispatcher, tracker, domain):
        options = list(service_options_of(tracker.get_slot("region")))
        if value in options:
            return {"service_option": value}
        c = clean(str(value))
        choice = _pick(str(value), options) or next(
            (o for o in options for word in ("24", "分阶段", "全程") if word in c and word in o), None)
        if not choice:
            _invalid(dispatcher, "service_option", n=len(options))
            return {"service_option": None}
        return {"service_option": choice}

    def validate_company_name(self, value, dispatcher, tracker, domain):
        name = re.sub(r"\s+", "", str(value)).strip("：:，,。")
        if not 4 <= len(name) <= 60 or not re.search(r"[\u4e00-\u9fff]", name) or re.fullmatch(r"[\d\W]+", name):
            _invalid(dispatcher, "company_name")
            return {"company_name": None}
        return {"company_name": name}

    def validate_credit_code(self, value, dispatcher, tracker, domain):
        result = check_credit_code(str(value))
        if not result.ok:
            _invalid(dispatcher, "credit_code", error=result.error)
            return {"credit_code": None}
        return {"credit_code": result.value}

    def validate_project_name(self, value, dispatcher, tracker, domain):
        name = str(value).strip().strip("：:，,。")
        if not 2 <= len(name) <= 100:
            _invalid(dispatcher, "project_name")
            return {"project_name": None}
        return {"project_name": name}

    def validate_project_code(self, value, dispatcher, tracker, domain):
        if value == OPTIONAL_NONE or clean(str(value)) in SKIP_WORDS:
            return {"project_code": OPTIONAL_NONE}
        result = check_project_code(str(value))
        if not result.ok:
            _invalid(dispatcher, "project_code", error=result.error)
            return {"project_code": None}
        return {"project_code": result.value}

    def validate_investment_type(self, value, dispatcher, tracker, domain):
        choice = _pick(str(value), INVESTMENT_TYPES) or ("社会投资" if "企业投资" in str(value) else None)
        if not choice:
            _invalid(dispatcher, "investment_type")
            return {"investment_type": None}
        problem = scope_problem(self.services.kb, tracker.get_slot("region") or "", choice, None)
        if problem:
            dispatcher.utter_message(text=problem)
            return {"investment_type": choice, "ineligible": problem}
        return {"investment_type": choice}

    def validate_key_project(self, value, dispatcher, tracker, domain):
        if isinstance(value, bool):
            return {"key_project": value}
        c = clean(str(value))
        if c in NO_WORDS or c.startswith("不是") or c.startswith("否") or menu_number(c) == 2:
            return {"key_project": False}
        if c in YES_WORDS or "重点" in c or "招商" in c or menu_number(c) == 1:
            return {"key_project": True}
        _invalid(dispatcher, "key_project")
        return {"key_project": None}

    def validate_project_kind(self, value, dispatcher, tracker, domain):
        choice = _pick(str(value), PROJECT_KINDS) or ("经营性房地产开发" if "房地产" in str(value) else None)
        if not choice:
            _invalid(dispatcher, "project_kind", n=len(PROJECT_KINDS))
            return {"project_kind": None}
        problem = scope_problem(self.services.kb, tracker.get_slot("region") or "", None, choice)
        if problem:
            dispatcher.utter_message(text=problem)
            return {"project_kind": choice, "ineligible": problem}
        return {"project_kind": choice}

    def validate_stage(self, value, dispatcher, tracker, domain):
        kb = self.services.kb
        options = stage_options(kb)
        if value in kb.stages:
            return {"stage": value, "items": None}
        name = _pick(str(value), [n for _, n in options])
        if not name:
            for sid, stage in kb.stages.items():
                if any(clean(a) in clean(str(value)) for a in stage.aliases if a):
                    return {"stage": sid, "items": None}
            _invalid(dispatcher, "stage", n=len(options))
            return {"stage": None}
        return {"stage": next(sid for sid, n in options if n == name), "items": None}

    def validate_items(self, value, dispatcher, tracker, domain):
        kb = self.services.kb
        options = item_options(kb, tracker.get_slot("stage") or "")
        if isinstance(value, list) and value and all(v in kb.items for v in value):
            return {"items": value}
        text = str(value)
        if clean(text) in {"全部", "都要", "所有", "全选", "都办"}:
            return {"items": [code for code, _ in options]}
        numbers = [int(n) for n in re.findall(r"\d+", text)]
        chosen = [options[n - 1][0] for n in numbers if 1 <= n <= len(options)]
        if not numbers:
            chosen = [code for code, name in options
                      if clean(name) in clean(text) or any(clean(a) in clean(text) for a in kb.items[code].aliases if len(a) > 1)]
        bad = [n for n in numbers if not 1 <= n <= len(options)]
        if not chosen or bad:
            _invalid(dispatcher, "items", n=len(options))
            return {"items": None}
        return {"items": list(dict.fromkeys(chosen))}

    def validate_contact_name(self, value, dispatcher, tracker, domain):
        name = re.sub(r"\s+", "", str(value)).strip("：:，,。")
        if not 2 <= len(name) <= 20 or re.search(r"\d", name):
            _invalid(dispatcher, "contact_name")
            return {"contact_name": None}
        return {"contact_name": name}

    def validate_contact_phone(self, value, dispatcher, tracker, domain):
        if value == OPTIONAL_NONE or clean(str(value)) in SKIP_WORDS:
            return {"contact_phone": OPTIONAL_NONE}
        result = check_phone(str(value))
        if not result.ok:
            _invalid(dispatcher, "contact_phone", error=result.error)
            return {"contact_phone": None}
        return {"contact_phone": result.value}

    def validate_agreement(self, value, dispatcher, tracker, domain):
        c = clean(str(value))
        if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}T", value):
            return {"agreement": value}
        if c in YES_WORDS or c.startswith("同意"):
            # The version shown at this step is the one agreed (kept with the case on submission).
            shown = agreements.in_effect(tracker.slots.get("region"))
            return {"agreement": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "agreement_version": shown.version if shown else None}
        if c in NO_WORDS or "不同意" in c:
            dispatcher.utter_message(text=texts.AGREEMENT_DECLINED)
            return {"agreement": None, "service_mode": "帮办"}
        _invalid(dispatcher, "agreement")
        return {"agreement": None}

    def validate_confirmed(self, value, dispatcher, tracker, domain):
        c = clean(str(value))
        if value is True or c in YES_WORDS:
            return {"confirmed": True}
        _invalid(dispatcher, "confirmed")
        return {"confirmed": None}


class ActionSubmitApplication(HandedServices, Action):
    """Store the confirmed request in one transaction and answer with its number at once."""

    def name(self) -> str:
        return "action_submit_application"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        rt = self.services
        s = tracker.slots
        consent = s.get("agreement")
        today = clock.today()
        app = cases.Application(
            mode=s["service_mode"], applicant_openid=tracker.sender_id, company_name=s["company_name"],
            credit_code=s["credit_code"], project_name=s["project_name"], region=s["region"],
            investment_type=s["investment_type"], stage=s["stage"], contact_name=s["contact_name"],
            items=tuple(item_plans(rt.kb, s["items"])), project_code=s.get("project_code") or None,
            key_project=bool(s.get("key_project")), project_kind=s.get("project_kind"),
            contact_phone=s.get("contact_phone") or None,
            agreement_consented_at=datetime.fromisoformat(consent) if consent else None,
            submission_key=s.get("submission_key") or None,
            service_option=s.get("service_option") if s.get("service_option") in service_options_of(s["region"]) else None,
            agreement_version=s.get("agreement_version") if consent else None,
            area=s.get("region_area") or None,
        )
        with transaction(rt.sessions) as db:
            case = cases.submit(db, app, rt.calendar, today=today, console_url=rt.settings.public_url)
            commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
            number = case.number
        who = (texts.SUBMITTED_WHO.format(name=commissioner.name, contact=app.contact_name) if commissioner
               else texts.SUBMITTED_UNASSIGNED)
        dispatcher.utter_message(text=texts.SUBMITTED.format(number=number, mode=app.mode, who=who))
        dispatcher.utter_message(text=one_time_notice(rt.kb, s["items"], s["stage"], today, rt.calendar, number))
        return [SlotSet("case_number", number), SlotSet("credit_code_masked", mask_credit_code(app.credit_code))]
