"""What each region's service offers beyond the common flow (issue 17, items 8 and 11), from
config/region_service.yaml (or the file BANGBAN_REGION_SERVICE names): the 服务选项 its form
asks (延津: 24小时, 分阶段 or 全程 帮办代办), how early a 重点项目's 临期提醒 comes, and whether its
supervisors are told when a 重点项目 is assigned. One place: the form, the case services, the SLA
sweep and the console all read it here."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from bot.platform import region_tiers
from bot.vocabulary import AppointmentKind

SERVICE_OPTIONS = ("24小时帮办代办", "分阶段帮办代办", "全程帮办代办")
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "region_service.yaml"


@dataclass(frozen=True)
class EscalationTier:
    """One step of a region's escalation ladder (issue 17 item 7): where a case problem is raised,
    who is told, how many working days the answer may take, and the document's words for it."""

    level: str  # as the region's document names it; stored in Escalation.level
    who: tuple[str, ...]  # the offices / roles the document gives the problem to (named in the push)
    due_workdays: int
    source: str
    staff: tuple[str, ...] = ()  # usernames pushed besides the region's supervisors and the commissioner


# Where a region's document gives no ladder (DESIGN.md): 专班 → 联席会议 → 工改领导小组.
DEFAULT_LADDER = (
    EscalationTier("专班", ("专班负责人",), 5, "DESIGN.md 通用协调路径"),
    EscalationTier("联席会议", ("联席会议办公室",), 10, "DESIGN.md 通用协调路径"),
    EscalationTier("工改领导小组", ("领导小组办公室",), 10, "DESIGN.md 通用协调路径"),
)


@dataclass(frozen=True)
class RegionService:
    service_options: tuple[str, ...] = ()
    key_project_warn_workdays: int | None = None
    key_project_alerts_supervisors: bool = True
    # 办结 the enterprise confirms (issue 17 item 3; 县级市 seed 003): the case's 办结 waits for the
    # enterprise's 「确认办结」, counted as confirmed after this many working days without an answer.
    completion_confirmation: bool = False
    completion_confirm_workdays: int = 5
    # What the region's document calls the 一企一策 plan (issue 17 item 10): the chat, the case page
    # and the 受理 ledger line name it so (bot/casework/plans.py).
    plan_name: str = "一企一策计划"
    # Escalation tiers (issue 17 item 7; bot/supervision/escalations.py), lowest first.
    escalation_ladder: tuple[EscalationTier, ...] = DEFAULT_LADDER
    # 上门受理 / 窗口预约 (issue 17 item 1): the kinds of appointment a commissioner may propose here
    # (AppointmentKind values, bot/casework/appointments.py).
    appointment_kinds: tuple[str, ...] = ("window",)
    # The service modes a 上门受理 is offered for, where `visit` is among the kinds: 江北's document
    # has it in the 代办 mechanism only (帮办 is 咨询指导 at the window or by phone).
    visit_modes: tuple[str, ...] = ("帮办", "代办")
    # 立卷归档 (issue 17 item 5): days after 送达 or 终止 an enterprise has to rate before the case may
    # be archived with 「企业未评价」 (no document sets it: the operator's).
    rating_wait_days: int = 7


def _ladder(value, where: str) -> tuple[EscalationTier, ...]:
    if isinstance(value, tuple) and all(isinstance(t, EscalationTier) for t in value):
        return value  # inherited from `default`
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: escalation_ladder must be a non-empty list of tiers")
    tiers = []
    for n, raw in enumerate(value, 1):
        at = f"{where}: escalation_ladder[{n}]"
        if not isinstance(raw, dict):
            raise ValueError(f"{at} must be a mapping with level, who, due_workdays, source")  # noqa: TRY004 - a config error, like the others here
        level = str(raw.get("level") or "").strip()
        if not 2 <= len(level) <= 16:
            raise ValueError(f"{at}: level must be 2-16 characters")
        who = raw.get("who")
        if isinstance(who, str):
            who = [who]
        if not who or not all(isinstance(w, str) and w.strip() for w in who):
            raise ValueError(f"{at}: who must name at least one office or role")
        days = raw.get("due_workdays")
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise ValueError(f"{at}: due_workdays must be a whole number of working days >= 1")
        source = str(raw.get("source") or "").strip()
        if not source:
            raise ValueError(f"{at}: source must cite the document")
        staff = raw.get("staff") or []
        if not isinstance(staff, list) or not all(isinstance(s, str) and s.strip() for s in staff):
            raise ValueError(f"{at}: staff must be a list of usernames")
        tiers.append(EscalationTier(level, tuple(w.strip() for w in who), days, source, tuple(staff)))
    levels = [t.level for t in tiers]
    if len(set(levels)) != len(levels):
        raise ValueError(f"{where}: escalation_ladder names a level twice: {levels}")
    return tuple(tiers)


def _entry(raw: dict, base: RegionService, where: str) -> RegionService:
    return replace(_entry_without_ladder(raw, base, where),
                   escalation_ladder=_ladder(raw.get("escalation_ladder", base.escalation_ladder), where))


def _entry_without_ladder(raw: dict, base: RegionService, where: str) -> RegionService:
    options = tuple(raw.get("service_options", base.service_options) or ())
    unknown = [o for o in options if o not in SERVICE_OPTIONS]
    if unknown:
        raise ValueError(f"{where}: unknown service option(s) {unknown}; allowed: {list(SERVICE_OPTIONS)}")
    warn = raw.get("key_project_warn_workdays", base.key_project_warn_workdays)
    if warn is not None and (not isinstance(warn, int) or warn < 0):
        raise ValueError(f"{where}: key_project_warn_workdays must be a whole number of working days >= 0")
    confirm_days = raw.get("completion_confirm_workdays", base.completion_confirm_workdays)
    if not isinstance(confirm_days, int) or isinstance(confirm_days, bool) or confirm_days < 1:
        raise ValueError(f"{where}: completion_confirm_workdays must be a whole number of working days >= 1")
    return RegionService(options, warn, bool(raw.get("key_project_alerts_supervisors",
                                                     base.key_project_alerts_supervisors)),
                         bool(raw.get("completion_confirmation", base.completion_confirmation)), confirm_days,
                         _plan_name(raw.get("plan_name", base.plan_name), where),
                         appointment_kinds=_appointment_kinds(raw.get("appointment_kinds", base.appointment_kinds),
                                                              where),
                         visit_modes=_visit_modes(raw.get("visit_modes", base.visit_modes), where),
                         rating_wait_days=_days(raw.get("rating_wait_days", base.rating_wait_days), "rating_wait_days",
                                                where))


def _days(value, key: str, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 90:
        raise ValueError(f"{where}: {key} must be a whole number of days from 1 to 90")
    return value


def _visit_modes(value, where: str) -> tuple[str, ...]:
    modes = tuple(value or ())
    if not modes or any(m not in ("帮办", "代办") for m in modes) or len(set(modes)) != len(modes):
        raise ValueError(f"{where}: visit_modes must be 帮办, 代办 or both, got {list(modes)}")
    return modes


def _plan_name(value, where: str) -> str:
    name = str(value or "").strip()
    if not 2 <= len(name) <= 20:
        raise ValueError(f"{where}: plan_name must be 2-20 characters")
    return name


APPOINTMENT_KINDS = tuple(AppointmentKind)  # visit (上门受理), window (窗口预约)


def _appointment_kinds(value, where: str) -> tuple[str, ...]:
    kinds = tuple(value or ())
    unknown = [k for k in kinds if k not in APPOINTMENT_KINDS]
    if unknown or len(set(kinds)) != len(kinds):
        raise ValueError(f"{where}: appointment_kinds must be distinct values of {list(APPOINTMENT_KINDS)}, got {list(kinds)}")
    return kinds


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[RegionService, dict[str, RegionService]]:
    import yaml

    p = Path(path)
    data = yaml.safe_load(p.read_text(encoding="utf-8")) if p.exists() else {}
    data = data or {}
    default = _entry(data.get("default") or {}, RegionService(), f"{path}: default")
    regions = {rid: _entry(raw or {}, default, f"{path}: regions.{rid}") for rid, raw in (data.get("regions") or {}).items()}
    return default, regions


def config_path() -> str:
    return os.environ.get("BANGBAN_REGION_SERVICE", "").strip() or str(DEFAULT_PATH)


def for_region(region: str | None) -> RegionService:
    default, regions = _load(config_path())
    # Regions in tiers (issue 17 item 6): a 镇 or 县 without an entry of its own takes its nearest
    # ancestor's, i.e. its document region's (bot/platform/region_tiers.py).
    return next((regions[code] for code in region_tiers.chain(region or "") if code in regions), default)


def configured() -> dict[str, RegionService]:
    """Every region the file names (the others take the default)."""
    return dict(_load(config_path())[1])


def key_project_warn_workdays(region: str | None, normal: int) -> int:
    warn = for_region(region).key_project_warn_workdays
    return normal if warn is None else warn
