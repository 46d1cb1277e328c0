"""The simulator channel: chat with a survey from a browser through the full pipeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from heard.routes.auth import bearer, require_role
from heard.routes.console.base import ACTING, SESSION_COOKIE
from heard.routes.deps import get_runtime
from heard.routes.problems import AUTHORIZED, BODY, errors
from heard.routes.round_answers import examples
from surveys import catalog
from surveys.actions import Converse
from surveys.database import session_scope
from surveys.messages import MAX_TEXT, BadInbound, Inbound
from surveys.settings import get_settings
from surveys.tables import Contact, InboxMessage, OutboxMessage, SurveyVersion
from surveys.users import signed_in
from worker.ingest import ingest_async
from worker.pipeline import converse
from worker.runtime import Runtime


async def simulator_allowed(request: Request,
                            runtime: Annotated[Runtime, Depends(get_runtime)],
                            credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                   Depends(bearer)]) -> None:
    """Open on a laptop's embedded defaults; in production a facilitator's token (or off, a
    404): an open simulator lets anyone read simulated chats and fill the database."""
    access = get_settings().simulator_access()
    if access == "off":
        raise HTTPException(404, "the simulator is off (HEARD_SIMULATOR=off)")
    if access == "token" and not await run_in_threadpool(
            _console_may_try, runtime.database_url, request.cookies.get(SESSION_COOKIE)):
        await run_in_threadpool(require_role("facilitator"), request, runtime, credentials)


def _console_may_try(database_url: str, cookie: str | None) -> bool:
    """A facilitator or admin signed in to the console tries surveys without a token (the
    cookie is SameSite=Strict: another site's page cannot post with it)."""
    if not cookie:
        return False
    with session_scope(database_url) as db:
        user = signed_in(db, cookie)
    return user is not None and user.role in ACTING


router = APIRouter()
Allowed = [Depends(simulator_allowed)]
REFUSED = errors(*AUTHORIZED, 404)  # 404: the simulator is off (or the survey unknown)
CHANNEL = "simulator"
PAGE = Path(__file__).resolve().parent.parent / "static" / "simulator.html"
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class SimulatedMessage(BaseModel):
    model_config = examples({"survey": "water-access", "address": "amina", "text": "hi",
                             "reply": True})

    survey: str = Field(min_length=1, max_length=128, description="Survey id, e.g. water-access")
    address: str = Field(min_length=1, max_length=255, description="Any name for the contact")
    text: str = Field(max_length=MAX_TEXT)
    id: str | None = Field(None, max_length=128,
                           description="Optional message id: sending it again is a no-op")
    reply: bool = Field(False, description="Answer at once with the replies, as a synchronous "
                        "channel (a voice call, a USSD session) is answered; sent again, the "
                        "same replies")


class Accepted(BaseModel):
    model_config = examples({"inbox_id": 12, "duplicate": False,
                             "replies": ["Where does your water come from?\n1 Tap\n2 Well"]})

    inbox_id: int | None
    duplicate: bool
    replies: list[str] | None = None


class ConversationLine(BaseModel):
    model_config = examples({"direction": "out", "text": "Where does your water come from?",
                             "at": "2027-02-01T09:30:00Z"})

    direction: Literal["in", "out"]
    text: str
    at: datetime


class SurveySummary(BaseModel):
    model_config = examples({"id": "water-access", "version": 2, "title": "Water access",
                             "languages": ["en", "sw"]})

    id: str
    version: int
    title: str
    languages: list[str]


@router.get("/simulator", response_class=HTMLResponse, include_in_schema=False)
def simulator_page() -> HTMLResponse:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))


@router.get("/api/v1/surveys", tags=["surveys"])
def list_surveys(runtime: RuntimeDep) -> list[SurveySummary]:
    with session_scope(runtime.database_url) as db:
        rows = db.scalars(select(SurveyVersion).order_by(SurveyVersion.survey_id,
                                                         SurveyVersion.version)).all()
        latest = {row.survey_id: row for row in rows}
        surveys = [catalog.survey_of(row) for row in latest.values()]
    return [SurveySummary(id=s.id, version=s.version, title=s.title[s.default_language],
                          languages=s.languages) for s in surveys]


@router.post("/api/v1/simulate", status_code=202, tags=["simulator"], dependencies=Allowed,
             responses=REFUSED | errors(*BODY))
async def simulate(message: SimulatedMessage, runtime: RuntimeDep) -> Accepted:
    if not await _known(runtime.database_url, message.survey):
        raise HTTPException(404, f"unknown survey {message.survey!r}: see GET /api/v1/surveys")
    try:
        inbound = Inbound(channel=CHANNEL, address=message.address, text=message.text,
                          provider_id=message.id or uuid.uuid4().hex,
                          payload={"survey": message.survey})
    except BadInbound as error:
        raise HTTPException(422, str(error).replace("provider_id", "id")) from None
    if message.reply:
        answered = await run_in_threadpool(converse, runtime, Converse(inbound))
        return Accepted(inbox_id=answered.inbox_id, duplicate=answered.duplicate,
                        replies=answered.replies)
    inbox_id = await ingest_async(runtime.database_url, runtime.redis, inbound)
    return Accepted(inbox_id=inbox_id, duplicate=inbox_id is None)


_KNOWN_SURVEYS: set[tuple[str, str]] = set()


async def _known(database_url: str, survey_id: str) -> bool:
    """Surveys are never deleted, so one that was found once needs no query again."""
    if (database_url, survey_id) not in _KNOWN_SURVEYS:
        if await run_in_threadpool(_latest_version, database_url, survey_id) is None:
            return False
        _KNOWN_SURVEYS.add((database_url, survey_id))
    return True


def _latest_version(database_url: str, survey_id: str) -> int | None:
    with session_scope(database_url) as db:
        row = catalog.latest(db, survey_id)
        return row.version if row else None


@router.get("/api/v1/simulate/{address}", tags=["simulator"], dependencies=Allowed,
            responses=REFUSED)
def conversation(address: str, runtime: RuntimeDep) -> list[ConversationLine]:
    with session_scope(runtime.database_url) as db:
        inbound = db.execute(select(InboxMessage.id, InboxMessage.text, InboxMessage.received_at)
                             .where(InboxMessage.channel == CHANNEL,
                                    InboxMessage.address == address)).all()
        outbound = db.execute(select(OutboxMessage.inbox_id, OutboxMessage.seq,
                                     OutboxMessage.text, OutboxMessage.created_at)
                              .join(Contact, Contact.id == OutboxMessage.contact_id)
                              .where(Contact.channel == CHANNEL,
                                     Contact.address == address)).all()  # ix_outbox_contact
    # Replies sort right after the message that caused them, in the order they were written.
    lines = [((row.id, -1), ConversationLine(direction="in", text=row.text, at=row.received_at))
             for row in inbound]
    lines += [((row.inbox_id or 0, row.seq),
               ConversationLine(direction="out", text=row.text, at=row.created_at))
              for row in outbound]
    return [line for _, line in sorted(lines, key=lambda item: item[0])]
