"""All configuration in one place, read from the environment once.

Embedded defaults need nothing set: a SQLite file under the working directory and an in-process
state store. Production sets DATABASE_URL and REDIS_URL (see README, "Configuration").
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    return int(raw) if raw else default


def default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'var' / 'bangban.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    # WeChat Official Account (开发 → 基本配置). The token signs every callback.
    wechat_token: str = "bangban-dev-token"
    wechat_appid: str = ""
    wechat_secret: str = ""
    # When set, callbacks may arrive in safe/compat mode (encrypt_type=aes, msg_signature).
    wechat_aes_key: str = ""
    # Where wechatpy's API client points; tests and the demo use the local emulator.
    wechat_api_base: str = "https://api.weixin.qq.com"
    # Template message ids by purpose ({"assignment": "tmpl-id", ...}), from 公众号后台 → 模板消息.
    wechat_templates: dict = field(default_factory=dict)
    # Where people reach this deployment (links in alerts), e.g. https://bangban.example.gov.cn
    public_url: str = "http://127.0.0.1:8000"

    database_url: str = field(default_factory=default_database_url)
    redis_url: str = ""  # empty: in-process store (one process only)

    # Callback hardening (WeChat platform notes): replayed requests and oversized bodies.
    max_timestamp_skew_s: int = 300
    max_body_bytes: int = 64 * 1024
    # WeChat retries after 5 s; we answer or give up well inside that.
    reply_budget_s: float = 4.0
    dedup_ttl_s: int = 600
    conversation_ttl_s: int = 7 * 24 * 3600

    # Staff console session signing; must be set in production.
    secret_key: str = "dev-only-secret-key"

    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def load_settings() -> Settings:
    """Settings from the environment; unset variables keep the embedded defaults."""
    defaults = Settings()
    return Settings(
        wechat_token=_env("WECHAT_TOKEN", defaults.wechat_token),
        wechat_appid=_env("WECHAT_APPID"),
        wechat_secret=_env("WECHAT_SECRET"),
        wechat_aes_key=_env("WECHAT_ENCODING_AES_KEY"),
        wechat_api_base=_env("WECHAT_API_BASE", defaults.wechat_api_base),
        wechat_templates=json.loads(_env("WECHAT_TEMPLATE_IDS") or "{}"),
        public_url=_env("PUBLIC_URL", defaults.public_url).rstrip("/"),
        database_url=_env("DATABASE_URL") or default_database_url(),
        redis_url=_env("REDIS_URL"),
        max_timestamp_skew_s=_env_int("WECHAT_MAX_TIMESTAMP_SKEW", defaults.max_timestamp_skew_s),
        max_body_bytes=_env_int("WECHAT_MAX_BODY_BYTES", defaults.max_body_bytes),
        secret_key=_env("SECRET_KEY", defaults.secret_key),
        host=_env("HOST", defaults.host),
        port=_env_int("PORT", defaults.port),
    )
