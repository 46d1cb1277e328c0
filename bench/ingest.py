"""Webhook ingest: signed Twilio and Telegram webhooks against the bare HTTP ceiling (goal 80 %).

Ceilings, in the same run: uvicorn + FastAPI reading each webhook's body as heard does and
answering as heard does, with no I/O (bench/echo_app.py), driven by the same requests. heard:
`heard serve --workers 0` on the benchmark's PostgreSQL and Redis, every request signed as its
provider signs it (X-Twilio-Signature; Telegram's secret token header), each one stored in the
inbox and a drain queued. Beside each rate, the server process's CPU time per request (whatever
else runs on the machine, this is heard's own cost). A request not answered 2xx fails the
benchmark, and so does a row missing at the end.

Environment: BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_MESSAGES (see bench/pipeline.py).
"""

from __future__ import annotations

import os

from redis import Redis
from sqlalchemy import func, select

from bench import http_load
from bench.http_load import server_pid
from bench.pipeline import (
    DATABASE_URL,
    HTTP_CONNECTIONS,
    MESSAGES,
    REDIS_URL,
    ROOT,
    TWILIO_TOKEN,
    cpu_seconds,
    create_database,
    http_ingest_rate,
    messages,
    reset,
    server,
    twilio_ingest_rate,
)
from bot.webhook import PATH as TELEGRAM_PATH
from bot.webhook import SECRET_HEADER
from surveys.database import migrate, session_scope
from surveys.tables import InboxMessage

TELEGRAM_SECRET = "bench-telegram-secret"
GOAL = 0.8
PORT = 8793
WARM_UP = 1000  # simulator requests before the measured ones


def telegram_ingest_rate(port: int, count: int) -> float:
    """Telegram updates (a private chat's text message each) with the webhook's secret token."""
    requests = []
    for number, message in enumerate(messages(count, "g")):
        chat = 100_000 + number % 1000
        update = {"update_id": number + 1, "message": {
            "message_id": number + 1, "date": 1_760_000_000, "text": message.text,
            "chat": {"id": chat, "type": "private", "first_name": "A"},
            "from": {"id": chat, "is_bot": False, "first_name": "A", "language_code": "en"}}}
        requests.append(http_load.post_json(TELEGRAM_PATH, update)
                        .replace(b"\r\n\r\n", f"\r\n{SECRET_HEADER}: {TELEGRAM_SECRET}"
                                              "\r\n\r\n".encode(), 1))
    http_load.run("127.0.0.1", port, requests[:200], HTTP_CONNECTIONS)  # warm up
    return http_load.run("127.0.0.1", port, requests[200:], HTTP_CONNECTIONS)


def measured(port: int, prefix: str) -> dict[str, tuple[float, float]]:
    """Per webhook: (requests per second, the server process's CPU µs per request)."""
    pid = server_pid(port)
    http_ingest_rate(port, WARM_UP, f"w{prefix}")  # its first requests are not its usual
    rates: dict[str, tuple[float, float]] = {}
    for channel, rate in (("simulator", lambda: http_ingest_rate(port, MESSAGES, prefix)),
                          ("sms", lambda: twilio_ingest_rate(port, MESSAGES)),
                          ("telegram", lambda: telegram_ingest_rate(port, MESSAGES))):
        before = cpu_seconds(pid=pid)
        rates[channel] = rate(), (cpu_seconds(pid=pid) - before) / MESSAGES * 1e6
    return rates


def stored(channel: str) -> int:
    with session_scope(DATABASE_URL) as db:
        return db.scalar(select(func.count()).select_from(InboxMessage)
                         .where(InboxMessage.channel == channel)) or 0


def main() -> None:
    create_database()
    migrate(DATABASE_URL)
    redis = Redis.from_url(REDIS_URL)
    public = f"http://127.0.0.1:{PORT}"
    env = os.environ | {"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
                        "HEARD_DATA_DIR": str(ROOT / "data" / "bench"), "HEARD_SIMULATOR": "open",
                        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "PUBLIC_BASE_URL": public,
                        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET}
    print(f"webhook ingest benchmark on {DATABASE_URL.split('+')[0].split(':')[0]} + Redis, "
          f"{MESSAGES} requests each, {HTTP_CONNECTIONS} keep-alive connections "
          f"(bench/http_load.py, on the same cores)")
    with server(PORT, env, "bench.echo_app:app") as port:
        ceilings = measured(port, "c")
    reset(redis)
    with server(PORT, env) as port:
        rates = measured(port, "h")
    names = {"simulator": "POST /api/v1/simulate (JSON)",
             "sms": "POST /sms/twilio (signed form)",
             "telegram": "POST /telegram/webhook (secret token)"}
    missing = []
    for channel, (rate, cpu) in rates.items():
        ceiling, bare = ceilings[channel]
        print(f"  {names[channel]}: {rate:,.0f} req/s = {rate / ceiling:.0%} of its ceiling "
              f"{ceiling:,.0f} req/s (goal {GOAL:.0%}: "
              f"{'met' if rate >= GOAL * ceiling else 'NOT met'}); server CPU {cpu:,.0f} µs "
              f"a request = {cpu / bare:.1f}× the ceiling's {bare:,.0f} µs")
        count, sent = stored(channel), MESSAGES + (WARM_UP if channel == "simulator" else 0)
        if count != sent:
            missing.append(f"{channel}: {count} of {sent} rows stored")
    reset(redis)
    if missing:
        raise SystemExit("ingest benchmark lost messages: " + "; ".join(missing))


if __name__ == "__main__":
    main()
