"""Every setting heard reads, from environment variables, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or default


RETENTION_ENV = "HEARD_RETENTION_DAYS"


class SettingError(ValueError):
    """A variable set to a value heard cannot use; the message names it and what it expects."""


MAX_DAYS = 36500  # a century: any longer is "for ever", and dates that far back overflow


def whole_days(name: str, value: str | None) -> int:
    """`value` of variable `name` as a number of days, 0 if unset; a SettingError if not one."""
    if not value:
        return 0
    if not (value.isascii() and value.isdigit() and int(value) <= MAX_DAYS):
        raise SettingError(f"{name} must be a whole number of days from 0 to {MAX_DAYS} "
                           f"(0 or unset: keep for ever), not {value!r}")
    return int(value)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(_env("HEARD_DATA_DIR", "data")))
    database_url: str | None = field(default_factory=lambda: _env("DATABASE_URL"))
    redis_url: str | None = field(default_factory=lambda: _env("REDIS_URL"))
    surveys_dir: Path | None = field(
        default_factory=lambda: Path(p) if (p := _env("HEARD_SURVEYS_DIR")) else None)
    public_base_url: str = field(
        default_factory=lambda: _env("PUBLIC_BASE_URL", "http://127.0.0.1:8000") or "")
    sweep_after_seconds: int = field(
        default_factory=lambda: int(_env("HEARD_SWEEP_AFTER_SECONDS", "30") or 30))
    pseudonym_key: str | None = field(default_factory=lambda: _env("HEARD_PSEUDONYM_KEY"))
    # Twilio (sms/)
    twilio_account_sid: str | None = field(default_factory=lambda: _env("TWILIO_ACCOUNT_SID"))
    twilio_auth_token: str | None = field(default_factory=lambda: _env("TWILIO_AUTH_TOKEN"))
    twilio_from: str | None = field(default_factory=lambda: _env("TWILIO_FROM"))
    twilio_messaging_service_sid: str | None = field(
        default_factory=lambda: _env("TWILIO_MESSAGING_SERVICE_SID"))
    twilio_api_base_url: str | None = field(default_factory=lambda: _env("TWILIO_API_BASE_URL"))
    sms_per_second: float = field(
        default_factory=lambda: float(_env("HEARD_SMS_PER_SECOND", "1") or 1))
    default_region: str = field(default_factory=lambda: _env("HEARD_DEFAULT_REGION", "") or "")
    # Telegram (bot/)
    telegram_bot_token: str | None = field(default_factory=lambda: _env("TELEGRAM_BOT_TOKEN"))
    telegram_webhook_secret: str | None = field(
        default_factory=lambda: _env("TELEGRAM_WEBHOOK_SECRET"))
    telegram_api_base_url: str | None = field(
        default_factory=lambda: _env("TELEGRAM_API_BASE_URL"))
    telegram_bot_username: str = field(
        default_factory=lambda: _env("TELEGRAM_BOT_USERNAME", "your_bot") or "your_bot")
    # Rounds
    price_per_segment: float = field(
        default_factory=lambda: float(_env("HEARD_PRICE_PER_SEGMENT", "0.0079") or 0))
    currency: str = field(default_factory=lambda: _env("HEARD_CURRENCY", "USD") or "USD")
    # Retention: HEARD_RETENTION_DAYS as given, read through retention_days()
    retention: str | None = field(default_factory=lambda: _env(RETENTION_ENV))

    def retention_days(self) -> int:
        """Days to keep message texts and addresses (0: for ever); parsed when asked for, so a
        bad value stops the purge with a clear message instead of every command."""
        return whole_days(RETENTION_ENV, self.retention)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'heard.sqlite3').resolve()}"


def normalize_database_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (the driver heard installs)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def get_settings() -> Settings:
    return Settings()
