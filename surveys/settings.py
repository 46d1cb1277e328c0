"""Every setting heard reads, from environment variables, in one place every package may import.

It sits at the bottom (surveys/, which imports no channel, worker or entry point), so a channel
or a worker reading a setting never imports the web app or the command line. A bad value stops
heard with one line naming the variable, what it was and what it must be.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

RETENTION_ENV = "HEARD_RETENTION_DAYS"
MAX_DAYS = 36500  # a century: any longer is "for ever", and dates that far back overflow
# why a message nobody asked for is sent (worker.outbox marks its row with it): a WhatsApp
# template is configured for each, per language
PURPOSES = ("invitation", "reminder", "results")
_TEMPLATE = re.compile(r"(?P<purpose>[a-z]+):(?P<lang>[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]+)*)"
                       r"=(?P<sid>HX[0-9a-fA-F]{32})")


class SettingError(ValueError):
    """A variable set to a value heard cannot use; the message names it and what it expects."""


def _env(name: str, expects: str, **constraints: Any) -> Any:
    """A field read from variable `name`; `expects` is what the error says a value must be."""
    return Field(validation_alias=name, description=expects, **constraints)


class Settings(BaseSettings):
    """The environment, read when made (tests and commands make one whenever they need it)."""

    model_config = SettingsConfigDict(env_ignore_empty=True, str_strip_whitespace=True,
                                      frozen=True, extra="ignore", case_sensitive=True)

    data_dir: Annotated[Path, _env("HEARD_DATA_DIR", "a folder")] = Path("data")
    database_url: Annotated[str | None, _env(
        "DATABASE_URL", "a database URL, e.g. postgresql://user@host/heard")] = None
    redis_url: Annotated[str | None, _env(
        "REDIS_URL", "a Redis URL, e.g. redis://127.0.0.1:6379/0")] = None
    surveys_dir: Annotated[Path | None, _env("HEARD_SURVEYS_DIR", "a folder")] = None
    public_base_url: Annotated[str, _env(
        "PUBLIC_BASE_URL", "the URL providers call, e.g. https://heard.example.org")
    ] = "http://127.0.0.1:8000"
    sweep_after_seconds: Annotated[int, _env(
        "HEARD_SWEEP_AFTER_SECONDS", "a whole number of seconds, e.g. 30", ge=0)] = 30
    pseudonym_key: Annotated[str | None, _env("HEARD_PSEUDONYM_KEY", "a secret")] = None
    # how long a webhook holds a message while the database is unreachable (a restart, a
    # failover) before answering 503: under the 15 s a provider waits for an answer
    ingest_patience_seconds: Annotated[float, _env(
        "HEARD_INGEST_PATIENCE_SECONDS", "seconds, a number from 0, e.g. 10", ge=0)] = 10.0
    # who may use the simulator API: anyone (the embedded defaults' laptop), facilitators with
    # a token (the default with DATABASE_URL), or nobody
    simulator: Annotated[Literal["open", "token", "off"] | None, _env(
        "HEARD_SIMULATOR", "open, token or off")] = None
    max_body_bytes: Annotated[int, _env(
        "HEARD_MAX_BODY_BYTES", "a whole number of bytes, e.g. 1000000", ge=1024)] = 1_000_000
    # Twilio (sms/)
    twilio_account_sid: Annotated[str | None, _env("TWILIO_ACCOUNT_SID", "an AC... id")] = None
    twilio_auth_token: Annotated[str | None, _env("TWILIO_AUTH_TOKEN", "a token")] = None
    twilio_from: Annotated[str | None, _env("TWILIO_FROM", "a phone number")] = None
    twilio_messaging_service_sid: Annotated[str | None, _env(
        "TWILIO_MESSAGING_SERVICE_SID", "an MG... id")] = None
    twilio_api_base_url: Annotated[str | None, _env("TWILIO_API_BASE_URL", "a URL")] = None
    sms_per_second: Annotated[float, _env(
        "HEARD_SMS_PER_SECOND", "messages a second, a number above 0, e.g. 1", gt=0)] = 1.0
    default_region: Annotated[str, _env(
        "HEARD_DEFAULT_REGION", "a country code, e.g. KE")] = ""
    # Africa's Talking (sms/africastalking.py): a second SMS provider, chosen per country
    africastalking_username: Annotated[str | None, _env(
        "AFRICASTALKING_USERNAME", "the app's username (sandbox for the sandbox)")] = None
    africastalking_api_key: Annotated[str | None, _env(
        "AFRICASTALKING_API_KEY", "an API key")] = None
    africastalking_from: Annotated[str | None, _env(
        "AFRICASTALKING_FROM", "a short code or sender id")] = None
    africastalking_api_base_url: Annotated[str | None, _env(
        "AFRICASTALKING_API_BASE_URL", "a URL")] = None
    # AT does not sign its callbacks: their URLs carry this secret (/sms/africastalking/SECRET)
    africastalking_callback_secret: Annotated[str | None, _env(
        "AFRICASTALKING_CALLBACK_SECRET", "a secret of 16 characters or more",
        min_length=16)] = None
    africastalking_sms_per_second: Annotated[float, _env(
        "AFRICASTALKING_SMS_PER_SECOND", "messages a second, a number above 0, e.g. 10",
        gt=0)] = 10.0
    # which provider sends SMS to a number of each country ("KE=africastalking,default=twilio")
    sms_providers: Annotated[dict[str, str], NoDecode, _env(
        "HEARD_SMS_PROVIDERS",
        "COUNTRY=provider separated by commas, e.g. KE=africastalking,default=twilio")] = {}
    # WhatsApp outside the person's 24-hour window (sms/whatsapp.py): the Content API template
    # of each purpose and language ("invitation:sw" → "HX..."), and SMS where WhatsApp refuses
    whatsapp_templates: Annotated[dict[str, str], NoDecode, _env(
        "HEARD_WHATSAPP_TEMPLATES",
        "purpose:language=ContentSid, separated by commas, e.g. invitation:sw=HX...")] = {}
    whatsapp_sms_fallback: Annotated[bool, _env(
        "HEARD_WHATSAPP_SMS_FALLBACK", "true or false")] = False
    # Telegram (bot/)
    telegram_bot_token: Annotated[str | None, _env("TELEGRAM_BOT_TOKEN", "a token")] = None
    telegram_webhook_secret: Annotated[str | None, _env(
        "TELEGRAM_WEBHOOK_SECRET", "a secret")] = None
    telegram_api_base_url: Annotated[str | None, _env("TELEGRAM_API_BASE_URL", "a URL")] = None
    telegram_bot_username: Annotated[str, _env(
        "TELEGRAM_BOT_USERNAME", "the bot's username")] = "your_bot"
    # Voice calls (voice/): each survey language's voice for <Say>, "language=BCP-47 tag" and
    # optionally ":voice" (Twilio's name of one), e.g. "en=en-US,bn=bn-IN:Google.bn-IN-Standard-A";
    # a call in a language not here is refused (voice.render.refusal)
    voice_languages: Annotated[dict[str, str], NoDecode, _env(
        "HEARD_VOICE_LANGUAGES",
        "language=BCP-47 tag[:voice], separated by commas, e.g. en=en-US,sw=sw-KE")] = {
        "en": "en-US"}
    # the number heard calls people from (else TWILIO_FROM), and how many calls it starts a
    # second, across every worker (Twilio's default for an account: 1)
    voice_from: Annotated[str | None, _env("HEARD_VOICE_FROM", "a phone number")] = None
    calls_per_second: Annotated[float, _env(
        "HEARD_CALLS_PER_SECOND", "calls a second, a number above 0, e.g. 1", gt=0)] = 1.0
    # a call nobody answered (busy, no answer, failed) is made again after each of these
    # minutes in turn; then it is given up
    call_retry_minutes: Annotated[tuple[int, ...], NoDecode, _env(
        "HEARD_CALL_RETRY_MINUTES",
        "whole minutes separated by commas, e.g. 15,120,1440")] = (15, 120, 1440)
    # a call to heard's number is rejected (it costs the caller nothing) and heard calls back
    call_back: Annotated[bool, _env("HEARD_VOICE_CALL_BACK", "true or false")] = False
    price_per_call_minute: Annotated[float, _env(
        "HEARD_PRICE_PER_CALL_MINUTE", "a price, a number from 0, e.g. 0.014", ge=0)] = 0.014
    # USSD through Africa's Talking (ussd/): its callbacks are not signed, so their URL holds this
    # secret (/ussd/africastalking/<secret>); unset, every USSD callback is refused
    ussd_secret: Annotated[str | None, _env(
        "HEARD_USSD_SECRET", "a secret of at least 16 characters", min_length=16)] = None
    # a service code that opens one round at once, as if its code were typed:
    # "*384*123#=WATER367"; a code not here asks the person for a round's code
    ussd_rounds: Annotated[dict[str, str], NoDecode, _env(
        "HEARD_USSD_ROUNDS",
        "service code=round code, separated by commas, e.g. *384*123#=WATER367")] = {}
    # Rounds
    price_per_segment: Annotated[float, _env(
        "HEARD_PRICE_PER_SEGMENT", "a price, a number from 0, e.g. 0.0079", ge=0)] = 0.0079
    currency: Annotated[str, _env("HEARD_CURRENCY", "a currency code, e.g. USD")] = "USD"
    # invitations, reminders and results wait while it is these hours where the person lives
    # (surveys/quiet_hours.py); unset: they go at any hour
    quiet_hours: Annotated[str | None, _env(
        "HEARD_QUIET_HOURS", "hours from-to in the person's time, e.g. 21-8",
        pattern=r"^\s*\d{1,2}(:\d{2})?\s*-\s*\d{1,2}(:\d{2})?\s*$")] = None
    # the time zone of each community whose people's numbers do not tell theirs (a country
    # with several zones, Telegram): "kibera=Africa/Nairobi,surrey=America/Vancouver"
    community_time_zones: Annotated[dict[str, str], NoDecode, _env(
        "HEARD_COMMUNITY_TIME_ZONES",
        "community=Time/Zone, separated by commas, e.g. kibera=Africa/Nairobi")] = {}
    # Operations: log lines as JSON objects (the default with DATABASE_URL: production) or
    # text; /metrics only for a scraper sending this bearer token (unset: no /metrics)
    log_format: Annotated[Literal["json", "text"] | None, _env(
        "HEARD_LOG_FORMAT", "json or text")] = None
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], _env(
        "HEARD_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR")] = "INFO"
    metrics_token: Annotated[str | None, _env("HEARD_METRICS_TOKEN", "a secret")] = None
    # Retention: as given, read through retention_days() (a bad value stops only the purge)
    retention: Annotated[str | None, _env(RETENTION_ENV, "a whole number of days")] = None

    @field_validator("whatsapp_templates", mode="before")
    @classmethod
    def _read_templates(cls, value: Any) -> Any:
        """The variable's text read into {"purpose:language": ContentSid}."""
        return whatsapp_templates(value) if isinstance(value, str) else value

    @field_validator("sms_providers", mode="before")
    @classmethod
    def _read_sms_providers(cls, value: Any) -> Any:
        """The variable's text read into {"KE": "africastalking", "default": "twilio"}."""
        return sms_providers(value) if isinstance(value, str) else value

    @field_validator("voice_languages", mode="before")
    @classmethod
    def _read_voice_languages(cls, value: Any) -> Any:
        """The variable's text read into {language: "tag[:voice]"}."""
        return voice_languages(value) if isinstance(value, str) else value

    @field_validator("ussd_rounds", mode="before")
    @classmethod
    def _read_ussd_rounds(cls, value: Any) -> Any:
        """The variable's text read into {service code: round code}."""
        return ussd_rounds(value) if isinstance(value, str) else value

    @field_validator("call_retry_minutes", mode="before")
    @classmethod
    def _read_retry_minutes(cls, value: Any) -> Any:
        """`15,120,1440` read into whole minutes (none: a call nobody answered is not retried)."""
        return retry_minutes(value) if isinstance(value, str) else value

    @field_validator("community_time_zones", mode="before")
    @classmethod
    def _read_community_zones(cls, value: Any) -> Any:
        """The variable's text read into {community: zone name}, each zone checked."""
        return community_time_zones(value) if isinstance(value, str) else value

    def whatsapp_template(self, purpose: str, lang: str) -> str | None:
        """The ContentSid of the template for messages of `purpose` in `lang`, if configured."""
        return self.whatsapp_templates.get(f"{purpose}:{lang}".lower())

    def simulator_access(self) -> str:
        """open on a laptop's embedded defaults; behind a facilitator token in production."""
        return self.simulator or ("token" if self.database_url else "open")

    def log_format_used(self) -> str:
        """json in production (a DATABASE_URL), text on a laptop's embedded defaults."""
        return self.log_format or ("json" if self.database_url else "text")

    def retention_days(self) -> int:
        """Days to keep message texts and addresses (0: for ever); parsed when asked for, so a
        bad value stops the purge with a clear message instead of every command."""
        return whole_days(RETENTION_ENV, self.retention)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'heard.sqlite3').resolve()}"


def whole_days(name: str, value: str | None) -> int:
    """`value` of variable `name` as a number of days, 0 if unset; a SettingError if not one."""
    if not value:
        return 0
    if not (value.isascii() and value.isdigit() and int(value) <= MAX_DAYS):
        raise SettingError(f"{name} must be a whole number of days from 0 to {MAX_DAYS} "
                           f"(0 or unset: keep for ever), not {value!r}")
    return int(value)


def whatsapp_templates(value: str) -> dict[str, str]:
    """`invitation:sw=HX...,results:sw=HX...` as {"invitation:sw": "HX...", ...}; a ValueError
    naming the first pair that is not one, so a typo stops heard instead of a send."""
    found: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in value.split(","))):
        matched = _TEMPLATE.fullmatch(pair)
        if matched is None or matched["purpose"] not in PURPOSES:
            raise ValueError(f"{pair!r} is not purpose:language=ContentSid: the purpose one of "
                             f"{', '.join(PURPOSES)}, the language a survey's (sw, en, pt-BR), "
                             f"the ContentSid HX and 32 hexadecimal digits")
        key = f"{matched['purpose']}:{matched['lang']}".lower()
        if key in found:
            raise ValueError(f"{key} is given twice: one template per purpose and language")
        found[key] = matched["sid"]
    return found


def community_time_zones(value: str) -> dict[str, str]:
    """`kibera=Africa/Nairobi,...` as {"kibera": "Africa/Nairobi"}; a ValueError naming the
    first pair that is not a community and a known time zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    found: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in value.split(","))):
        community, _, zone = (part.strip() for part in pair.partition("="))
        try:
            if not community or not zone:
                raise ValueError
            ZoneInfo(zone)
        except (ValueError, ZoneInfoNotFoundError):
            raise ValueError(f"{pair!r} is not community=Time/Zone with an IANA time zone "
                             f"(e.g. kibera=Africa/Nairobi)") from None
        found[community.lower()] = zone
    return found


SMS_PROVIDERS = ("twilio", "africastalking")


def sms_providers(value: str) -> dict[str, str]:
    """`KE=africastalking,default=twilio` as {"KE": "africastalking", "default": "twilio"}; a
    ValueError naming the first pair that is not a country code (or default) and a provider."""
    found: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in value.split(","))):
        country, _, provider = (part.strip() for part in pair.partition("="))
        key = "default" if country.lower() == "default" else country.upper()
        if not (key == "default" or re.fullmatch("[A-Z]{2}", key)) or (
                provider.lower() not in SMS_PROVIDERS):
            raise ValueError(f"{pair!r} is not COUNTRY=provider with a two-letter country code "
                             f"(or default) and one of {', '.join(SMS_PROVIDERS)} "
                             f"(e.g. KE=africastalking)")
        found[key] = provider.lower()
    return found


_VOICE = re.compile(r"(?P<lang>[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)=(?P<tag>[A-Za-z]{2,3}-"
                    r"[A-Za-z0-9]+)(?::(?P<voice>[\w.-]+))?")


def voice_languages(value: str) -> dict[str, str]:
    """`en=en-US,bn=bn-IN:Google.bn-IN-Standard-A` as {"en": "en-US", "bn": "bn-IN:Google..."};
    a ValueError naming the first pair that is not one."""
    found: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in value.split(","))):
        matched = _VOICE.fullmatch(pair)
        if matched is None:
            raise ValueError(f"{pair!r} is not language=BCP-47 tag[:voice] (e.g. sw=sw-KE or "
                             f"en=en-US:Polly.Joanna)")
        found[matched["lang"].lower()] = pair.split("=", 1)[1]
    return found


_USSD_CODE = re.compile(r"\*[0-9*]+#")


def ussd_rounds(value: str) -> dict[str, str]:
    """`*384*123#=WATER367,...` as {"*384*123#": "WATER367"}; a ValueError naming the first
    pair that is not a service code (star, digits and stars, hash) and a round's code."""
    found: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in value.split(","))):
        code, _, round_code = (part.strip() for part in pair.partition("="))
        if not _USSD_CODE.fullmatch(code) or not round_code.isalnum():
            raise ValueError(f"{pair!r} is not service code=round code (e.g. "
                             f"*384*123#=WATER367)")
        found[code] = round_code.upper()
    return found


MAX_RETRY_MINUTES = 7 * 24 * 60


def retry_minutes(value: str) -> tuple[int, ...]:
    """`15,120,1440` as (15, 120, 1440); a ValueError naming the first part that is not a
    whole number of minutes from 1 to a week."""
    found = []
    for part in filter(None, (part.strip() for part in value.split(","))):
        if not (part.isascii() and part.isdigit() and 1 <= int(part) <= MAX_RETRY_MINUTES):
            raise ValueError(f"{part!r} is not a whole number of minutes from 1 to "
                             f"{MAX_RETRY_MINUTES}")
        found.append(int(part))
    return tuple(found)


def normalize_database_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (the driver heard installs)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def get_settings() -> Settings:
    """The settings now; a SettingError naming every variable with a value heard cannot use.

    Made once per set of values (validating them costs ~1 ms, and every webhook asks): the
    variables are looked up each time, so a changed environment is seen at once.
    """
    return _settings_for(_values())


@lru_cache(maxsize=16)
def _settings_for(values: tuple[object, ...]) -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        expects = {str(field.validation_alias): field.description
                   for field in Settings.model_fields.values()}
        problems = [f"{problem['loc'][0]}={problem.get('input')!r}: "
                    + (str(problem["ctx"]["error"]) if problem["type"] == "value_error"
                       else f"expected {expects.get(str(problem['loc'][0]), 'another value')}")
                    for problem in error.errors()]
        raise SettingError("; ".join(problems)) from None


_VARIABLES = tuple(str(field.validation_alias) for field in Settings.model_fields.values())
_ENCODED = tuple(os.environ.encodekey(name) for name in _VARIABLES)


def _values() -> tuple[object, ...]:
    """The variables' values, as the key of the settings they make: read from os.environ's own
    dict where it has one (a dict lookup per variable, not an encode and a decode), as every
    webhook asks."""
    raw = getattr(os.environ, "_data", None)
    if isinstance(raw, dict):
        return tuple(map(raw.get, _ENCODED))
    return tuple(os.environ.get(name) for name in _VARIABLES)
