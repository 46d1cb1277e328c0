"""A database with history, generated in SQL (generate_series, no Python per row) and kept.

What is generated, for `--answers A` (default 10,000,000): A/10 contacts (simulator channel,
addresses g1, g2, …, so bench/pipeline.py's conversations with prefix "g" come from people who
have history), each with one completed session of one closed round of the export benchmark's
ten-question survey (bench/export.py), ten answers each: A answers; and `--messages` (default A)
inbound messages over the past year, all processed, each with its reply in the outbox.

Each size lives in its own database, heard_growth_A (A the answers) on BENCH_GROWTH_SERVER
(default postgresql://postgres@127.0.0.1:5432), beside heard_growth_empty, kept between runs
so that the trend over sizes is quick to measure again: a marker table records the sizes, and
a run asking for the same sizes uses the database as it is, migrated to the newest schema (a
measurement adds rows and deletes them again with `restore`). List them with
`psql -h 127.0.0.1 -U postgres -l | grep heard_growth`; drop one with
`psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE heard_growth_A'`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from sqlalchemy import Connection, text

from bench.export import bench_survey
from bench.pipeline import create_database, register_example
from surveys import catalog
from surveys.database import get_engine, migrate, session_scope
from surveys.settings import normalize_database_url
from surveys.tables import Base, Round

SERVER = os.environ.get("BENCH_GROWTH_SERVER", "postgresql://postgres@127.0.0.1:5432")
EMPTY_URL = normalize_database_url(f"{SERVER}/heard_growth_empty")
REDIS_URL = os.environ.get("BENCH_GROWTH_REDIS_URL", "redis://127.0.0.1:6379/15")
ANSWERS_PER_SESSION = 10  # bench/export.py's survey: two questions of each kind
GENERATOR = "1"  # bump when what is generated changes: kept databases are made again
HISTORY_ROUND = "growth-history"  # the code of the round that holds the history's answers

# The answers of each of the survey's kinds, picked by a hash of session and question.
VALUES = {
    "choice": "to_jsonb((ARRAY['tap','well','river','other'])[1 + h % 4])",
    "multi": "(ARRAY['[\"dirty\"]','[\"far\",\"cost\"]','[\"queue\"]','[\"dirty\",\"broken\"]',"
             "'[\"far\"]','[\"cost\",\"queue\",\"broken\"]','[\"broken\"]','[\"dirty\",\"far\"]'"
             "])[1 + h % 8]::jsonb",
    "number": "to_jsonb(h % 606 - 5)",
    "text": "to_jsonb((ARRAY['The pump is broken again','=1+1','far from the school','ok'])"
            "[1 + h % 4])",
    "yesno": "to_jsonb(CASE WHEN h % 2 = 0 THEN 'yes' ELSE 'no' END)",
}


@dataclass(frozen=True)
class Sizes:
    answers: int
    messages: int

    @property
    def contacts(self) -> int:
        return max(1, self.answers // ANSWERS_PER_SESSION)

    @property
    def database_url(self) -> str:
        """The database holding this history."""
        return normalize_database_url(f"{SERVER}/heard_growth_{self.answers}")

    def described(self) -> str:
        return (f"{self.contacts:,} contacts, {self.answers:,} answers, "
                f"{self.messages:,} inbound + {self.messages:,} outbound messages over a year")


def prepared(database_url: str, sizes: Sizes | None) -> tuple[int, float]:
    """The database migrated and holding `sizes`' history (None: empty), kept when it already
    does; returns the history round's id (0 when empty) and the seconds spent generating."""
    create_database(database_url)
    migrate(database_url)
    engine = get_engine(database_url)
    made = "empty" if sizes is None else f"{sizes.answers}:{sizes.messages}"
    wanted = f"{GENERATOR}:{made}"  # (a newer schema is migrated to, never generated again)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS bench_history_marker (made text)"))
        found = connection.scalar(text("SELECT made FROM bench_history_marker"))
    if found == wanted and sizes is not None:  # (an empty one is emptied again: cheap)
        return history_round(database_url), 0.0
    began = time.perf_counter()
    emptied(database_url)
    round_id = 0
    if sizes is not None:
        round_id = new_round(database_url, None, "closed", HISTORY_ROUND)
        with engine.begin() as connection:
            respondents(connection, round_id, sizes.contacts, "g")
            messages(connection, sizes.messages, sizes.contacts)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO bench_history_marker VALUES (:made)"),
                           {"made": wanted})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))  # as autovacuum leaves an old table
    return round_id, time.perf_counter() - began


def emptied(database_url: str) -> None:
    """Every table emptied (its marker too), then the example survey registered again."""
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with get_engine(database_url).begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        connection.execute(text("DELETE FROM bench_history_marker"))
    register_example(database_url)


def history_round(database_url: str) -> int:
    with session_scope(database_url) as db:
        return db.scalar(text("SELECT id FROM rounds WHERE code = :c"), {"c": HISTORY_ROUND}) or 0


def new_round(database_url: str, community: str | None, status: str, code: str) -> int:
    """A round of the export benchmark's survey; its id."""
    with session_scope(database_url) as db:
        survey_pk = catalog.register(db, bench_survey()).id
        found = Round(survey_pk=survey_pk, community=community, status=status, code=code)
        db.add(found)
        db.flush()
        return found.id


def _next_id(connection: Connection, table: str) -> int:
    return connection.scalar(text(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")) or 1


def _catch_up(connection: Connection, table: str) -> None:
    """The table's id sequence moved past the ids given explicitly."""
    connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"))


def contacts(connection: Connection, count: int, prefix: str,
             community: str | None = None) -> int:
    """`count` consenting contacts on the simulator channel, addressed prefix1, prefix2, …
    (from the next free id); returns the first id."""
    first = _next_id(connection, "contacts")
    connection.execute(text(
        "INSERT INTO contacts (id, channel, address, language, community, profile, consent, "
        "opted_out, created_at) "
        "SELECT :first + n - 1, 'simulator', :prefix || n, (ARRAY['en','sw'])[1 + n % 2], "
        "coalesce(:community, (ARRAY['kibera','mathare','korail'])[1 + n % 3]), "
        "jsonb_build_object('gender', (ARRAY['f','m','x'])[1 + n % 3], "
        "'age', (ARRAY['18-29','30-49','50+'])[1 + n % 5 % 3]), true, false, "
        "now() - interval '400 days' "
        "FROM generate_series(1, :count) AS n"),
        {"first": first, "count": count, "prefix": prefix, "community": community})
    _catch_up(connection, "contacts")
    return first


def respondents(connection: Connection, round_id: int, count: int, prefix: str) -> None:
    """`count` new contacts, each with a completed session of round `round_id` and its ten
    answers (spread over the year before now)."""
    first_contact = contacts(connection, count, prefix)
    first = _next_id(connection, "sessions")
    connection.execute(text(
        "INSERT INTO sessions (id, contact_id, survey_pk, round_id, status, state, started_at, "
        "updated_at, completed_at, reminders, uuid) "
        "SELECT :first + n - 1, :contact + n - 1, r.survey_pk, r.id, 'completed', "
        "'{\"v\": 1, \"status\": \"completed\", \"lang\": \"en\", \"current\": null}'::jsonb, "
        "now() - interval '365 days' * (1 - n::float / :count), "
        "now() - interval '365 days' * (1 - n::float / :count) + interval '4 minutes', "
        "now() - interval '365 days' * (1 - n::float / :count) + interval '4 minutes', 0, "
        "gen_random_uuid()::text "
        "FROM rounds r, generate_series(1, :count) AS n WHERE r.id = :round"),
        {"first": first, "contact": first_contact, "count": count, "round": round_id})
    _catch_up(connection, "sessions")
    questions = [(question.id, question.type) for question in bench_survey().questions]
    kinds = " ".join(f"WHEN '{kind}' THEN {sql}" for kind, sql in VALUES.items())
    listed = ", ".join(f"('{qid}', '{kind}', {number})"
                       for number, (qid, kind) in enumerate(questions, 1))
    connection.execute(text(
        "INSERT INTO answers (session_id, question_id, value, raw, skipped, answered_at) "
        "SELECT id, qid, value, value #>> '{}', false, started_at FROM ("
        f"SELECT s.id, q.qid, s.started_at, CASE q.kind {kinds} END AS value "
        "FROM (SELECT id, started_at, (id * 2654435761) % 1000003 AS seed FROM sessions "
        "WHERE round_id = :round AND id >= :first) AS s "
        f"CROSS JOIN (VALUES {listed}) AS q (qid, kind, number) "
        "CROSS JOIN LATERAL (SELECT (s.seed * q.number * 40503) % 1000003 AS h) AS hashed"
        ") AS made ORDER BY id, qid"),
        {"round": round_id, "first": first})


def messages(connection: Connection, count: int, people: int) -> None:
    """`count` processed inbound messages over the past year from the first `people` contacts
    (addresses g1…), each answered by one delivered outbound message."""
    if count <= 0:
        return
    first = _next_id(connection, "inbox")
    connection.execute(text(
        "INSERT INTO inbox (id, channel, provider_id, address, text, payload, received_at, "
        "processed_at, outcome) "
        "SELECT :first + n - 1, 'simulator', 'history-' || n, 'g' || (1 + n % :people), "
        "(ARRAY['hi','1','2','yes','1 3','fine'])[1 + n % 6], '{}'::jsonb, "
        "now() - interval '365 days' * (1 - n::float / :count), "
        "now() - interval '365 days' * (1 - n::float / :count) + interval '1 second', "
        "'answered' FROM generate_series(1, :count) AS n"),
        {"first": first, "count": count, "people": people})
    _catch_up(connection, "inbox")
    connection.execute(text(
        "INSERT INTO outbox (contact_id, inbox_id, seq, channel, address, text, reply, status, "
        "provider_id, attempts, segments, encoding, created_at, sent_at) "
        "SELECT c.id, i.id, 0, i.channel, i.address, 'Thank you. Next question?', '{}'::jsonb, "
        "'delivered', 'SM' || i.id, 1, 1, 'GSM-7', i.processed_at, i.processed_at "
        "FROM inbox i JOIN contacts c ON c.channel = i.channel AND c.address = i.address "
        "WHERE i.id >= :first"), {"first": first})


MARKED = ("contacts", "surveys", "rounds", "sessions", "answers", "inbox", "outbox",
          "audit_log", "releases", "early_statuses")


def marks(database_url: str) -> dict[str, int]:
    """The highest id of each table a measurement adds to: `restore` deletes what is above."""
    with get_engine(database_url).connect() as connection:
        return {table: connection.scalar(text(f"SELECT coalesce(max(id), 0) FROM {table}"))
                for table in MARKED}


def restore(database_url: str, marked: dict[str, int]) -> None:
    """Delete every row a measurement added (ids above `marks`), children first."""
    order = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with get_engine(database_url).begin() as connection:
        for table in sorted(marked, key=order.index):
            connection.execute(text(f"DELETE FROM {table} WHERE id > :mark"),
                               {"mark": marked[table]})
