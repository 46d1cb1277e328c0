"""API for facilitators (contacts, surveys, rounds) and admins (tokens), under /api/v1."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from heard.guards import MAX_UPLOAD
from heard.routes.auth import Admin, Facilitator, bearer_in
from heard.routes.deps import RowId, get_runtime
from heard.routes.problems import AUTHORIZED, BODY, errors
from heard.routes.round_answers import (
    Closed,
    LaunchPlan,
    LaunchQueued,
    NewToken,
    PlanLine,
    Published,
    Reminded,
    Shared,
    Withdrawn,
    examples,
)
from surveys import catalog, release
from surveys.airtime import AirtimeError, parse_airtime, shown
from surveys.contact_import import parse_contacts, read_spreadsheet, save_contacts
from surveys.database import session_scope
from surveys.settings import get_settings
from surveys.spans import parse_span
from surveys.tables import ApiToken, Round
from surveys.tokens import ROLES, create_token, token_hash
from surveys.validation import SurveyError, parse_survey
from worker import rounds
from worker.queues import enqueue_launch, enqueue_outbound
from worker.rounds import UssdContinue
from worker.runtime import Runtime
from worker.share import close_and_share, share

router = APIRouter(prefix="/api/v1", responses=errors(*AUTHORIZED))
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class ImportResult(BaseModel):
    model_config = examples({
        "rows": 3, "created": 2, "updated": 0, "merged_duplicates": 0,
        "errors": [{"line": 4, "message": "phone: '0712' is not a phone number"}],
        "profile_fields": ["gender"], "dropped_columns": ["name"],
        "notice": "dropped the columns name: declare them with the `profile` parameter "
                  "to keep them"})

    rows: int
    created: int
    updated: int
    merged_duplicates: int
    errors: list[dict[str, int | str]]
    profile_fields: list[str] = Field(description="Declared profile columns, kept")
    dropped_columns: list[str] = Field(
        description="Headers of the columns not declared as profile fields: not stored")
    notice: str | None = Field(description="What was dropped and how to keep it; null if nothing")


class StoredSurvey(BaseModel):
    model_config = examples({"id": "water-access", "version": 2,
                             "content_hash": "9f86d081884c7d65..."})

    id: str
    version: int
    content_hash: str


class RoundIn(BaseModel):
    model_config = examples({"survey": "water-access", "community": "kibera",
                             "closes_at": "2027-03-01T18:00:00Z", "remind_after_hours": [24],
                             "languages": ["sw"], "channels": ["sms"],
                             "profile": {"gender": ["female"]}})

    survey: str = Field(description="Survey id (its newest stored version is used)")
    community: str | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    remind_after_hours: list[int] = Field(
        default=[], description="Remind the unfinished these hours after their invitation, "
                                "e.g. [24, 72]: each once per person, sent by the cron")
    languages: list[str] = Field(
        default=[], description="Invite only people of these languages, e.g. [\"sw\"] (none: any)")
    channels: list[str] = Field(
        default=[], description="Invite only people on these channels, e.g. [\"sms\"] (none: any)")
    profile: dict[str, list[str]] = Field(
        default={}, description="Invite only people with these values of declared profile "
                                "fields, e.g. {\"gender\": [\"female\"]}: each field must match")
    ussd_continue: UssdContinue = Field(
        default="ussd", description="A USSD session that timed out goes on when the person "
                                    "dials again (ussd) or at once by SMS (sms)")
    airtime: str | None = Field(
        default=None, description="Thank each who completes with this airtime through Africa's "
                                  "Talking, e.g. \"KES 10\" (once per person; needs a budget)")
    airtime_budget: str | None = Field(
        default=None, description="The most the round's airtime may cost in all, e.g. \"5000\" "
                                  "(in the airtime's currency)")


class RoundOut(BaseModel):
    model_config = examples({
        "id": 7, "survey": "water-access", "version": 2, "community": "kibera",
        "status": "open", "code": "WATER7", "target": None,
        "totals": {"invited": 120, "started": 80, "completed": 64},
        "by_language_and_channel": [{"language": "sw", "channel": "sms", "invited": 120}],
        "not_delivered": [{"channel": "sms", "error_code": "30003", "messages": 2}],
        "sms_segments": {"estimated_typical": 960, "estimated_longest": 1320, "spent": 700},
        "calls": {}})

    id: int
    survey: str
    version: int
    community: str | None
    status: str
    code: str | None
    ussd_continue: str = "ussd"
    target: dict[str, list[str] | dict[str, list[str]]] | None = Field(
        default=None, description="Whom it invites beyond its community (null: everyone)")
    totals: dict[str, int] = {}
    by_language_and_channel: list[dict[str, str | int]] = []
    not_delivered: list[dict[str, str | int]] = []  # by channel and the provider's error code
    sms_segments: dict[str, int] = {}  # estimated for those invited (typical, longest), spent
    # calls: estimated minutes for those invited (typical, longest); made, answered, not
    # answered, and the minutes they took
    calls: dict[str, int] = {}
    # airtime thank-yous: currency, each, budget, spent (as "KES 10.00") and top-ups by status
    airtime: dict[str, str | dict[str, int]] | None = None


class TokenIn(BaseModel):
    model_config = examples({"role": "analyst", "name": "kobo sync",
                             "communities": ["kibera"], "expires": "90d"})

    role: str = Field(description=f"One of: {', '.join(ROLES)}")
    name: str = ""
    communities: list[str] = Field(
        default=[], description="The communities it works in (none: all)")
    expires: str | None = Field(
        default=None, description="How long it works, e.g. 90d or 12h (none: until revoked)")


async def _body(request: Request) -> bytes:
    data = await request.body()
    if len(data) > MAX_UPLOAD:
        raise HTTPException(413, f"upload larger than {MAX_UPLOAD // 1024 // 1024} MB")
    return data


async def _body_text(request: Request) -> str:
    try:
        return (await _body(request)).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise HTTPException(400, f"the upload is not UTF-8 text: {error}") from None


@router.post("/contacts/import", tags=["contacts"], responses=errors(*BODY), openapi_extra={
    "requestBody": {"content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
            "schema": {"type": "string", "format": "binary"}}}}})
async def import_contacts(
    request: Request, runtime: RuntimeDep, _: Facilitator, region: str | None = None,
    profile: Annotated[list[str] | None, Query(
        description="Columns to keep as profile fields (repeat, or comma-separated); every "
                    "other column is personal data and is not stored")] = None,
) -> ImportResult:
    """A CSV (any separator; UTF-8, UTF-16 or Windows-1252) or XLSX body. Bad rows come back
    with their line numbers; good rows are kept; columns not declared in `profile` are dropped
    and listed."""
    try:
        text = read_spreadsheet(await _body(request))
    except ValueError as error:
        raise HTTPException(400, f"the upload is not a CSV or XLSX file: {error}") from None
    contacts, report = parse_contacts(text, region, profile or (),
                                      communities=bearer_in(request).communities)
    await run_in_threadpool(save_contacts, runtime.database_url, contacts, report)
    return ImportResult(rows=report.rows, created=report.created, updated=report.updated,
                        merged_duplicates=report.merged_duplicates,
                        errors=[{"line": e.line, "message": e.message} for e in report.errors],
                        profile_fields=report.profile_fields,
                        dropped_columns=report.dropped_columns,
                        notice=report.dropped_notice("the `profile` parameter"))


@router.post("/surveys", status_code=201, tags=["surveys"], responses=errors(*BODY),
             openapi_extra={
    "requestBody": {"content": {"application/yaml": {"schema": {"type": "string"}}}}})
async def upload_survey(request: Request, runtime: RuntimeDep, _: Facilitator) -> StoredSurvey:
    """A survey YAML body. Invalid → 422 listing every problem as LINE:COL: message."""
    try:
        survey = parse_survey(await _body_text(request), "upload")
    except SurveyError as error:
        raise HTTPException(422, [str(problem) for problem in error.problems]) from None
    with session_scope(runtime.database_url) as db:
        row = catalog.register(db, survey)
        return StoredSurvey(id=row.survey_id, version=row.version, content_hash=row.content_hash)


@router.post("/rounds", status_code=201, tags=["rounds"], responses=errors(*BODY, 404))
def create_round(body: RoundIn, request: Request, runtime: RuntimeDep,
                 _: Facilitator) -> RoundOut:
    token = bearer_in(request)
    if not token.sees(body.community):
        raise HTTPException(403, f"this token works for the communities "
                                 f"{', '.join(token.communities or ())} only")
    with session_scope(runtime.database_url) as db:
        row = catalog.latest(db, body.survey)
        if row is None:
            raise HTTPException(404, f"unknown survey {body.survey!r}: upload it first")
        try:
            target = rounds.target_for(db, catalog.survey_of(row), body.languages,
                                       body.channels, body.profile)
            thanks = (parse_airtime(body.airtime or "", body.airtime_budget)
                      if body.airtime or body.airtime_budget else None)
            round_ = rounds.create_round(db, row, body.community, body.opens_at, body.closes_at,
                                         body.remind_after_hours, target, body.ussd_continue,
                                         thanks)
        except (rounds.RoundError, AirtimeError) as error:
            raise HTTPException(422, str(error)) from None
        round_id = round_.id
    return _round_out(runtime, round_id)


@router.get("/rounds", tags=["rounds"])
def list_rounds(request: Request, runtime: RuntimeDep, _: Facilitator) -> list[RoundOut]:
    """The rounds of the token's communities (every round, for a token of all), newest first."""
    with session_scope(runtime.database_url) as db:
        ids = [round_id for round_id, community in db.execute(
            select(Round.id, Round.community).order_by(Round.id.desc()))
            if bearer_in(request).sees(community)]
    return [_round_out(runtime, round_id, details=False) for round_id in ids]


@router.get("/rounds/{round_id}", tags=["rounds"], responses=errors(404))
def round_status(round_id: RowId, runtime: RuntimeDep, _: Facilitator) -> RoundOut:
    return _round_out(runtime, round_id)


@router.post("/rounds/{round_id}/launch", status_code=202, tags=["rounds"],
             responses=errors(404, 409))
def launch_round(round_id: RowId, runtime: RuntimeDep, _: Facilitator,
                 dry_run: bool = False,
                 over: Annotated[str | None, Query(
                     description="Spread the invitations evenly over this long, e.g. 2h")]
                 = None) -> LaunchPlan | LaunchQueued:
    """Dry run: messages and segments per language and channel. Otherwise queued as a job."""
    try:
        span = rounds.parse_span(over) if over is not None else None
    except rounds.RoundError as error:
        raise HTTPException(422, str(error)) from None
    with session_scope(runtime.database_url) as db:
        try:
            plan = rounds.plan_launch(db, round_id)
        except rounds.RoundError as error:
            raise HTTPException(404, str(error)) from None
        if not dry_run:
            try:
                rounds.require_open(db, round_id, "launch")
            except rounds.RoundError as error:  # a job that would only fail in the worker
                raise HTTPException(409, str(error)) from None
    settings = get_settings()
    left_out: dict[str, Any] = {
        "not_invited": dict(plan.left_out), "community_hint": plan.community_hint,
        "quickest_seconds": plan.quickest(settings.sms_per_second).total_seconds()}
    if dry_run:
        prices = rounds.prices_of(settings)
        low, high = plan.cost(prices)
        return LaunchPlan(
            plan=[PlanLine.model_validate({**plan.rows[(line.language, line.channel)],
                                         **asdict(line)}) for line in plan.lines(prices)],
            currency=settings.currency, price_per_segment=prices["segments"],
            price_per_call_minute=prices["minutes"], cost_typical=low, cost_longest=high,
            invitation_cost=plan.invitation_cost(prices), **left_out)
    enqueue_launch(runtime.redis, round_id, span)
    return LaunchQueued(queued=True, contacts=plan.total("contacts"),
                        over_seconds=span.total_seconds() if span else None, **left_out)


@router.post("/rounds/{round_id}/remind", tags=["rounds"], responses=errors(404, 409))
def remind_round(round_id: RowId, runtime: RuntimeDep, _: Facilitator,
                 again: Annotated[bool, Query(
                     description="Remind those reminded in the last 20 hours too")] = False,
                 who: Annotated[str, Query(
                     description="all, not-started (answered nothing yet) or part-way")]
                 = "all") -> Reminded:
    if who not in rounds.WHO:
        raise HTTPException(422, f"who: one of {', '.join(rounds.WHO)}, not {who!r}")
    try:
        done = rounds.remind(runtime.database_url, runtime.redis, round_id, enqueue_outbound,
                             again=again, who=who)
    except rounds.RoundError as error:
        raise HTTPException(409, str(error)) from None
    return Reminded(**done._asdict())


@router.post("/rounds/{round_id}/close", tags=["rounds"], responses=errors(404))
def close_round(round_id: RowId, runtime: RuntimeDep, _: Facilitator) -> Closed:
    """Close the round (open sessions expire) and send its results to its participants."""
    try:
        expired, shared = close_and_share(runtime.database_url, runtime.redis, round_id)
    except rounds.RoundError as error:
        raise HTTPException(404, str(error)) from None
    return Closed(expired_sessions=expired, results_queued=shared.messages)


@router.post("/rounds/{round_id}/share", tags=["rounds"], responses=errors(404, 409))
def share_round(round_id: RowId, runtime: RuntimeDep, _: Facilitator,
                again: Annotated[bool, Query(
                    description="Send again to people who already got these results")] = False,
                min_cell: Annotated[int | None, Query(
                    ge=1, description="Fewest people a figure may stand for")] = None,
                ) -> Shared:
    """Send the round's results to everyone who took part (as `heard round share`)."""
    try:
        report = share(runtime.database_url, runtime.redis, round_id, min_cell, again)
    except LookupError as error:
        raise HTTPException(404, str(error)) from None
    except release.NotYetReleased as error:
        raise HTTPException(409, str(error)) from None
    return Shared(**asdict(report))


@router.post("/rounds/{round_id}/publish", tags=["rounds"], responses=errors(404, 409))
def publish_round(round_id: RowId, runtime: RuntimeDep, _: Facilitator) -> Published:
    """Make the round's results public: its release, at a new unguessable address."""
    with session_scope(runtime.database_url) as db:
        try:
            path = release.publish(db, round_id)
        except LookupError as error:
            raise HTTPException(404, str(error)) from None
        except release.NotYetReleased as error:
            raise HTTPException(409, str(error)) from None
    return Published(url=get_settings().public_base_url.rstrip("/") + path)


@router.post("/rounds/{round_id}/unpublish", tags=["rounds"], responses=errors(404))
def unpublish_round(round_id: RowId, runtime: RuntimeDep, _: Facilitator) -> Withdrawn:
    """Withdraw the public page: its address stops working for good."""
    with session_scope(runtime.database_url) as db:
        try:
            was_public = release.unpublish(db, round_id)
        except LookupError as error:
            raise HTTPException(404, str(error)) from None
    return Withdrawn(withdrawn=was_public)


@router.post("/tokens", status_code=201, tags=["admin"], responses=errors(*BODY))
def new_token(runtime: RuntimeDep, _: Admin,
              body: Annotated[TokenIn, Body()]) -> NewToken:
    """A new token, shown this once; it works until revoked, or for `expires`."""
    try:
        lasts = parse_span(body.expires) if body.expires else None
    except ValueError as error:
        raise HTTPException(422, f"expires: {error}") from None
    try:
        with session_scope(runtime.database_url) as db:
            token = create_token(db, body.role, body.name or body.role, body.communities, lasts)
            expires_at = db.scalars(select(ApiToken.expires_at).where(
                ApiToken.token_hash == token_hash(token))).one()
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    return NewToken(token=token, role=body.role,
                    expires_at=expires_at.isoformat() if expires_at else None)


def _round_out(runtime: Runtime, round_id: int, details: bool = True) -> RoundOut:
    with session_scope(runtime.database_url) as db:
        try:
            round_, row, _ = rounds.get_round(db, round_id)
            report = rounds.round_status(db, round_id) if details else None
        except rounds.RoundError as error:
            raise HTTPException(404, str(error)) from None
        out = RoundOut(id=round_.id, survey=row.survey_id, version=row.version,
                       community=round_.community, status=round_.status, code=round_.code,
                       ussd_continue=round_.ussd_continue, target=round_.target)
    if report is not None:
        out.totals = dict(report.totals)
        out.by_language_and_channel = [
            {"language": lang, "channel": channel, **counts}
            for (lang, channel), counts in sorted(report.by_group.items())]
        out.not_delivered = [{"channel": channel, "error_code": code, "messages": number}
                             for (channel, code), number in sorted(report.failures.items())]
        out.sms_segments = {"estimated_typical": report.segments["typical"],
                            "estimated_longest": report.segments["longest"],
                            "spent": report.segments["spent"]}
        out.calls = {"estimated_minutes_typical": report.calls["typical"],
                     "estimated_minutes_longest": report.calls["longest"],
                     **{what: report.calls[what]
                        for what in ("made", "answered", "unanswered", "minutes")}}
        if report.airtime is not None:
            given = report.airtime
            out.airtime = {"each": shown(given.currency, given.amount),
                           "budget": shown(given.currency, given.budget),
                           "spent": shown(given.currency, given.spent),
                           "top_ups": dict(given.by_status)}
    return out
