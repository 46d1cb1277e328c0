"""How every heard process logs: one line per event, JSON (HEARD_LOG_FORMAT=json) or text.

A message is followed through the logs by the ids its events carry (`extra=`): `inbox_id`,
`outbox_id` (`outbox_ids`: a message's replies), `channel`, `round_id`, `provider_id`
(Twilio's message or call sid, a Telegram message id), `status`, `error_code`, `outcome`. No
event carries an address or a text: those are personal data, and logs are read by more people
than the database is.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from surveys.settings import get_settings

# the ids an event may carry, in the order the text format writes them
EVENT_FIELDS = ("inbox_id", "outbox_id", "outbox_ids", "channel", "round_id", "provider_id",
                "status", "error_code", "outcome", "count")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class TextFormatter(logging.Formatter):
    """The classic line, then the event's ids as key=value: greppable by `outbox_id=42`."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{name}={getattr(record, name)}" for name in EVENT_FIELDS
                       if getattr(record, name, None) is not None)
        if not ids:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{first} {ids}{newline}{rest}"


def formatter_for(log_format: str) -> logging.Formatter:
    """JSON: one object a line, `time`, `level`, `logger`, `message`, then the event's ids
    (and `exc_info` with a traceback); text: the classic line, ids as key=value."""
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter("{levelname}{name}{message}", style="{", timestamp="time",
                             rename_fields={"levelname": "level", "name": "logger"})
    return TextFormatter(TEXT_FORMAT)


def log_config(log_format: str | None = None, level: str | None = None) -> dict[str, Any]:
    """A dictConfig for the root logger and uvicorn's: one handler (stderr), one formatter.

    Given to uvicorn as its log_config, so each of `--http-workers N` processes (spawned, not
    forked) logs as the parent does; the access log hides `?token=` sign-in tokens."""
    from heard.guards import HideTokens

    settings = get_settings()
    level = level or settings.log_level
    formatter = {"()": formatter_for, "log_format": log_format or settings.log_format_used()}
    handler = {"class": "logging.StreamHandler", "formatter": "heard",
               "stream": "ext://sys.stderr"}
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"heard": formatter},
        "filters": {"hide_tokens": {"()": HideTokens}},
        "handlers": {"default": handler,
                     "access": handler | {"filters": ["hide_tokens"]}},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
        },
    }


def configure() -> None:
    """This process's logging, as HEARD_LOG_FORMAT and HEARD_LOG_LEVEL say."""
    logging.config.dictConfig(log_config())
