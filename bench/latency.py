"""The wait a person feels: Twilio's webhook sent → heard's reply accepted by Twilio's API.

The whole system as deployed: `heard serve --workers 0` and BENCH_WORKERS real `heard worker`
processes on the benchmark's PostgreSQL and Redis, sending through the real twilio library to
a fast local fake of Twilio's API that notes when it accepts each send (bench/timed_twilio.py).
People join a round by its code and answer its questions (bench/fault_drill.py's answers).

First the capacity, in the same run: every person's messages sent as fast as they are
answered (each person's in order), up to the last reply accepted. Then people arrive at 50 %
and 90 % of that rate, each sending the next message THINK seconds after the last (open loop:
a webhook is sent on time however late earlier answers are); each message's wait runs from
the moment its webhook was due to the moment Twilio accepted its first reply (a reply is
matched to its message through the outbox's inbox_id and the sid the fake returned). Goal:
p99 < 500 ms at 50 %. Ceilings, beside: the bare HTTP ceiling of the SMS webhook
(bench/echo_app.py) for the capacity, and the webhook's own answer time for the wait.

Environment: BENCH_DATABASE_URL, BENCH_REDIS_URL (see bench/pipeline.py), BENCH_WORKERS
(default 2), BENCH_PEOPLE (people in the capacity run, default 400).
"""

from __future__ import annotations

import os
import time

from redis import Redis
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bench import http_load
from bench.fault_drill import ANSWERS
from bench.http_load import percentile
from bench.pipeline import (
    DATABASE_URL,
    HTTP_CONNECTIONS,
    MESSAGES,
    REDIS_URL,
    ROOT,
    TWILIO_TOKEN,
    create_database,
    reset,
    server,
    twilio_ingest_rate,
)
from bench.timed_twilio import TimedTwilio
from surveys import catalog
from surveys.database import migrate, session_scope
from surveys.tables import InboxMessage, OutboxMessage
from worker import rounds

WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
PEOPLE = int(os.environ.get("BENCH_PEOPLE", "400"))
THINK = 2.0  # seconds between one person's messages
SHARES = (0.1, 0.5, 0.9)
GOAL_P99, GOAL_SHARE = 0.5, 0.5  # p99 in seconds, at half the capacity
PORT = 8791
PUBLIC = f"http://127.0.0.1:{PORT}"
FROM = "+15005550006"
SETTLE_SECONDS = 120  # the most the replies may take after the last webhook


def webhook(batch: str, person: int, turn: int, body: str) -> bytes:
    """Person `person`'s message number `turn`, as Twilio posts it, signed."""
    form = {"MessageSid": f"SM{batch}{person:07d}{turn:02d}", "AccountSid": "AC" + "0" * 32,
            "From": f"+2547{batch}{person:07d}", "To": FROM, "Body": body, "NumMedia": "0"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + "/sms/twilio", form)
    return http_load.post_form("/sms/twilio", form, {"X-Twilio-Signature": signature})


def conversations(batch: str, people: int, code: str) -> list[list[bytes]]:
    return [[webhook(batch, person, turn, body) for turn, body in enumerate([code, *ANSWERS])]
            for person in range(people)]


def settle(batch: str, expected: int) -> None:
    """Wait until each of the batch's messages is processed and each reply sent; fails loudly
    if a message is missing or the replies stop coming."""
    like = InboxMessage.provider_id.like(f"SM{batch}%")
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        with session_scope(DATABASE_URL) as db:
            stored = db.scalar(select(func.count()).select_from(InboxMessage).where(like))
            waiting = db.scalar(select(func.count()).select_from(InboxMessage).where(
                like, InboxMessage.processed_at.is_(None)))
            unsent = db.scalar(select(func.count()).select_from(OutboxMessage).join(
                InboxMessage, OutboxMessage.inbox_id == InboxMessage.id).where(
                like, OutboxMessage.provider_id.is_(None)))
        if stored != expected:
            raise SystemExit(f"latency benchmark lost messages: {stored} of {expected} stored")
        if not waiting and not unsent:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"latency benchmark: {waiting} messages unprocessed and {unsent} "
                             f"replies unsent {SETTLE_SECONDS} s after the last webhook")
        time.sleep(0.1)


def first_replies(batch: str) -> dict[str, str]:
    """Each message's provider id → the sid Twilio gave its first reply."""
    with session_scope(DATABASE_URL) as db:
        rows = db.execute(select(InboxMessage.provider_id, OutboxMessage.seq,
                                 OutboxMessage.provider_id)
                          .join(OutboxMessage, OutboxMessage.inbox_id == InboxMessage.id)
                          .where(InboxMessage.provider_id.like(f"SM{batch}%"))
                          .order_by(OutboxMessage.seq.desc())).all()
    return {message: reply for message, _, reply in rows if reply}  # the lowest seq last


def capacity(port: int, fake: TimedTwilio, code: str) -> float:
    """Messages per second, every person's webhooks sent as fast as answered, up to the last
    reply accepted."""
    sequences = conversations("1", PEOPLE, code)
    began = time.perf_counter()
    http_load.run_sequences("127.0.0.1", port, sequences, HTTP_CONNECTIONS)
    count = sum(len(sequence) for sequence in sequences)
    settle("1", count)
    return count / (max(fake.accepted.values()) - began)  # the only sends so far


def waits(port: int, fake: TimedTwilio, code: str, batch: str,
          rate: float) -> tuple[list[float], list[float], float, int]:
    """(each message's wait for its reply, each webhook's answer time, the most a webhook
    left late, messages with no reply) with people arriving at `rate` messages a second."""
    people = max(1, round(rate * THINK))
    sequences = conversations(batch, people, code)
    turns = len(sequences[0])
    timed = sorted(((turn * people + person) / rate, sequence[turn])
                   for person, sequence in enumerate(sequences) for turn in range(turns))
    due = {f"SM{batch}{person:07d}{turn:02d}": (turn * people + person) / rate
           for person in range(people) for turn in range(turns)}
    began, late, answers = http_load.run_timed("127.0.0.1", port, timed, HTTP_CONNECTIONS)
    settle(batch, len(timed))
    replies = first_replies(batch)
    found = [fake.accepted[replies[message]] - (began + offset)
             for message, offset in due.items() if message in replies]
    return found, answers, late, len(due) - len(found)


def main() -> None:
    create_database()
    migrate(DATABASE_URL)
    redis = Redis.from_url(REDIS_URL)
    reset(redis)
    with session_scope(DATABASE_URL) as db:
        survey = catalog.latest(db, "water-access")
        assert survey is not None  # reset() registered it
        code = rounds.create_round(db, survey, None).code or ""
    fake = TimedTwilio().start()
    env = os.environ | {"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
                        "HEARD_DATA_DIR": str(ROOT / "data" / "bench"), "HEARD_SIMULATOR": "off",
                        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
                        "TWILIO_FROM": FROM, "TWILIO_API_BASE_URL": fake.url,
                        "PUBLIC_BASE_URL": PUBLIC, "HEARD_SMS_PER_SECOND": "100000"}
    print(f"latency benchmark: Twilio webhook sent → reply accepted by Twilio's API, "
          f"{WORKERS} heard worker(s), PostgreSQL + Redis")
    with server(PORT, env, "bench.echo_app:app") as port:
        ceiling = twilio_ingest_rate(port, MESSAGES)
    with server(PORT, env, workers=WORKERS) as port:
        warm_up = conversations("0", 10, code)  # the workers started, their imports done
        http_load.run_sequences("127.0.0.1", port, warm_up, HTTP_CONNECTIONS)
        settle("0", sum(len(sequence) for sequence in warm_up))
        fake.accepted.clear()
        most = capacity(port, fake, code)
        print(f"  capacity: {most:,.0f} msg/s end to end, every reply sent "
              f"({PEOPLE} people, {len(ANSWERS) + 1} messages each, as fast as answered) = "
              f"{most / ceiling:.0%} of the bare SMS webhook's HTTP ceiling "
              f"({ceiling:,.0f} req/s)")
        for number, share in enumerate(SHARES, start=2):
            found, answers, late, unanswered = waits(port, fake, code, str(number),
                                                     share * most)
            p50, p99 = percentile(found, 50), percentile(found, 99)
            goal = (f"; goal p99 < {GOAL_P99 * 1000:.0f} ms: "
                    f"{'met' if p99 < GOAL_P99 else 'NOT met'}" if share == GOAL_SHARE else "")
            print(f"  at {share:.0%} of capacity ({share * most:,.0f} msg/s, {len(found):,} "
                  f"messages): reply p50 {p50 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms, "
                  f"max {max(found) * 1000:,.0f} ms{goal}")
            print(f"    the webhook's own answer: p50 {percentile(answers, 50) * 1000:,.1f} ms, "
                  f"p99 {percentile(answers, 99) * 1000:,.1f} ms (the reply takes "
                  f"{p50 / percentile(answers, 50):,.0f}× / "
                  f"{p99 / percentile(answers, 99):,.0f}× that); load generator at most "
                  f"{late * 1000:,.0f} ms late; {unanswered} messages with no reply")
    reset(redis)


if __name__ == "__main__":
    main()
