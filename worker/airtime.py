"""A round's airtime thank-you: a row when a person completes, then one top-up by a job.

A completion in a round with airtime writes a `pending` row in the batch's transaction (unique
per person and round, so a replay or a second completion adds none); `send_reward` then takes
the round's lock, checks the budget (what is sent or being sent, plus this one) and marks the
row `sending` before AT is asked, so a top-up is never asked twice under two keys: a retry
after a lost answer asks again with the same Idempotency-Key (round and contact), which AT
answers without a second top-up. Every attempt is counted; the last error is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sms.africastalking_airtime import send_airtime
from surveys.channels import channel
from surveys.database import session_scope
from surveys.sql import insert_ignore
from surveys.tables import AirtimeReward, Contact, Round, SurveySession, utcnow
from worker.senders import PermanentSendError, TransientSendError

log = logging.getLogger(__name__)
SPENDING = ("sending", "sent")  # what the budget counts: sent, or perhaps sent
DONE = ("sent", "failed", "over_budget")


def reward_completions(db: Session, completed: Iterable[SurveySession]) -> list[int]:
    """A pending top-up for each who completed a round that gives airtime and whose address
    is a phone number; the new rows' ids (none for one rewarded already)."""
    now, rows = utcnow(), []
    for session in completed:
        round_ = db.get(Round, session.round_id) if session.round_id is not None else None
        if round_ is None or not round_.airtime_amount or not round_.airtime_currency:
            continue
        contact = db.get(Contact, session.contact_id)
        if contact is None or not channel(contact.channel).phone_addresses:
            continue
        rows.append({"round_id": round_.id, "contact_id": contact.id,
                     "currency": round_.airtime_currency, "amount": round_.airtime_amount,
                     "status": "pending", "attempts": 0, "created_at": now, "updated_at": now})
    if not rows:
        return []
    return list(insert_ignore(db, AirtimeReward.__table__, rows,
                              conflict=["round_id", "contact_id"],
                              returning=AirtimeReward.id).scalars())


def idempotency_key(round_id: int, contact_id: int) -> str:
    """The same for every attempt of one person's top-up in one round, and for nothing else."""
    return f"heard-airtime-{round_id}-{contact_id}"


def send_reward(database_url: str, reward_id: int) -> str:
    """Send one top-up unless it is done or over the round's budget; what became of it. A
    TransientSendError (AT unreachable, 5xx) is raised for the job's retry."""
    with session_scope(database_url) as db:
        reward = db.get(AirtimeReward, reward_id)
        if reward is None:
            return "gone"
        round_ = db.scalars(select(Round).where(Round.id == reward.round_id)
                            .with_for_update()).one()  # one budget check at a time per round
        db.refresh(reward, with_for_update=True)
        if reward.status in DONE:
            return reward.status
        if reward.status == "pending":
            spent = db.scalar(select(func.coalesce(func.sum(AirtimeReward.amount), 0)).where(
                AirtimeReward.round_id == round_.id, AirtimeReward.status.in_(SPENDING))) or 0
            if round_.airtime_budget is None or spent + reward.amount > round_.airtime_budget:
                reward.status, reward.updated_at = "over_budget", utcnow()
                return reward.status
            reward.status = "sending"
        reward.attempts += 1
        reward.updated_at = utcnow()
        address = db.get_one(Contact, reward.contact_id).address
        attempt = (reward.currency, reward.amount,
                   idempotency_key(reward.round_id, reward.contact_id))
        if not address.startswith("+"):  # erased since (its address is a token now)
            reward.status, reward.error = "failed", "no phone number (erased)"
            return reward.status
    try:
        topped = send_airtime(address, *attempt)
    except TransientSendError as error:
        _record(database_url, reward_id, "sending", error=str(error))
        raise
    except PermanentSendError as error:
        log.info("airtime %s refused: %s", reward_id, error)
        return _record(database_url, reward_id, "failed", error=str(error))
    return _record(database_url, reward_id, "sent", provider_id=topped.request_id)


def _record(database_url: str, reward_id: int, status: str, *, error: str | None = None,
            provider_id: str | None = None) -> str:
    with session_scope(database_url) as db:
        reward = db.get_one(AirtimeReward, reward_id)
        reward.status, reward.updated_at = status, utcnow()
        if error is not None:
            reward.error = error[:255]
        if provider_id is not None:
            reward.provider_id, reward.error = provider_id, None
    return status


def unsent(database_url: str, older_than: object, limit: int) -> list[int]:
    """Top-ups pending or sending since before `older_than` (their job lost with Redis, or
    given up): for the sweeper to queue again (a job still queued or retrying is left)."""
    with session_scope(database_url) as db:
        return list(db.scalars(select(AirtimeReward.id).where(
            AirtimeReward.status.in_(("pending", "sending")),
            AirtimeReward.updated_at < older_than).order_by(AirtimeReward.id).limit(limit)))
