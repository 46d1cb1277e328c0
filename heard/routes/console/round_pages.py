"""The console's rounds: the list and a new round; a round's status, launch plan and actions
(launch, remind, close, share, publish); its results; its answers, exported."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select

from heard.routes.console.base import (
    ACTING,
    SEEING_ALL,
    RuntimeDep,
    SessionCookie,
    acting,
    counted,
    forbidden,
    in_scope,
    may_act,
    not_found,
    page,
    priced,
    signed_in_user,
)
from heard.routes.dashboard import results_html
from heard.routes.deps import RowId
from surveys import catalog, release
from surveys.audit import export_action, record
from surveys.channels import importable
from surveys.database import session_scope
from surveys.exports import WRITERS, ExportError, defuse, open_export
from surveys.i18n import Translator, language_name, shipped_languages, translator
from surveys.profile_fields import declared_profile_fields
from surveys.pseudonym import PseudonymKeyError, load_key
from surveys.settings import get_settings
from surveys.tables import Round, SurveyVersion
from worker import rounds
from worker.queues import enqueue_launch, enqueue_outbound
from worker.share import close_and_share, share

router = APIRouter(include_in_schema=False)


@router.get("/console", response_class=HTMLResponse)
def console(runtime: RuntimeDep, cookie: SessionCookie = None) -> Response:
    with session_scope(runtime.database_url) as db:
        user = signed_in_user(db, cookie)
        rows = db.execute(select(Round, SurveyVersion)
                          .join(SurveyVersion, SurveyVersion.id == Round.survey_pk)
                          .order_by(Round.id.desc())).all()
        t = translator(user.language)
        shown = [_round_row(round_, survey, t) for round_, survey in rows
                 if user.sees(round_.community)]
        surveys = sorted(set(db.scalars(select(SurveyVersion.survey_id))))
        fields = sorted(declared_profile_fields(db))
    return HTMLResponse(page("console_home.html", user.language, user=user, rounds=shown,
                             surveys=surveys, acts=user.role in ACTING,
                             target_languages=[(code, language_name(code, user.language))
                                               for code in shipped_languages()],
                             target_channels=importable(), profile_fields=fields))


@router.post("/console/rounds")
def new_round(runtime: RuntimeDep, csrf: Annotated[str, Form()] = "",
              survey: Annotated[str, Form()] = "", community: Annotated[str, Form()] = "",
              opens: Annotated[str, Form()] = "", closes: Annotated[str, Form()] = "",
              remind_after: Annotated[str, Form()] = "",
              languages: Annotated[list[str] | None, Form()] = None,
              channels: Annotated[list[str] | None, Form()] = None,
              profile: Annotated[str, Form()] = "",
              cookie: SessionCookie = None) -> Response:
    """A new round of a survey's latest version, for one of the user's communities (only
    the people of the languages, channels and profile values ticked or typed, when given)."""
    with session_scope(runtime.database_url) as db:
        user = acting(db, cookie, csrf)
        t = translator(user.language)
        target = community.strip().lower() or None
        row = catalog.latest(db, survey)
        if row is None:
            return forbidden(user, t.gettext("Choose a survey."), 422)
        if not user.sees(target):
            return forbidden(user, t.gettext("Choose one of your communities."), 422)
        try:
            only = rounds.target_for(db, catalog.survey_of(row), languages or (),
                                     channels or (),
                                     rounds.parse_profile_values(profile.splitlines()))
            made = rounds.create_round(db, row, target, rounds.parse_moment(opens, "opens"),
                                       rounds.parse_moment(closes, "closes"),
                                       rounds.parse_hours(remind_after), only)
        except rounds.RoundError as error:
            return forbidden(user, error.said(t), 422)
        round_id = made.id
    return RedirectResponse(f"/console/rounds/{round_id}", status_code=303)


DONE = {"launch": "launched", "remind": "reminded", "close": "closed", "share": "shared",
        "publish": "published", "unpublish": "withdrawn"}


@router.get("/console/rounds/{round_id}", response_class=HTMLResponse)
def round_page(round_id: RowId, runtime: RuntimeDep, done: str | None = None,
               cookie: SessionCookie = None) -> Response:
    """A round: who was invited, started, finished or opted out, by language and channel;
    what did not arrive; SMS spent against the estimate; what a launch would send; and the
    facilitator's actions (launch, remind, close, share)."""
    with session_scope(runtime.database_url) as db:
        user = signed_in_user(db, cookie)
        if not in_scope(db, user, round_id):
            return not_found(user)
        status = rounds.round_status(db, round_id)
        # (just launched: the plan would count those the launch job is inviting right now)
        plan = rounds.plan_launch(db, round_id) if status.status == "open" and \
            done != "launched" else None
        round_ = db.get_one(Round, round_id)
        public, target = release.public_path(round_), rounds.Target.of(round_.target)
        released = status.status == "closed" or release.has_release(db, round_id)
    t = translator(user.language)
    return HTMLResponse(page(
        "console_round.html", user.language, user=user, round=status,
        plan=plan and _plan_figures(plan, t), acts=user.role in ACTING,
        sees_all=user.role in SEEING_ALL, done=_done(t, done),
        status_word=_statuses(t).get(status.status, status.status), public=public,
        released=released, target=t.gettext("Invites only people {who}.", who=target.described(t))
        if target else None))


def _plan_figures(plan: rounds.Plan, t: Translator) -> dict[str, Any]:
    """What a launch would send and cost, as the CLI's dry run counts it (rounds.Plan.lines),
    in the user's language: money at HEARD_PRICE_PER_SEGMENT in HEARD_CURRENCY."""
    settings = get_settings()
    prices, currency = rounds.prices_of(settings), settings.currency
    price = prices["segments"]
    lines = [{"language": line.language, "channel": line.channel,
              "contacts": t.number(line.contacts), "messages": t.number(line.messages),
              "invitation": counted(t, line.unit, line.invitation),
              "conversation": counted(t, line.unit, line.typical, line.longest),
              "cost": priced(t, line.cost_typical, line.cost_longest),
              "reminder": counted(t, line.unit, line.reminder)} for line in plan.lines(prices)]
    quickest = plan.quickest(settings.sms_per_second)
    return {"lines": lines, "contacts": t.number(plan.total("contacts")),
            "messages": t.number(plan.total("messages")), "cost": priced(t, *plan.cost(prices)),
            "invitation_cost": t.gettext(
                "The invitations cost {cost} at {price} an SMS segment; messages of results "
                "are not included (their length depends on the answers).",
                cost=t.money(plan.invitation_cost(prices), currency),
                price=t.money(price, currency, exact=True)),
            "call_price": t.gettext("Calls are counted at {price} a minute.", price=t.money(
                prices["minutes"], currency, exact=True)) if plan.total("minutes") else None,
            "quickest": t.gettext("Sending them takes at least {span}.", span=t.span(quickest)),
            "left_out": plan.left_out_notice(t)}


@router.get("/console/rounds/{round_id}/live", response_class=HTMLResponse)
def live(round_id: RowId, runtime: RuntimeDep, cookie: SessionCookie = None) -> Response:
    """The round page's live figures alone (what its script fetches every few seconds): one
    template renders them for the page and for this, in the user's language."""
    with session_scope(runtime.database_url) as db:
        user = signed_in_user(db, cookie)
        if not in_scope(db, user, round_id):
            return not_found(user)
        status = rounds.round_status(db, round_id)
    return HTMLResponse(page("console_round_live.html", user.language, user=user,
                             round=status), headers={"Cache-Control": "no-store"})


@router.get("/console/rounds/{round_id}/results", response_class=HTMLResponse)
def results(round_id: RowId, runtime: RuntimeDep, community: str | None = None,
            cookie: SessionCookie = None) -> Response:
    """The round's results in the user's language: every figure and what people wrote for
    analysts and admins, the audited release (what may be published) for facilitators; or
    one of the user's communities in the release."""
    with session_scope(runtime.database_url) as db:
        user = signed_in_user(db, cookie)
        community = community or None
        if not in_scope(db, user, round_id) or (community and not user.sees(community)):
            return not_found(user)
        public = community is not None or user.role not in SEEING_ALL
        if public and db.get_one(Round, round_id).status != "closed" and not release.has_release(
                db, round_id):
            return forbidden(user, translator(user.language).gettext(
                "The results are released when the round closes."), 409)
        return HTMLResponse(results_html(db, round_id, public=public, lang=user.language,
                                         community=community, may_see=user.sees))


@router.post("/console/rounds/{round_id}/{action}")
def round_action(round_id: RowId, action: str, runtime: RuntimeDep,
                 csrf: Annotated[str, Form()] = "", over: Annotated[str, Form()] = "",
                 who: Annotated[str, Form()] = "all", cookie: SessionCookie = None
                 ) -> Response:
    """A facilitator's action on a round, as the CLI and the API do it; back to its page."""
    with session_scope(runtime.database_url) as db:
        user = signed_in_user(db, cookie)
        if not in_scope(db, user, round_id) or action not in DONE:
            return not_found(user)
    may_act(user, csrf)
    try:
        if action == "launch":
            with session_scope(runtime.database_url) as db:
                rounds.require_open(db, round_id, "launch")
            enqueue_launch(runtime.redis, round_id, rounds.parse_span(over) if over else None)
        elif action == "remind":
            rounds.remind(runtime.database_url, runtime.redis, round_id, enqueue_outbound,
                          who=who)
        elif action == "close":
            close_and_share(runtime.database_url, runtime.redis, round_id)
        elif action == "share":
            share(runtime.database_url, runtime.redis, round_id)
        else:
            with session_scope(runtime.database_url) as db:
                (release.publish if action == "publish" else release.unpublish)(db, round_id)
    except rounds.RoundError as error:
        return forbidden(user, error.said(translator(user.language)), 409)
    except release.NotYetReleased:
        return forbidden(user, translator(user.language).gettext(
            "The results are released when the round closes."), 409)
    return RedirectResponse(f"/console/rounds/{round_id}?done={DONE[action]}", status_code=303)


@router.get("/console/rounds/{round_id}/results.csv")
def results_csv(round_id: RowId, runtime: RuntimeDep, cookie: SessionCookie = None
                ) -> Response:
    """The round's release as a spreadsheet, for anyone who sees the round (facilitators
    too): the audited figures the public page shows, to share with partners; text defused."""
    with session_scope(runtime.database_url) as db:
        user = signed_in_user(db, cookie)
        if not in_scope(db, user, round_id):
            return not_found(user)
        try:
            cut = release.release_of(db, round_id)
        except release.NotYetReleased:
            return forbidden(user, translator(user.language).gettext(
                "The results are released when the round closes."), 409)
        survey = catalog.survey_of_round(db, db.get_one(Round, round_id))
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(release.RELEASE_COLUMNS)
        writer.writerows([defuse(cell) for cell in row] for row in release.release_rows(
            cut, survey))
    return Response(text.getvalue(), media_type=EXPORTED["csv"], headers={
        "Content-Disposition": f'attachment; filename="round-{round_id}-results.csv"'})


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORTED = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX, "jsonl": "application/x-ndjson"}


@router.get("/console/rounds/{round_id}/export.{kind}")
def export(round_id: RowId, kind: str, runtime: RuntimeDep, cookie: SessionCookie = None
           ) -> Response:
    """The round's answers for analysts and admins, as `heard export` writes them:
    pseudonymous (never an address), declared profile fields only, text defused; logged."""
    with session_scope(runtime.database_url) as db:
        user = signed_in_user(db, cookie)
        if not in_scope(db, user, round_id) or kind not in EXPORTED:
            return not_found(user)
        if user.role not in SEEING_ALL:
            return forbidden(user, translator(user.language).gettext(
                "Your role cannot do this."))
    settings = get_settings()
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - the response closes it
    try:
        plan = open_export(runtime.database_url, round_id, load_key(
            settings.pseudonym_key, settings.data_dir, runtime.database_url))
        if kind == "xlsx":
            rows = WRITERS[kind](plan, spool)
        else:
            text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
            rows = WRITERS[kind](plan, text)
            text.flush()
            text.detach()
    except (ExportError, PseudonymKeyError) as error:  # (heard export's words, in English)
        spool.close()
        return forbidden(user, str(error), 422)
    spool.seek(0)
    with session_scope(runtime.database_url) as db:
        record(db, f"console:{user.name}", export_action(False), round_id, format=kind,
               rows=rows)

    def chunks() -> Iterator[bytes]:
        with spool:
            while block := spool.read(1 << 16):
                yield block

    return StreamingResponse(chunks(), media_type=EXPORTED[kind], headers={
        "Content-Disposition": f'attachment; filename="round-{round_id}.{kind}"'})


def _done(t: Translator, done: str | None) -> str | None:
    """What the page says the user just did."""
    return {"launched": t.gettext("The invitations are being queued."),
            "reminded": t.gettext("The reminders are queued."),
            "closed": t.gettext("The round is closed; its results are on their way."),
            "shared": t.gettext("The results are queued."),
            "published": t.gettext("The results are public, at the address below."),
            "withdrawn": t.gettext("The public page is withdrawn: its address works no more.")
            }.get(done or "")


def _statuses(t: Translator) -> dict[str, str]:
    return {"scheduled": t.gettext("scheduled"), "open": t.gettext("open"),
            "closed": t.gettext("closed")}


def _round_row(round_: Round, survey: SurveyVersion, t: Translator) -> dict[str, Any]:
    return {"id": round_.id, "survey": f"{survey.survey_id} v{survey.version}",
            "community": round_.community,
            "status": _statuses(t).get(round_.status, round_.status), "code": round_.code}
