"""The console's live figures under load: how many open round pages one web process serves.

A round page fetches its live part (`/console/rounds/ID/live`: the signed-in user's session
read, the round's scope checked, its status counted by language and channel) every 5 seconds
while it is seen. Ceiling, in the same run: uvicorn + FastAPI answering a small HTML table with
no I/O (bench/echo_app.py). heard: `heard serve --workers 0` on the benchmark's PostgreSQL, a
round launched to BENCH_CONTACTS contacts (default 10,000).
"""

from __future__ import annotations

import os

from bench import http_load
from bench.launch import with_contacts
from bench.pipeline import DATABASE_URL, HTTP_CONNECTIONS, REDIS_URL, ROOT, server
from surveys import catalog
from surveys.database import session_scope
from surveys.users import create_user, start_session
from worker import rounds
from worker.queues import enqueue_outbound

CONTACTS = int(os.environ.get("BENCH_CONTACTS", "10000"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "4000"))
POLL_SECONDS = 5  # console_round.html's script


def main() -> None:
    redis = with_contacts(CONTACTS)
    with session_scope(DATABASE_URL) as db:
        survey = catalog.latest(db, "water-access")
        assert survey is not None  # reset() registered it
        round_id = rounds.create_round(db, survey, "bench").id
        user = create_user(db, "bench-facilitator", "bench password 1", "facilitator",
                           ["bench"])
        cookie = start_session(db, user)
    rounds.launch(DATABASE_URL, redis, round_id, enqueue_outbound)
    env = os.environ | {"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
                        "HEARD_DATA_DIR": str(ROOT / "data" / "bench")}
    headers = {"Cookie": f"heard_console={cookie}"}
    with server(8796, env, "bench.echo_app:app") as port:
        ceiling = rate(port, "/live", {})
    with server(8797, env) as port:
        live = rate(port, f"/console/rounds/{round_id}/live", headers)
    print(f"console live figures, a round of {CONTACTS:,} invited contacts, "
          f"{HTTP_CONNECTIONS} connections")
    print(f"  ceiling: {ceiling:,.0f} req/s (uvicorn + FastAPI, a small HTML table, no I/O)")
    print(f"  /console/rounds/ID/live: {live:,.0f} req/s = {live / ceiling:.0%} of the ceiling: "
          f"one web process keeps {live * POLL_SECONDS:,.0f} open round pages current "
          f"(one fetch each {POLL_SECONDS} s)")


def rate(port: int, path: str, headers: dict[str, str]) -> float:
    requests = [http_load.get(path, headers)] * REQUESTS
    http_load.run("127.0.0.1", port, requests[:200], HTTP_CONNECTIONS)  # warm up
    return http_load.run("127.0.0.1", port, requests[200:], HTTP_CONNECTIONS)


if __name__ == "__main__":
    main()
