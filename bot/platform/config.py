"""All configuration in one place, read from the environment once.

Embedded defaults need nothing set: a SQLite file under the working directory and an in-process
state store. Production sets DATABASE_URL and REDIS_URL (see README, "Configuration").
"""
from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

from bot.platform import region_tiers


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    return float(raw) if raw else default


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name).lower()
    return default if not raw else raw in ("1", "true", "yes", "on")


def _env_hours(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = _env(name)
    return tuple(int(h) for h in raw.split(",") if h.strip()) if raw else default


def _load_yaml(path: str) -> dict:
    if not path:
        return {}
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of region id to contact channels")
    return data


# What each region is called on the console, in exports and in pushes. The county-level city's
# document (seed 003) never names its city, so the knowledge base calls it 某县级市, a placeholder
# no one would write on a form; until the deployment names it (BANGBAN_REGION_NAMES) it is shown
# under an invented name that reads as a city's and says it is an example.
REGION_NAMES = {"jiangbei": "江北区", "yanjin": "延津县", "yueyang": "岳阳市", "county_city": "青禾市（示例）",
                "donghu": "东湖高新区"}


def _region_names(raw: str) -> dict:
    names = json.loads(raw) if raw else {}
    if not isinstance(names, dict) or not all(isinstance(v, str) and v.strip() for v in names.values()):
        raise ValueError('BANGBAN_REGION_NAMES: expected a JSON map of region id to name, e.g. {"county_city": "宜兴市"}')
    return {**REGION_NAMES, **{k: v.strip() for k, v in names.items()}}


# Public (it is in this file): anyone can sign a console session cookie with it.
DEV_SECRET_KEY = "dev-only-secret-key"


def default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'var' / 'bangban.sqlite3'}"


def default_cache_dir() -> str:
    return str(Path.cwd() / "var" / "cache")


def default_media_dir() -> str:
    return str(Path.cwd() / "var" / "media")


# Case material from the chat (bot/casework/materials.py): the file types kept, by extension.
MATERIAL_FILE_TYPES = ("pdf", "doc", "docx", "xls", "xlsx", "zip", "rar", "ofd", "jpg", "jpeg", "png")
MATERIAL_IMAGE_TYPES = ("jpg", "jpeg", "png")


def _env_list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = _env(name)
    return tuple(t.strip().lower().lstrip(".") for t in raw.split(",") if t.strip()) if raw else default


@dataclass(frozen=True)
class Settings:
    # WeChat Official Account (开发 → 基本配置). The token signs every callback.
    wechat_token: str = "bangban-dev-token"
    wechat_appid: str = ""
    wechat_secret: str = ""
    # When set, callbacks may arrive in safe/compat mode (encrypt_type=aes, msg_signature).
    wechat_aes_key: str = ""
    # With an EncodingAESKey every callback is encrypted, and a plaintext one is refused: plain
    # mode's signature does not cover the body. True lets them in while the account switches modes.
    wechat_allow_plaintext: bool = False
    # Where wechatpy's API client points; tests and the demo use the local emulator.
    wechat_api_base: str = "https://api.weixin.qq.com"
    # Template message ids by purpose ({"assignment": "tmpl-id", ...}), from 公众号后台 → 模板消息.
    wechat_templates: dict = field(default_factory=dict)
    # Region contact channels (window, phone, hours) published by the service centres: operator
    # configuration, never knowledge-base data (config/contacts.example.yaml).
    contacts: dict = field(default_factory=dict)
    # Region id → the name people read (REGION_NAMES, overridden by BANGBAN_REGION_NAMES).
    region_names: dict = field(default_factory=lambda: dict(REGION_NAMES))
    # Where people reach this deployment (links in alerts), e.g. https://bangban.example.gov.cn;
    # unset, the development server's own address (it follows PORT: see development_public_url).
    public_url: str = "http://127.0.0.1:8000"

    database_url: str = field(default_factory=default_database_url)
    redis_url: str = ""  # empty: in-process store (one process only)
    # Where the built knowledge-base index is kept between starts (knowledge/cache.py); "" builds
    # it afresh in every process.
    kb_cache_dir: str = field(default_factory=default_cache_dir)

    # Callback hardening (WeChat platform notes): replayed requests and oversized bodies.
    max_timestamp_skew_s: int = 300
    max_body_bytes: int = 64 * 1024
    # WeChat retries after 5 s; we answer or give up well inside that.
    reply_budget_s: float = 4.0
    dedup_ttl_s: int = 600
    conversation_ttl_s: int = 7 * 24 * 3600

    # Staff console session signing; must be set in production (refuse_to_serve).
    secret_key: str = DEV_SECRET_KEY
    # Console sign-in: failed attempts allowed in 10 minutes per account (from any address) and,
    # counted separately, per client address (over any accounts: a password sprayer); then that
    # account or address waits out the window. An office behind one NAT address shares the second.
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    # How many proxies in front of the app (nginx, a load balancer) to believe about the client's
    # address and scheme (X-Forwarded-For/-Proto); 0 believes none, so the header cannot be forged.
    trusted_proxies: int = 0

    host: str = "127.0.0.1"
    port: int = 8000
    log_format: str = "text"  # or "json": one object per line for a log shipper

    # Subscribe-message fallback (bizsend) by template key: {"sla_apology": "sub-id"} or, when the
    # subscribe template's fields differ from the template message's,
    # {"sla_apology": {"id": "sub-id", "fields": {"thing1": "item", "time2": "due"}}}.
    wechat_subscribe_templates: dict = field(default_factory=dict)

    # 企业微信 (WeCom) application messages to staff with a WeCom user id (bot/push/wecom.py): the
    # corp id, the application's Secret and AgentId (管理后台 → 应用管理 → 自建应用); all three set,
    # staff alerts go to WeCom first, the Official Account only when WeCom cannot reach the person.
    wecom_corpid: str = ""
    wecom_secret: str = ""
    wecom_agentid: str = ""
    wecom_api_base: str = "https://qyapi.weixin.qq.com"

    # Outbox dispatcher (bot/push/dispatcher.py).
    dispatch_interval_s: float = 3.0
    dispatch_batch: int = 100
    dispatch_max_attempts: int = 8
    # A claimed row is invisible to other dispatchers this long; must stay well under WeChat's
    # 10-minute client_msg_id window, so a resend after a crash is still deduplicated.
    dispatch_lease_s: int = 60
    dispatch_backoff_base_s: float = 30.0
    dispatch_backoff_cap_s: float = 3600.0

    # SLA sweep (bot/supervision/sla.py): warn N working days ahead; escalate M working days after the due date.
    sla_warn_workdays: int = 2
    sla_escalate_workdays: int = 3
    sla_sweep_hours: tuple[int, ...] = (9, 14)

    # Unaccepted assignments: re-alert the commissioner after the first period, alert the region's
    # supervisors (and log 'escalated') after the second one more.
    accept_realert_minutes: int = 60
    accept_escalate_minutes: int = 120
    accept_check_interval_s: float = 300.0

    # Daily digest to supervisors, at this hour of service time (bot.platform.clock.SERVICE_TZ, like the sweep hours).
    digest_hour: int = 8

    # Scheduler leadership (bot/scheduler.py): run it inside app processes (one leader elected
    # through Redis), or set false and run `bangban scheduler` as its own process.
    scheduler_in_app: bool = True
    scheduler_lock_ttl_s: float = 30.0

    # 好差评 (bot/supervision/ratings.py): a rating may be changed this long after it was first given; a bad
    # rating (不满意/非常不满意) opens a 整改 with a 回访 due this many working days later; unrated
    # delivered/terminated cases are re-invited (at most twice) this many hours apart.
    rating_correction_hours: float = 24.0
    rectification_due_workdays: int = 5
    rating_reminder_hours: float = 72.0

    # Photos and files sent in the chat as case material (bot/casework/materials.py). The store:
    # BANGBAN_MEDIA_STORE is a folder path (default BANGBAN_MEDIA_DIR, ./var/media); an s3:// URL
    # names the S3-compatible interface, not implemented here (boto3 is not a dependency).
    media_dir: str = field(default_factory=default_media_dir)
    media_store: str = ""
    material_image_max_bytes: int = 10 * 1024 * 1024
    material_file_max_bytes: int = 20 * 1024 * 1024
    material_image_types: tuple[str, ...] = MATERIAL_IMAGE_TYPES
    material_file_types: tuple[str, ...] = MATERIAL_FILE_TYPES
    material_check_interval_s: float = 10.0
    # The commissioner hears of a batch once no material came for this long (one push, not one per photo).
    material_quiet_s: float = 180.0

    def region_name(self, region_id: str | None) -> str:
        """The region's display name (a sub-region's from config/region_tiers.yaml, unless
        BANGBAN_REGION_NAMES renames it); an id nobody named is shown as it is."""
        code = region_id or ""
        return self.region_names.get(code) or region_tiers.name(code) or code

    @property
    def wecom_configured(self) -> bool:
        return bool(self.wecom_corpid and self.wecom_secret and self.wecom_agentid)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    def on_port(self, port: int) -> "Settings":
        """These settings for a server on `port` (`bangban serve --port`): a PUBLIC_URL left at the
        development default moves with it, so the links the bot prints and pushes still open."""
        follows = self.public_url == development_public_url(self.port)
        return replace(self, port=port, public_url=development_public_url(port) if follows else self.public_url)


def development_public_url(port: int) -> str:
    """PUBLIC_URL when none is set: the development server on this machine."""
    return f"http://127.0.0.1:{port}"


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, a unix socket: reachable by whoever reaches it
        return False


def refuse_to_serve(settings: Settings, hosts: Iterable[str]) -> str | None:
    """Why a server with these settings must not listen on `hosts`, or None when it may.

    The development SECRET_KEY is public, so with it anyone can forge a staff session. It is
    allowed only where that reaches no real case: the embedded default (SQLite, the one-command
    trial) or a server only this machine reaches, bound to loopback with nothing in front (no
    trusted proxy, a loopback PUBLIC_URL): nginx on the same host makes a loopback bind public.
    """
    if settings.secret_key != DEV_SECRET_KEY or settings.database_url.startswith("sqlite"):
        return None
    local = (all(_is_loopback(h) for h in hosts) and not settings.trusted_proxies
             and _is_loopback(urlsplit(settings.public_url).hostname or ""))
    if local:
        return None
    return ("refusing to start: SECRET_KEY is the public development default, so anyone could forge a "
            "console session; set SECRET_KEY to a long random value (python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'), or bind only 127.0.0.1 for local use")


def load_settings() -> Settings:
    """Settings from the environment; unset variables keep the embedded defaults."""
    defaults = Settings()
    port = _env_int("PORT", defaults.port)
    return Settings(
        wechat_token=_env("WECHAT_TOKEN", defaults.wechat_token),
        wechat_appid=_env("WECHAT_APPID"),
        wechat_secret=_env("WECHAT_SECRET"),
        wechat_aes_key=_env("WECHAT_ENCODING_AES_KEY"),
        wechat_allow_plaintext=_env_bool("WECHAT_ALLOW_PLAINTEXT", defaults.wechat_allow_plaintext),
        wechat_api_base=_env("WECHAT_API_BASE", defaults.wechat_api_base),
        wechat_templates=json.loads(_env("WECHAT_TEMPLATE_IDS") or "{}"),
        public_url=(_env("PUBLIC_URL") or development_public_url(port)).rstrip("/"),
        contacts=_load_yaml(_env("BANGBAN_CONTACTS")),
        region_names=_region_names(_env("BANGBAN_REGION_NAMES")),
        database_url=_env("DATABASE_URL") or default_database_url(),
        redis_url=_env("REDIS_URL"),
        kb_cache_dir="" if _env("BANGBAN_CACHE_DIR").lower() == "off" else (_env("BANGBAN_CACHE_DIR") or default_cache_dir()),
        max_timestamp_skew_s=_env_int("WECHAT_MAX_TIMESTAMP_SKEW", defaults.max_timestamp_skew_s),
        max_body_bytes=_env_int("WECHAT_MAX_BODY_BYTES", defaults.max_body_bytes),
        secret_key=_env("SECRET_KEY", defaults.secret_key),
        login_failures_per_account=_env_int("LOGIN_FAILURES_PER_ACCOUNT", defaults.login_failures_per_account),
        login_failures_per_address=_env_int("LOGIN_FAILURES_PER_ADDRESS", defaults.login_failures_per_address),
        trusted_proxies=_env_int("TRUSTED_PROXIES", defaults.trusted_proxies),
        host=_env("HOST", defaults.host),
        log_format=_env("LOG_FORMAT", defaults.log_format).lower(),
        port=port,
        wechat_subscribe_templates=json.loads(_env("WECHAT_SUBSCRIBE_TEMPLATE_IDS") or "{}"),
        wecom_corpid=_env("WECOM_CORPID"),
        wecom_secret=_env("WECOM_SECRET"),
        wecom_agentid=_env("WECOM_AGENTID"),
        wecom_api_base=_env("WECOM_API_BASE", defaults.wecom_api_base),
        dispatch_interval_s=_env_float("DISPATCH_INTERVAL_S", defaults.dispatch_interval_s),
        dispatch_batch=_env_int("DISPATCH_BATCH", defaults.dispatch_batch),
        dispatch_max_attempts=_env_int("DISPATCH_MAX_ATTEMPTS", defaults.dispatch_max_attempts),
        dispatch_lease_s=_env_int("DISPATCH_LEASE_S", defaults.dispatch_lease_s),
        dispatch_backoff_base_s=_env_float("DISPATCH_BACKOFF_BASE_S", defaults.dispatch_backoff_base_s),
        dispatch_backoff_cap_s=_env_float("DISPATCH_BACKOFF_CAP_S", defaults.dispatch_backoff_cap_s),
        sla_warn_workdays=_env_int("SLA_WARN_WORKDAYS", defaults.sla_warn_workdays),
        sla_escalate_workdays=_env_int("SLA_ESCALATE_WORKDAYS", defaults.sla_escalate_workdays),
        sla_sweep_hours=_env_hours("SLA_SWEEP_HOURS", defaults.sla_sweep_hours),
        accept_realert_minutes=_env_int("ACCEPT_REALERT_MINUTES", defaults.accept_realert_minutes),
        accept_escalate_minutes=_env_int("ACCEPT_ESCALATE_MINUTES", defaults.accept_escalate_minutes),
        accept_check_interval_s=_env_float("ACCEPT_CHECK_INTERVAL_S", defaults.accept_check_interval_s),
        digest_hour=_env_int("DIGEST_HOUR", defaults.digest_hour),
        scheduler_in_app=_env_bool("SCHEDULER_IN_APP", defaults.scheduler_in_app),
        scheduler_lock_ttl_s=_env_float("SCHEDULER_LOCK_TTL_S", defaults.scheduler_lock_ttl_s),
        rating_correction_hours=_env_float("RATING_CORRECTION_HOURS", defaults.rating_correction_hours),
        rectification_due_workdays=_env_int("RECTIFICATION_DUE_WORKDAYS", defaults.rectification_due_workdays),
        rating_reminder_hours=_env_float("RATING_REMINDER_HOURS", defaults.rating_reminder_hours),
        media_dir=_env("BANGBAN_MEDIA_DIR") or default_media_dir(),
        media_store=_env("BANGBAN_MEDIA_STORE"),
        material_image_max_bytes=_env_int("MATERIAL_IMAGE_MAX_BYTES", defaults.material_image_max_bytes),
        material_file_max_bytes=_env_int("MATERIAL_FILE_MAX_BYTES", defaults.material_file_max_bytes),
        material_image_types=_env_list("MATERIAL_IMAGE_TYPES", defaults.material_image_types),
        material_file_types=_env_list("MATERIAL_FILE_TYPES", defaults.material_file_types),
        material_check_interval_s=_env_float("MATERIAL_CHECK_INTERVAL_S", defaults.material_check_interval_s),
        material_quiet_s=_env_float("MATERIAL_QUIET_S", defaults.material_quiet_s),
    )
