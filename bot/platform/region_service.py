"""What each region's service offers beyond the common flow (issue 17, items 8 and 11), from
config/region_service.yaml (or the file BANGBAN_REGION_SERVICE names): the 服务选项 its form
asks (延津: 24小时, 分阶段 or 全程 帮办代办), how early a 重点项目's 临期提醒 comes, and whether its
supervisors are told when a 重点项目 is assigned. One place: the form, the case services, the SLA
sweep and the console all read it here."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.vocabulary import AppointmentKind

SERVICE_OPTIONS = ("24小时帮办代办", "分阶段帮办代办", "全程帮办代办")
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "region_service.yaml"


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
    # 上门受理 / 窗口预约 (issue 17 item 1): the kinds of appointment a commissioner may propose here
    # (AppointmentKind values, bot/casework/appointments.py).
    appointment_kinds: tuple[str, ...] = ("window",)


def _entry(raw: dict, base: RegionService, where: str) -> RegionService:
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
                                                              where))


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
    return regions.get(region or "", default)


def configured() -> dict[str, RegionService]:
    """Every region the file names (the others take the default)."""
    return dict(_load(config_path())[1])


def key_project_warn_workdays(region: str | None, normal: int) -> int:
    warn = for_region(region).key_project_warn_workdays
    return normal if warn is None else warn
