"""A synchronous channel's bench (a call's or a USSD session's requests, each answered inline):
the HTTP ceiling, the endpoint's max and its response times paced at half of the lower.

Ceiling, in the same run: uvicorn + FastAPI reading the same form and answering with no I/O
(bench/echo_app.py). heard: `heard serve --workers 0` on the benchmark's PostgreSQL and Redis
(bench/pipeline.py). The conversations are first sent as fast as heard answers (its max
throughput), then paced at half of the lower of that and the ceiling from AT_ONCE concurrent
conversations: p50 and p99 response times (goal: p99 < 100 ms). Every conversation must
complete its survey.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from bench import http_load
from bench.http_load import percentile, server_pid
from bench.pipeline import DATABASE_URL, HTTP_CONNECTIONS, cpu_seconds, server
from surveys.database import session_scope
from surveys.tables import SurveySession

GOAL_P99 = 0.100  # seconds
AT_ONCE = 200  # conversations in progress at once, each on its own connection
Conversation = list[bytes]  # its requests, in order


@dataclass(frozen=True)
class Words:
    """How the report names what is measured."""

    title: str  # "voice calls through POST /voice/twilio (signed)"
    endpoint: str  # "voice webhook"
    request: str  # "request"
    conversations: str  # "calls"
    answer: str  # "a question's TwiML"


def run(words: Words, env: dict[str, str], port: int, count: int,
        echoed: list[Conversation], conversations: Callable[[int], list[Conversation]]) -> None:
    """Measure and print: `echoed` against the ceiling app, then 2 × `count` conversations
    (made by `conversations(port)` once heard serves, e.g. after a probe) against heard."""
    before = os.getloadavg()[0]
    with server(port + 1, env, "bench.echo_app:app") as echo_port:
        ceiling, _ = http_load.run_sequences("127.0.0.1", echo_port, echoed, HTTP_CONNECTIONS)
    with server(port, env) as heard_port:
        made = conversations(heard_port)
        assert len(made) >= 2 * count, f"{len(made)} conversations for {count}"
        http_load.run_sequences("127.0.0.1", heard_port, made[:20], HTTP_CONNECTIONS)  # warm up
        serving = cpu_seconds(pid=server_pid(heard_port))
        postgres = cpu_seconds("postgres")
        most, saturated = http_load.run_sequences("127.0.0.1", heard_port, made[20:count],
                                                  HTTP_CONNECTIONS)
        server_cpu = (cpu_seconds(pid=server_pid(heard_port)) - serving) / len(saturated)
        postgres_cpu = (cpu_seconds("postgres") - postgres) / len(saturated)
        limit, which = min((ceiling, "the HTTP ceiling"), (most, f"the {words.endpoint}'s max"))
        rate, times = http_load.run_sequences("127.0.0.1", heard_port, made[count:2 * count],
                                              AT_ONCE, limit / 2)
    p50, p99 = percentile(times, 50), percentile(times, 99)
    with session_scope(DATABASE_URL) as db:  # every conversation answered the whole survey
        completed = db.scalar(select(func.count()).select_from(SurveySession)
                              .where(SurveySession.status == "completed"))
    assert completed == 2 * count + 1, f"{completed} of {2 * count + 1} {words.conversations}"
    print(f"{words.title}, water-access, {len(made[0])} {words.request}s each; load average "
          f"before {before:.1f}, after {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          f"(others' work skews the figures)")
    print(f"  ceiling: {ceiling:,.0f} req/s (uvicorn + FastAPI, the form read, {words.answer}, "
          f"no I/O; {HTTP_CONNECTIONS} connections)")
    print(f"  max {words.endpoint}: {most:,.0f} req/s = {most / ceiling:.0%} of the ceiling "
          f"({HTTP_CONNECTIONS} {words.conversations} at once, each {words.request} sent once the "
          f"last is answered; p50 {percentile(saturated, 50) * 1000:.0f} ms, "
          f"p99 {percentile(saturated, 99) * 1000:.0f} ms); CPU per {words.request}: heard "
          f"{server_cpu * 1000:.1f} ms (one process: at most {1 / server_cpu:,.0f} req/s on a "
          f"core of its own), PostgreSQL {postgres_cpu * 1000:.1f} ms")
    print(f"  paced at half of {which} ({limit / 2:,.0f} req/s), {AT_ONCE} {words.conversations} "
          f"at once, {count} {words.conversations}: {rate:,.0f} req/s achieved = "
          f"{rate / ceiling:.0%} of the ceiling; p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} "
          f"ms: goal p99 < {GOAL_P99 * 1000:.0f} ms {'met' if p99 < GOAL_P99 else 'NOT met'}")
