"""委托协议 as a document (issue 17, item 2): the agreed text, versioned per region, and the record
of which version a case agreed to, when and by whom.

The texts are data: config/agreements/<region>/<version>.yaml (or the folder BANGBAN_AGREEMENTS
names), `default/` for regions without their own. Each file has `title`, `document` (what the
window prints: 委托代办协议, 代办委托书, 申请表), `effective` (the date it applies from),
`source`, `summary` (the short points the chat shows) and `text`. The version in effect on a day
is the one with the latest `effective` on or before it. A case keeps a copy of the text it agreed
to (models.CaseAgreement): a new version file never changes what was agreed before.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.models import Case, CaseAgreement
from bot.platform import clock, region_tiers

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "config" / "agreements"
DEFAULT_REGION = "default"
_VERSION = re.compile(r"^v\d{1,4}$")
_REGION = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class AgreementText:
    region: str  # the folder it came from: a region id, or "default"
    version: str  # v1, v2, ...
    title: str
    document: str
    effective: date
    source: str
    summary: tuple[str, ...]
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def version_name(self) -> str:
        return version_name(self.version)

    @property
    def path(self) -> str:
        """Where its page is: /agreements/<region>/<version>."""
        return f"/agreements/{self.region}/{self.version}"


def folder() -> Path:
    return Path(os.environ.get("BANGBAN_AGREEMENTS", "").strip() or DEFAULT_DIR)


def _version_number(version: str) -> int:
    return int(version[1:])


def _read(path: Path, region: str) -> AgreementText:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    where = f"{path}"
    missing = [k for k in ("title", "effective", "summary", "text") if not data.get(k)]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    effective = data["effective"]
    if isinstance(effective, str):
        effective = date.fromisoformat(effective)
    if not isinstance(effective, date):
        raise ValueError(f"{where}: effective must be a date (YYYY-MM-DD)")
    return AgreementText(region=region, version=path.stem, title=str(data["title"]).strip(),
                         document=str(data.get("document") or "委托协议").strip(), effective=effective,
                         source=str(data.get("source") or "").strip(),
                         summary=tuple(str(s).strip() for s in data["summary"]), text=str(data["text"]).strip())


def versions(region: str) -> list[AgreementText]:
    """Every version file of the folder `region`, oldest first (none when it has no folder)."""
    base = folder() / region
    if not _REGION.match(region) or not base.is_dir():
        return []
    found = [_read(p, region) for p in base.glob("v*.yaml") if _VERSION.match(p.stem)]
    return sorted(found, key=lambda a: _version_number(a.version))


def folder_of(region: str | None) -> str:
    """The region's own folder if it has one, else its nearest ancestor's (a 镇 agrees to its
    document region's text; regions in tiers, bot/platform/region_tiers.py), else default."""
    return next((code for code in region_tiers.chain(region) if versions(code)), DEFAULT_REGION) if region \
        else DEFAULT_REGION


def in_effect(region: str | None, on: date | None = None) -> AgreementText | None:
    """The version of the region's text (or the default's) in effect on `on` (today)."""
    on = on or clock.today()
    candidates = [a for a in versions(folder_of(region)) if a.effective <= on]
    return max(candidates, key=lambda a: (a.effective, _version_number(a.version))) if candidates else None


def get(region: str, version: str) -> AgreementText | None:
    """One version by its folder and name, for its page; None when there is no such file."""
    if not _REGION.match(region or "") or not _VERSION.match(version or ""):
        return None
    return next((a for a in versions(region) if a.version == version), None)


def of_case(session: Session, case: Case) -> CaseAgreement | None:
    return session.scalar(sa.select(CaseAgreement).where(CaseAgreement.case_id == case.id))


def record(session: Session, case: Case, *, agreed_at: datetime, openid: str, name: str, phone: str | None,
           version: str | None = None) -> CaseAgreement:
    """Keep what the case agreed to: the version shown at consent (`version`, of the region's
    folder), or the one in effect on the day of consent. A copy of the text is kept with it."""
    region = folder_of(case.region)
    text = get(region, version) if version else None
    if text is None:
        text = in_effect(case.region, clock.to_local(agreed_at).date())
    if text is None:
        from bot.casework.cases import CaseError

        raise CaseError("本地区尚未配置委托协议文本，暂不能受理代办，请联系窗口")
    row = CaseAgreement(case_id=case.id, region=text.region, version=text.version, title=text.title,
                        effective_from=text.effective, text=text.text, sha256=text.sha256, agreed_at=agreed_at,
                        agreed_openid=openid, agreed_name=name, agreed_phone=phone or None)
    session.add(row)
    return row


def version_name(version: str) -> str:
    """v2 as people read it: 「第2版」."""
    return f"第{version[1:]}版" if _VERSION.match(version or "") else version


def label(row: CaseAgreement) -> str:
    """「《…》第1版（2026-01-01起施行）」 as the ledger and the exports name it."""
    return f"《{row.title}》{version_name(row.version)}（{row.effective_from:%Y-%m-%d}起施行）"
