"""The database tables (SQLAlchemy 2 declarative models). Migrations live in surveys/migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

Json = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only autoincrements INTEGER keys


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    """A session's id for analysts: the same in every export, on every server."""
    return str(uuid4())


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: Json, datetime: UTCDateTime()}


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "address"),
                      # a launch's chunks of a community, in id order (migration 0024)
                      Index("ix_contacts_community_id", "community", "id"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(16))
    community: Mapped[str | None] = mapped_column(String(255))
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    consent: Mapped[bool | None] = mapped_column(Boolean)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    unreachable: Mapped[str | None] = mapped_column(String(32))  # e.g. invalid_number
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # their IANA time zone where the import gave one (quiet hours; else their community's or
    # their number's)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # their last message, on a channel where it opens a window for free-form messages
    # (WhatsApp: 24 hours; after it, templates)
    last_inbound_at: Mapped[datetime | None] = mapped_column()


class SurveyVersion(Base):
    """An immutable snapshot of a survey definition; answers refer to the text people saw."""

    __tablename__ = "surveys"
    __table_args__ = (UniqueConstraint("survey_id", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    survey_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)



class SurveyMedia(Base):
    """A recorded prompt's audio by the sha256 of its bytes (surveys.media): every survey version
    that plays the same file shares it; served at /voice/audio/<sha256>."""

    __tablename__ = "survey_media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column("bytes", LargeBinary)
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VoicePrompt(Base):
    """One of heard's own phrases recorded in a language (voice.pack), its audio in
    survey_media: what a call says where Twilio has no voice for the language."""

    __tablename__ = "voice_prompts"

    lang: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(16), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Round(Base):
    __tablename__ = "rounds"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    survey_pk: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    community: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    opens_at: Mapped[datetime | None] = mapped_column()
    closes_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    public_token: Mapped[str | None] = mapped_column(String(64), unique=True)  # None: private
    published_at: Mapped[datetime | None] = mapped_column()
    # hours after an invitation when the unfinished are reminded, e.g. [24, 72] (None: only
    # by hand)
    reminder_hours: Mapped[list[int] | None] = mapped_column(Json, nullable=True)
    # whom it invites beyond its community: {"languages": [...], "channels": [...],
    # "profile": {field: [values]}}, each part optional (None: everyone; worker.rounds.Target)
    target: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    # how a USSD session that timed out goes on: "ussd" (dialled again, at the next question)
    # or "sms" (the next question comes by SMS at once; ussd.continuation)
    ussd_continue: Mapped[str] = mapped_column(String(8), default="ussd", server_default="ussd")

    # a thank-you top-up for each who completes (surveys/airtime.py): its currency, amount and
    # the round's budget, in hundredths of the currency; None: no airtime
    airtime_currency: Mapped[str | None] = mapped_column(String(3))
    airtime_amount: Mapped[int | None] = mapped_column(Integer)
    airtime_budget: Mapped[int | None] = mapped_column(Integer)


class AirtimeReward(Base):
    """A round's thank-you top-up to one person, and what became of it (worker/airtime.py):
    pending, sending, sent, failed or over_budget; at most one per person and round."""

    __tablename__ = "airtime_rewards"
    __table_args__ = (UniqueConstraint("round_id", "contact_id",
                                       name="uq_airtime_rewards_round_contact"),
                      Index("ix_airtime_rewards_status", "status", "updated_at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(Integer)  # hundredths of the currency
    status: Mapped[str] = mapped_column(String(16), default="pending")
    provider_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Release(Base):
    """A round's published figures: computed once, jointly suppressed and audited, stored."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), unique=True)
    k: Mapped[int] = mapped_column(Integer)
    figures: Mapped[dict[str, Any]] = mapped_column()
    audit: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveySession(Base):
    """One contact's way through one survey (in a round, or in the simulator)."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_contact_status", "contact_id", "status"),
                      Index("ix_sessions_round", "round_id", "id"),
                      UniqueConstraint("uuid", name="uq_sessions_uuid"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    survey_pk: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    state: Mapped[dict[str, Any]] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()
    reminded_at: Mapped[datetime | None] = mapped_column()  # the last reminder's
    reminders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # policy's
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid)  # exports' `_uuid`
    # the contact's profile as it was when this session was answered (None: before 0021)
    profile: Mapped[dict[str, Any] | None] = mapped_column()


class StoredAnswer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("session_id", "question_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    question_id: Mapped[str] = mapped_column(String(128))
    value: Mapped[Any] = mapped_column(Json, nullable=True)
    raw: Mapped[str | None] = mapped_column(Text)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)


class Recording(Base):
    """A spoken answer (a call's answer to a text question): personal data, kept here alone.

    The answer stores `recording:<id>` (surveys.recordings); the audio is fetched from the
    provider into `audio`, then deleted there (`provider_deleted_at`). Forgotten (erased,
    expired) while the provider still holds it, the row keeps only what deleting it there needs.
    """

    __tablename__ = "recordings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # a uuid4's hex: heard's own
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"))
    question_id: Mapped[str | None] = mapped_column(String(128))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"))
    provider_sid: Mapped[str] = mapped_column(String(64), unique=True)
    provider_url: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(64))
    audio: Mapped[bytes | None] = mapped_column(LargeBinary)
    seconds: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    fetched_at: Mapped[datetime | None] = mapped_column()
    provider_deleted_at: Mapped[datetime | None] = mapped_column()  # (or found gone there)
    forgotten_at: Mapped[datetime | None] = mapped_column()  # erased or expired: 404 from now


class InboxMessage(Base):
    """Every inbound message as received; unique per provider id so re-deliveries are no-ops."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        Index("ix_inbox_pending", "processed_at", "received_at"),
        Index("ix_inbox_address", "channel", "address", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    provider_id: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(32))


_HAS_PROVIDER_ID = text("provider_id IS NOT NULL")


class OutboxMessage(Base):
    """Every outbound message; written with the engine step, sent afterwards by a job.

    Few indexes, for a launch writes 200,000 rows at once: a contact's rows (sending, the
    simulator's view) by contact id; provider ids only once a message has one.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("inbox_id", "seq"),
        Index("ix_outbox_pending", "status", "created_at"),
        Index("ix_outbox_contact", "contact_id", "id"),
        Index("ix_outbox_provider_id", "provider_id", postgresql_where=_HAS_PROVIDER_ID,
              sqlite_where=_HAS_PROVIDER_ID),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id"))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    reply: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    provider_id: Mapped[str | None] = mapped_column(String(128))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    segments: Mapped[int | None] = mapped_column(Integer)
    encoding: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    # when it is due: a retry's, a message held for quiet hours, or, for a pending one, when
    # the sweeper last queued it again
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    dispatched_at: Mapped[datetime | None] = mapped_column()  # the last provider call's start


# What a sender still has to do something about: `pending` (never tried), `retrying` (a
# transient error; `next_attempt_at` says when), `dispatching` (a provider call began at
# `dispatched_at` and its outcome was never recorded: ask the provider before sending again).
STILL_TO_SEND = ("pending", "retrying", "dispatching")


class EarlyStatus(Base):
    """A delivery report that came before its send's provider id was committed: applied by
    the sweeper once the message is known."""

    __tablename__ = "early_statuses"
    __table_args__ = (Index("ix_early_statuses_provider_id", "provider_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    unreachable: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Fact(Base):
    """What a deployment must remember about itself (the pseudonym key's fingerprint)."""

    __tablename__ = "facts"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class ApiToken(Base):
    """A bearer token for the API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    communities: Mapped[list[str] | None] = mapped_column(Json, nullable=True)  # None: all
    expires_at: Mapped[datetime | None] = mapped_column()  # None: never


class User(Base):
    """A person who signs in to the console: a role, and the communities they work in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)  # as typed at sign-in, folded
    password_hash: Mapped[str] = mapped_column(String(255))  # Argon2id, with its salt
    role: Mapped[str] = mapped_column(String(16))
    communities: Mapped[list[str] | None] = mapped_column(Json, nullable=True)  # None: all
    language: Mapped[str] = mapped_column(String(16), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column()


class ConsoleSession(Base):
    """A signed-in browser: only the SHA-256 of its cookie is stored, so a dump signs nobody in;
    signing out deletes it. `csrf` is the token every form of the session carries."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class ProfileField(Base):
    """A contact profile key declared fit for exports (at import, or by a profile question)."""

    __tablename__ = "profile_fields"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who exported, revealed, erased or purged personal data, and when; it names nobody."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_round", "round_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(255))  # "token:<name> (<role>)", "cli:<user>"
    action: Mapped[str] = mapped_column(String(32))  # export, reveal_address, erase, purge
    round_id: Mapped[int | None] = mapped_column(Id)  # no foreign key: entries outlive rounds
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # format, rows, filters
