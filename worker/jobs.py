"""The functions rq workers run. Each is safe to run twice for the same id."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import wraps
from typing import NamedTuple, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from redis import Redis
from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.orm import Session, load_only

from surveys.database import patiently, session_scope
from surveys.phone import without_numbers
from surveys.quiet_hours import held_until, zone_for
from surveys.settings import get_settings
from surveys.tables import STILL_TO_SEND, Contact, InboxMessage, OutboxMessage, Round, utcnow
from worker import inbound, locks
from worker.metrics import count_provider_error
from worker.pipeline import apply_early_statuses
from worker.queues import (
    DRAIN_FLAG,
    SEND_RETRY,
    enqueue_airtime,
    enqueue_outbound,
    enqueue_recording_fetch,
    request_drain,
)
from worker.runtime import Runtime, migrated_runtime
from worker.senders import (
    PermanentSendError,
    TransientSendError,
    finder_for,
    prepare,
    refused,
    sender_for,
)

log = logging.getLogger(__name__)
SWEEP_BATCH = 5000
STUCK_BATCH = 500
EARLY_STATUS_DAYS = timedelta(days=2)  # a report whose message never turns up goes then


DRAIN_BATCH = 200
DRAIN_BUDGET_SECONDS = 20.0
JOB_PATIENCE = 60.0  # seconds a job waits for an unreachable database before it fails
P = ParamSpec("P")
T = TypeVar("T")


def _waits_for_the_database(job: Callable[P, T]) -> Callable[P, T]:
    """The job run again while the database is unreachable (a restart, a failover): it goes
    on the moment the database is back, not at rq's next retry seconds or minutes later, nor
    only once the sweeper finds its rows overdue. Every job here is safe to run twice."""

    @wraps(job)
    def waiting(*args: P.args, **kwargs: P.kwargs) -> T:
        return patiently(lambda: job(*args, **kwargs), JOB_PATIENCE, f"job {job.__name__}")

    return waiting


@_waits_for_the_database
def drain_inbox() -> int:
    """Process unprocessed inbox rows in batches, one transaction per batch; how many.

    Rows are claimed with SKIP LOCKED, so drains on several workers share the work. A batch is
    processed at once in a savepoint; if it fails, its rows are processed one per savepoint, so
    one bad message never rolls back (or blocks) the others: it stays in the inbox for the
    sweeper's per-message job, which retries and logs it.
    """
    current = migrated_runtime()
    current.redis.delete(DRAIN_FLAG)  # what arrives from now on queues the next drain
    deadline = time.monotonic() + DRAIN_BUDGET_SECONDS
    handled = 0
    failed: set[int] = set()
    while time.monotonic() < deadline:
        with session_scope(current.database_url) as db:
            claimed = db.scalars(select(InboxMessage.id)
                                 .where(InboxMessage.processed_at.is_(None),
                                        InboxMessage.outcome.is_(None),
                                        InboxMessage.id.not_in(failed))
                                 .order_by(InboxMessage.id).limit(DRAIN_BATCH)
                                 .with_for_update(skip_locked=True)).all()
            outbox_ids, processed, reward_ids = _process_claimed(db, claimed, failed)
        enqueue_outbound(current.redis, outbox_ids)
        enqueue_airtime(current.redis, reward_ids)
        if not claimed:
            return handled
        handled += processed
        if not processed:  # all waiting behind rows another worker holds: let it finish
            time.sleep(0.05)
    request_drain(current.redis)  # budget spent with rows left: another drain goes on
    return handled


def _process_claimed(db: Session, claimed: Sequence[int],
                     failed: set[int]) -> tuple[list[int], int, list[int]]:
    """The batch at once; if anything in it fails, again one message at a time, so the bad
    one is found and only it is left (logged) for the sweeper. (Outbox ids, rows processed,
    airtime top-ups.)"""
    try:
        with db.begin_nested():
            handled = inbound.process_batch(db, claimed, skip_locked=True)
            return handled.outbox_ids, handled.messages, handled.reward_ids
    except Exception:  # noqa: BLE001 - isolate one bad message from the batch
        log.warning("a batch of %s inbox rows failed; retrying them one by one", len(claimed),
                    exc_info=True)
    outbox_ids: list[int] = []
    reward_ids: list[int] = []
    processed = 0
    for inbox_id in claimed:
        try:
            with db.begin_nested():
                handled = inbound.process_batch(db, [inbox_id], skip_locked=True)
            outbox_ids += handled.outbox_ids
            reward_ids += handled.reward_ids
            processed += handled.messages
        except Exception:  # noqa: BLE001 - isolate one bad message from the batch
            failed.add(inbox_id)
            log.exception("inbox %s: processing failed; left for the sweeper", inbox_id)
    return outbox_ids, processed, reward_ids


@_waits_for_the_database
def send_outbound_batch(outbox_ids: list[int]) -> list[str]:
    """Send these rows, and any earlier unsent row of the same contacts, oldest first.

    Whichever job runs first, a contact's messages leave in the order they were written: a
    Redis lock per contact serializes senders, and each sends everything pending up to its
    rows. A transient error raises (rq retries); rows already sent are skipped on the retry.
    The whole batch is readied in one transaction and recorded in another, so a row costs its
    provider call and a share of a few statements, not two transactions of its own.
    """
    current = migrated_runtime()
    with session_scope(current.database_url) as db:
        newest: dict[int | None, int] = {contact_id: max_id for contact_id, max_id in db.execute(
            select(OutboxMessage.contact_id, func.max(OutboxMessage.id))
            .where(OutboxMessage.id.in_(outbox_ids)).group_by(OutboxMessage.contact_id))}
    statuses: list[str] = []
    retry_later: TransientSendError | None = None
    with _send_locks(current.redis, list(newest)) as held:
        if held:
            wanted = or_(OutboxMessage.contact_id.in_(set(held) - {None}),
                         *([OutboxMessage.contact_id.is_(None)] if None in held else []))
            statuses, retry_later = _send(current, select(OutboxMessage).where(
                wanted, OutboxMessage.status.in_(STILL_TO_SEND),
                OutboxMessage.id <= max((newest[contact_id] for contact_id in held), default=0)),
                lambda message: message.id <= newest[message.contact_id])
    busy = set(newest) - set(held)
    if busy and retry_later is None:  # they wait; the others got theirs
        retry_later = TransientSendError(f"contacts {sorted(busy, key=str)} are being sent to "
                                         "by another worker")
    if retry_later is not None:
        raise retry_later
    return statuses


SEND_LOCK_SECONDS = 6  # renewed every 2 s while held: a sender killed mid-call frees it this soon
SEND_LOCK_WAIT = 5  # then the job is retried later, instead of holding a worker idle
GRACE = timedelta(seconds=2)  # a drain takes a row, and a send's two commits
# are this close together, but for a fault


def send_lock_key(contact_id: int | None) -> str:
    return f"heard:sending:{contact_id}"


@contextmanager
def _send_locks(redis: Redis, contact_ids: list[int | None]) -> Iterator[list[int | None]]:
    """Those of these contacts whose send lock can be had within SEND_LOCK_WAIT, held while
    the block runs: however long a provider takes; a killed sender's are gone within seconds."""
    keys = {send_lock_key(contact_id): contact_id for contact_id in contact_ids}
    with locks.held(redis, list(keys), SEND_LOCK_SECONDS, SEND_LOCK_WAIT) as got:
        yield [contact_id for key, contact_id in keys.items() if key in got]


def send_outbound(outbox_id: int) -> str:
    """Send one outbox row through its channel; transient errors raise so rq retries."""
    statuses, retry_later = _send(migrated_runtime(),
                                  select(OutboxMessage).where(OutboxMessage.id == outbox_id))
    if retry_later is not None:
        raise retry_later
    if not statuses:
        log.warning("outbox %s: no such row", outbox_id)
        return "missing"
    return statuses[0]


class Before(NamedTuple):
    """A readied row as it was, to put back if its turn never came."""

    status: str
    dispatched_at: datetime | None
    attempts: int


def _send(current: Runtime, rows: Select[OutboxMessage],
          wanted: Callable[[OutboxMessage], bool] = lambda message: True,
          ) -> tuple[list[str], TransientSendError | None]:
    """Send these rows, each contact's oldest first: (their statuses, the transient error
    that stopped a contact, to be retried). Only a holder of their contacts' send locks calls
    this (or a test, for one row).

    Each provider call falls between two commits: the one saying the send began
    (`dispatching`) and the one recording how it ended. So a row found `dispatching` is one
    whose sender was killed or lost the database mid-call: the provider is asked whether it
    went out before it is sent again. A contact whose send failed for now sends nothing more
    this time: its later rows go back as they were.
    """
    statuses: dict[int, str] = {}
    ready: dict[int | None, list[tuple[OutboxMessage, Before]]] = {}
    with session_scope(current.database_url) as db:
        found = db.scalars(rows.order_by(OutboxMessage.id).with_for_update())
        messages = [message for message in found if wanted(message)]
        contact_ids = {message.contact_id for message in messages} - {None}
        contacts = {contact.id: contact for contact in db.scalars(
            select(Contact).where(Contact.id.in_(contact_ids)))} if contact_ids else {}
        for message in messages:
            before = Before(message.status, message.dispatched_at, message.attempts)
            if _readied(db, message, contacts.get(message.contact_id or 0)):
                ready.setdefault(message.contact_id, []).append((message, before))
            statuses[message.id] = message.status
    outcomes: dict[int, Sent | TransientSendError | PermanentSendError] = {}
    put_back: dict[int, Before] = {}
    checked_again: list[int] = []  # after a refusal that marked the person (opted out)
    for queue in ready.values():
        for position, (message, _) in enumerate(queue):
            outcomes[message.id] = outcome = _dispatch(message)
            if not isinstance(outcome, Sent) and outcome.code is not None:  # the provider's
                count_provider_error(current.redis, message.channel, outcome.code)  # refusal
            if isinstance(outcome, TransientSendError) or _marks_them(outcome):
                put_back |= {later.id: before for later, before in queue[position + 1:]}
                if not isinstance(outcome, TransientSendError):
                    checked_again += [later.id for later, _ in queue[position + 1:]]
                break
    if outcomes or put_back:
        statuses |= patiently(lambda: _record(current.database_url, outcomes, put_back),
                              RECORD_PATIENCE, f"the outcome of sending outbox {sorted(outcomes)}")
        _log_sends([message for queue in ready.values() for message, _ in queue
                    if message.id in outcomes], outcomes, statuses)
    retry_later = next((outcome for outbox_id, outcome in outcomes.items()
                        if isinstance(outcome, TransientSendError)
                        and statuses[outbox_id] == "retrying"), None)
    if checked_again:  # what is left of theirs, checked against the marks
        again, error = _send(current, select(OutboxMessage).where(
            OutboxMessage.id.in_(checked_again)))
        statuses |= dict(zip(sorted(checked_again), again, strict=True))
        retry_later = retry_later or error
    return [statuses[message.id] for message in messages], retry_later


def _log_sends(messages: list[OutboxMessage],
               outcomes: dict[int, Sent | TransientSendError | PermanentSendError],
               statuses: dict[int, str]) -> None:
    """One line per provider call, by ids: the outbox row, the message it answers, the
    provider's id of what it sent (Twilio's sid), or its error code."""
    for message in messages:
        outcome = outcomes[message.id]
        provider_id, code = ((outcome.provider_id, None) if isinstance(outcome, Sent)
                             else (None, outcome.code))
        log.info(f"outbox {statuses[message.id]}", extra={
            "outbox_id": message.id, "inbox_id": message.inbox_id, "channel": message.channel,
            "provider_id": provider_id, "status": statuses[message.id], "error_code": code})


def _marks_them(outcome: Sent | TransientSendError | PermanentSendError) -> bool:
    """A refusal saying something about the person (opted out, unreachable): their later
    messages are checked again before any goes."""
    return isinstance(outcome, PermanentSendError) and bool(outcome.opt_out or outcome.unreachable)


def _readied(db: Session, message: OutboxMessage, contact: Contact | None) -> bool:
    """Whether the row is to be sent now: then it is marked `dispatching`; else its status
    says why not (sent meanwhile, found at the provider, suppressed, held for quiet hours)."""
    if message.status not in STILL_TO_SEND:
        return False
    if message.status == "dispatching" and _went_out(db, message):
        return False
    if contact is not None and _must_not_send(contact, message):
        message.status = "suppressed"
        return False
    waits = None if message.inbox_id is not None else held_until(  # not a reply: it may
        get_settings().quiet_hours, _zone_of(message, contact), utcnow())  # wait
    if waits is not None:
        message.status, message.next_attempt_at = "retrying", waits
        message.error = f"quiet hours where they live: sent after {waits:%Y-%m-%d %H:%M} UTC"
        return False
    prepare(db, message)  # (WhatsApp: a template outside the person's window)
    message.status, message.dispatched_at = "dispatching", utcnow()
    message.attempts += 1
    return True


RECORD_PATIENCE = 5.0  # seconds a send's outcome waits for an unreachable database; then the
# row stays `dispatching`, and the job's retry finds it at the provider


class Sent(NamedTuple):
    provider_id: str | None


def _dispatch(message: OutboxMessage) -> Sent | TransientSendError | PermanentSendError:
    """The provider call (no transaction is open: a slow provider holds no row lock)."""
    try:
        return Sent(sender_for(message.channel)(message))
    except (TransientSendError, PermanentSendError) as error:
        return error


def _record(database_url: str, outcomes: dict[int, Sent | TransientSendError | PermanentSendError],
            put_back: dict[int, Before]) -> dict[int, str]:
    """How the sends ended, on their rows and, for errors about the person, their contacts;
    rows whose turn never came, as they were. (Each row's status.)"""
    statuses: dict[int, str] = {}
    with session_scope(database_url) as db:
        found = {message.id: message for message in db.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(outcomes.keys() | put_back.keys()))
            .options(load_only(OutboxMessage.status, OutboxMessage.attempts,  # the rest (the
                               OutboxMessage.contact_id))  # reply) only where a refusal needs it
            .order_by(OutboxMessage.id).with_for_update())}
        for outbox_id, before in put_back.items():
            message = found.get(outbox_id)
            if message is not None and message.status == "dispatching":
                message.status, message.dispatched_at, message.attempts = before
            statuses[outbox_id] = "missing" if message is None else message.status
        for outbox_id, outcome in outcomes.items():
            message = found.get(outbox_id)
            if message is None or message.status != "dispatching":  # erased meanwhile
                statuses[outbox_id] = "missing" if message is None else message.status
                continue
            _record_on(db, message, outcome)
            statuses[outbox_id] = message.status
    return statuses


def _record_on(db: Session, message: OutboxMessage,
               outcome: Sent | TransientSendError | PermanentSendError) -> None:
    """How one send ended, on its row and, for errors about the person, their contact."""
    message.next_attempt_at = None
    if isinstance(outcome, Sent):
        message.provider_id = outcome.provider_id
        message.status, message.sent_at, message.error = "sent", utcnow(), None
    elif isinstance(outcome, TransientSendError):
        message.status, message.error = "retrying", str(outcome)
        message.next_attempt_at = utcnow() + timedelta(seconds=_retry_interval(message))
    else:
        message.status, message.error = "failed", str(outcome)
        message.error_code = outcome.code
        marks: dict[str, bool | str] = {"opted_out": True} if outcome.opt_out else {}
        if outcome.unreachable:
            marks["unreachable"] = outcome.unreachable
        if marks and message.contact_id is not None:
            db.execute(update(Contact).where(Contact.id == message.contact_id)
                       .values(**marks))
        log.warning("outbox %s: permanent failure %s: %s", message.id, outcome.code,
                    without_numbers(str(outcome)))
        refused(db, message)  # (WhatsApp: SMS instead, where that is on)


def _went_out(db: Session, message: OutboxMessage) -> bool:
    """Whether the provider accepted this row's last send (its sender died before recording
    it): then it is marked sent with the provider's id, and not sent again."""
    finder = finder_for(message.channel)
    if finder is None or message.dispatched_at is None:
        log.warning("outbox %s: the outcome of its last send was never recorded and %s cannot "
                    "tell whether it went out: sending it again", message.id, message.channel)
        return False
    candidates = finder(message, message.dispatched_at)  # TransientSendError: ask again later
    known = set(db.scalars(select(OutboxMessage.provider_id)
                           .where(OutboxMessage.provider_id.in_(candidates))))
    found = [provider_id for provider_id in candidates if provider_id not in known]
    if not found:
        log.info("outbox %s: not found at %s: sending it again", message.id, message.channel)
        return False
    message.provider_id, message.status, message.sent_at = found[0], "sent", utcnow()
    message.error = message.next_attempt_at = None
    log.info("outbox %s: found at %s, sent before its sender stopped: not sent again",
             message.id, message.channel)
    return True


def _retry_interval(message: OutboxMessage) -> int:
    """Seconds until rq retries this send (its Retry's interval for this attempt)."""
    intervals = list(SEND_RETRY.intervals)
    return int(intervals[min(max(message.attempts, 1), len(intervals)) - 1])


def _zone_of(message: OutboxMessage, contact: Contact | None) -> ZoneInfo | None:
    """The recipient's time zone, for quiet hours."""
    return zone_for(message.channel, message.address, contact.time_zone if contact else None,
                    contact.community if contact else None)


def _must_not_send(contact: Contact, message: OutboxMessage) -> bool:
    """Nothing goes to an opted-out or unreachable contact but the opt-out confirmation."""
    if contact.unreachable:
        return True
    return contact.opted_out and not message.reply.get("after_opt_out")


class ScheduleReport(NamedTuple):
    opened: list[int]
    closed: list[int]
    reminded: int = 0


@_waits_for_the_database
def keep_round_schedules(now: datetime | None = None) -> ScheduleReport:
    """Open scheduled rounds at their time and close rounds at theirs, sharing a closed
    round's results with its participants (as `heard round close` does); send the reminders
    of rounds' policies that are due. Run by the cron."""
    from worker.rounds import close_round, due_rounds, open_round, remind_on_policy
    from worker.share import share

    current = migrated_runtime()
    moment = now or utcnow()
    with session_scope(current.database_url) as db:
        opening, closing = due_rounds(db, moment)
        for round_id in opening:
            open_round(db, round_id)
        for round_id in closing:
            close_round(db, round_id)
        reminding = db.scalars(select(Round.id).where(Round.status == "open",
                                                      Round.reminder_hours.is_not(None))).all()
    for round_id in closing:  # after the commit: results go to whoever the close left
        share(current.database_url, current.redis, round_id)
    reminded = sum(remind_on_policy(current.database_url, current.redis, round_id,
                                    enqueue_outbound, moment) for round_id in reminding)
    if opening or closing or reminded:
        log.info("rounds on schedule: opened %s, closed %s, %s reminders", opening, closing,
                 reminded)
    return ScheduleReport(list(opening), list(closing), reminded)


def launch_round(round_id: int, over_seconds: float | None = None) -> int:
    """A round launch asked for through the API: invitations queued in bulk (spread over
    `over_seconds` when given)."""
    from worker.rounds import launch

    current = migrated_runtime()
    over = None if over_seconds is None else timedelta(seconds=over_seconds)
    return launch(current.database_url, current.redis, round_id, enqueue_outbound, over=over)


@_waits_for_the_database
def import_contacts(import_id: str) -> str | None:
    """A console upload's contacts written, its progress and report kept in Redis; its
    status (None: the upload has expired)."""
    from worker.imports import import_pending

    current = migrated_runtime()
    done = import_pending(current.database_url, current.redis, import_id)
    return None if done is None else done.status


@_waits_for_the_database
def fetch_recording(recording_id: str) -> str:
    """A spoken answer's audio fetched from Twilio into heard, then deleted there (a failure
    raises: rq tries again, then the sweeper); what was done."""
    from voice.recordings import move

    return move(migrated_runtime().database_url, recording_id)


class SweepReport(NamedTuple):
    processed_inbox: int
    queued_inbox: int
    queued_outbox: int


@_waits_for_the_database
def send_airtime(reward_id: int) -> str:
    """Send one airtime top-up (worker.airtime): at most once, within the round's budget."""
    from worker.airtime import send_reward

    return send_reward(migrated_runtime().database_url, reward_id)


@_waits_for_the_database
def sweep() -> SweepReport:
    """Recover rows the queue lost (Redis was down, a worker was killed): nothing is lost.

    Inbox rows unprocessed for a few seconds get a drain queued (one cheap request, however
    many rows: a drain killed with its worker is taken up at the next tick). Rows unprocessed
    after three times HEARD_SWEEP_AFTER_SECONDS are processed right here: their contact's
    queue slot may be held by a job whose worker died (rq frees it only when its heartbeat
    expires). A send whose sender died mid-call is queued again as soon as its contact's send
    lock is free, with the contact's later unsent messages; other unsent rows once they are
    HEARD_SWEEP_AFTER_SECONDS overdue (a launch's queue is long, and must not be queued twice),
    or at once when Redis lost its data (restarted: every queued job went with it).
    """
    current = migrated_runtime()
    after = timedelta(seconds=get_settings().sweep_after_seconds)
    now = utcnow()
    lost = not current.redis.exists(QUEUES_KEPT)
    overdue = now if lost else now - after
    with session_scope(current.database_url) as db:
        stuck = db.scalars(_unprocessed_before(now - 3 * after, STUCK_BATCH)).all()
    for inbox_id in stuck:
        _process_stuck(current, inbox_id)
    with session_scope(current.database_url) as db:
        stale_inbox = db.scalars(_unprocessed_before(now - min(after, GRACE), SWEEP_BATCH)).all()
        # pending too long, a retry that never came (its rq job went with a Redis restart), a
        # send whose sender died mid-call: at once when its contact's send lock is free
        stale_outbox = db.execute(
            select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.address,
                   OutboxMessage.contact_id, OutboxMessage.status)
            .where(or_(and_(OutboxMessage.status == "pending",  # (or since queued again)
                            func.coalesce(OutboxMessage.next_attempt_at,
                                          OutboxMessage.created_at) < overdue),
                       and_(OutboxMessage.status == "retrying",
                            OutboxMessage.next_attempt_at < overdue),
                       and_(OutboxMessage.status == "dispatching",
                            OutboxMessage.dispatched_at < now - GRACE)))
            .order_by(OutboxMessage.id).limit(SWEEP_BATCH)).all()
        complete = len(stale_outbox) < SWEEP_BATCH  # (else the rest at the next tick)
        orphaned = {row.contact_id for row in stale_outbox if row.status == "dispatching"
                    and not current.redis.exists(send_lock_key(row.contact_id))}
        stale_outbox = [row for row in stale_outbox
                        if row.status != "dispatching" or row.contact_id in orphaned]
        stale_outbox += db.execute(  # what the dead sender would have sent next
            select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.address,
                   OutboxMessage.contact_id, OutboxMessage.status)
            .where(OutboxMessage.contact_id.in_(orphaned - {None}),
                   OutboxMessage.status.in_(("pending", "retrying")))).all()
    apply_early_statuses(current.database_url, older_than=EARLY_STATUS_DAYS)
    _requeue_recordings(current, after)
    _requeue_airtime(current, after)
    queued = request_drain(current.redis) if stale_inbox else True
    by_contact: dict[tuple[str, str], set[int]] = {}
    for row in stale_outbox:
        by_contact.setdefault((row.channel, row.address), set()).add(row.id)
    for outbox_ids in by_contact.values():
        # a slot held by a killed worker's job would hold these back: no rate limit here
        queued = enqueue_outbound(current.redis, sorted(outbox_ids)) and queued
    requeued = [row.id for row in stale_outbox if row.status == "pending"]
    if requeued:  # not again before they are overdue once more: a long launch's queue is long
        with session_scope(current.database_url) as db:
            db.execute(update(OutboxMessage).where(OutboxMessage.id.in_(requeued),
                                                   OutboxMessage.status == "pending")
                       .values(next_attempt_at=now))
    if lost and queued and complete:  # all queued again: from now on, what is overdue
        current.redis.set(QUEUES_KEPT, "1")
    if stuck or stale_inbox or stale_outbox:
        log.info("sweeper: processed %s stuck inbox rows, re-queued %s inbox and %s outbox rows",
                 len(stuck), len(stale_inbox), len(stale_outbox))
    return SweepReport(len(stuck), len(stale_inbox), len(stale_outbox))


def _requeue_airtime(current: Runtime, after: timedelta) -> None:
    """Airtime top-ups still pending or sending after `after` (their job lost with Redis, or
    given up): queued again, unless still queued or retrying; a retry of one whose answer was
    lost asks AT again with the same Idempotency-Key."""
    from worker.airtime import unsent

    enqueue_airtime(current.redis, unsent(current.database_url, utcnow() - after, SWEEP_BATCH))


def _requeue_recordings(current: Runtime, after: timedelta) -> None:
    """Recordings still at Twilio after `after` (their job was lost with Redis, or gave up):
    their fetch queued again, unless it is still queued or retrying."""
    from voice.recordings import unmoved

    for recording_id in unmoved(current.database_url, after, SWEEP_BATCH):
        enqueue_recording_fetch(current.redis, recording_id)


# Left in Redis by a sweep that queued everything unsent again; gone when Redis lost its data
# (a restart without persistence, a failover, a flush), and every queued job with it.
QUEUES_KEPT = "heard:queues-kept"


def _process_stuck(current: Runtime, inbox_id: int) -> None:
    """Process a long-overdue row here; one that fails again is set aside as `failed` (kept,
    logged), so the contact's later messages are not held back by it for ever."""
    try:
        with session_scope(current.database_url) as db:
            contact, outbox_ids = inbound.process(db, inbox_id, skip_locked=True)
    except Exception:  # noqa: BLE001 - one bad row must not stop the sweep
        log.exception("inbox %s: failed again; set aside as failed (kept in the inbox)",
                      inbox_id)
        with session_scope(current.database_url) as db:
            db.execute(update(InboxMessage).where(InboxMessage.id == inbox_id,
                                                  InboxMessage.processed_at.is_(None))
                       .values(processed_at=utcnow(), outcome="failed"))
        return
    enqueue_outbound(current.redis, outbox_ids, contact)


def _unprocessed_before(cutoff: datetime, limit: int) -> Select[int]:
    return (select(InboxMessage.id)
            .where(InboxMessage.processed_at.is_(None), InboxMessage.received_at < cutoff)
            .order_by(InboxMessage.id).limit(limit))
