"""The facilitators' web console: sign-in, sign-out, and the rounds each user may see.

Server-rendered pages (Jinja2, autoescaped) that work without JavaScript. A sign-in is a
server-side session (surveys/users.py) in an HttpOnly, SameSite=Strict cookie, Secure when
heard is served over HTTPS; every form carries a CSRF token (the session's, or before sign-in
one in a cookie of its own that the form must repeat), and a post without it is refused.
Failed sign-ins are counted in Redis per name and per address: after SIGN_IN_ATTEMPTS within
SIGN_IN_WINDOW both wait, whatever the password. Each user sees only the rounds of their
communities (admins: all). Pages are in the user's language (before sign-in: the browser's).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import tempfile
from collections.abc import Iterator
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Form, Header, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from redis import Redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from heard.routes.dashboard import TEMPLATES, direction_of, results_html
from heard.routes.deps import RowId, get_runtime
from sms.fit import MAX_SEGMENTS, max_segments
from surveys import catalog, release
from surveys.audit import export_action, record
from surveys.database import session_scope
from surveys.erasure import erase as erase_contact
from surveys.erasure import record_erasures, spellings
from surveys.exports import WRITERS, ExportError, open_export
from surveys.i18n import Translator, language_name, shipped_languages, translator
from surveys.pseudonym import PseudonymKeyError, load_key
from surveys.settings import get_settings
from surveys.tables import ApiToken, Contact, Round, SurveyVersion, User, utcnow
from surveys.tokens import ROLES, create_token
from surveys.users import (
    SESSION_HOURS,
    SignedIn,
    authenticate,
    end_session,
    folded,
    signed_in,
    start_session,
)
from surveys.validation import SurveyError, parse_survey
from worker import rounds
from worker.queues import enqueue_launch, enqueue_outbound
from worker.runtime import Runtime
from worker.share import close_and_share, share

router = APIRouter(include_in_schema=False)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SESSION_COOKIE = "heard_console"
FORM_COOKIE = "heard_form"  # before sign-in: the CSRF token the sign-in form must repeat
SIGN_IN_ATTEMPTS = 5
SIGN_IN_WINDOW = 15 * 60  # seconds
ACTING = ("facilitator", "admin")  # who may launch, remind, close and share
SEEING_ALL = ("analyst", "admin")  # who see every figure; facilitators see the release


class Refused(Exception):
    """A console request that gets another page: the sign-in, or a refusal (app.py answers
    with `response`), so each route states what it needs in one line."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def refused(request: Request, error: Exception) -> Response:
    """The page a Refused carries (registered on the app as its exception handler)."""
    assert isinstance(error, Refused)
    return error.response


def _signed_in(db: Session, cookie: str | None) -> SignedIn:
    """Who the cookie signs in; else to the sign-in page."""
    user = signed_in(db, cookie)
    if user is None:
        raise Refused(RedirectResponse("/console/sign-in", status_code=303))
    return user


def _acting(db: Session, cookie: str | None, csrf: str | None = None) -> SignedIn:
    """A signed-in facilitator or admin, posting the session's CSRF token when `csrf` is
    given; else a refusal."""
    return _may_act(_signed_in(db, cookie), csrf)


def _may_act(user: SignedIn, csrf: str | None) -> SignedIn:
    """`user`, if a facilitator or admin posting the session's CSRF token (when `csrf` is
    given); else a refusal."""
    if user.role not in ACTING or (csrf is not None and not _posted_by(user, csrf)):
        raise Refused(_forbidden(user))
    return user


def _posted_by(user: SignedIn, csrf: str) -> bool:
    """Whether a form carries the session's CSRF token (compared in constant time)."""
    return hmac.compare_digest(user.csrf, csrf)


@router.get("/")
def home() -> Response:
    """The console is heard's front page."""
    return RedirectResponse("/console", status_code=303)


@router.get("/console", response_class=HTMLResponse)
def console(runtime: RuntimeDep, cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)]
            = None) -> Response:
    with session_scope(runtime.database_url) as db:
        user = _signed_in(db, cookie)
        rows = db.execute(select(Round, SurveyVersion)
                          .join(SurveyVersion, SurveyVersion.id == Round.survey_pk)
                          .order_by(Round.id.desc())).all()
        t = translator(user.language)
        shown = [_round_row(round_, survey, t) for round_, survey in rows
                 if user.sees(round_.community)]
        surveys = sorted(set(db.scalars(select(SurveyVersion.survey_id))))
    return HTMLResponse(_page("console_home.html", user.language, user=user, rounds=shown,
                              surveys=surveys, acts=user.role in ACTING))


@router.post("/console/rounds")
def new_round(runtime: RuntimeDep, csrf: Annotated[str, Form()] = "",
              survey: Annotated[str, Form()] = "", community: Annotated[str, Form()] = "",
              opens: Annotated[str, Form()] = "", closes: Annotated[str, Form()] = "",
              remind_after: Annotated[str, Form()] = "",
              cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None) -> Response:
    """A new round of a survey's latest version, for one of the user's communities."""
    with session_scope(runtime.database_url) as db:
        user = _acting(db, cookie, csrf)
        t = translator(user.language)
        target = community.strip().lower() or None
        row = catalog.latest(db, survey)
        if row is None:
            return _forbidden(user, t.gettext("Choose a survey."), 422)
        if not user.sees(target):
            return _forbidden(user, t.gettext("Choose one of your communities."), 422)
        try:
            made = rounds.create_round(db, row, target, rounds.parse_moment(opens, "opens"),
                                       rounds.parse_moment(closes, "closes"),
                                       rounds.parse_hours(remind_after))
        except rounds.RoundError as error:  # (the CLI's and the API's words, in English)
            return _forbidden(user, str(error), 422)
        round_id = made.id
    return RedirectResponse(f"/console/rounds/{round_id}", status_code=303)


@router.get("/console/sign-in", response_class=HTMLResponse)
def sign_in_page(accept_language: Annotated[str | None, Header()] = None,
                 form_token: Annotated[str | None, Cookie(alias=FORM_COOKIE)] = None
                 ) -> Response:
    return _sign_in(_browser_language(accept_language), form_token)


@router.post("/console/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, runtime: RuntimeDep, name: Annotated[str, Form()] = "",
            password: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "",
            accept_language: Annotated[str | None, Header()] = None,
            form_token: Annotated[str | None, Cookie(alias=FORM_COOKIE)] = None) -> Response:
    lang = _browser_language(accept_language)
    t = translator(lang)
    if not form_token or not hmac.compare_digest(form_token, csrf):
        return _sign_in(lang, form_token, 403,
                        t.gettext("This form has expired. Please sign in again."))
    keys = _attempt_keys(name, request.client.host if request.client else "")
    if _too_many(runtime.redis, keys):
        return _sign_in(lang, form_token, 429, t.gettext(
            "Too many failed sign-ins. Please wait {minutes} minutes and try again.",
            minutes=t.number(SIGN_IN_WINDOW // 60)))
    with session_scope(runtime.database_url) as db:
        user = authenticate(db, name, password)
        cookie = start_session(db, user) if user is not None else None
    if cookie is None:
        _count_failure(runtime.redis, keys)
        return _sign_in(lang, form_token, 401, t.gettext("Wrong name or password."))
    runtime.redis.delete(keys[0])  # the name's count; the address's runs out by itself
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_HOURS * 3600, httponly=True,
                        samesite="strict", secure=_secure(), path="/")
    response.delete_cookie(FORM_COOKIE, path="/console")
    return response


@router.post("/console/sign-out")
def sign_out(runtime: RuntimeDep, csrf: Annotated[str, Form()] = "",
             cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None) -> Response:
    with session_scope(runtime.database_url) as db:
        user = _signed_in(db, cookie)
        if not _posted_by(user, csrf):
            return _forbidden(user)
        end_session(db, cookie)
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/console/language")
def choose_language(runtime: RuntimeDep, csrf: Annotated[str, Form()] = "",
                    lang: Annotated[str, Form()] = "", back: Annotated[str, Form()] = "",
                    cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None
                    ) -> Response:
    """The console's language for this user, from now on (one of heard's catalogs)."""
    with session_scope(runtime.database_url) as db:
        user = _signed_in(db, cookie)
        if not _posted_by(user, csrf) or lang not in shipped_languages():
            return _forbidden(user)
        db.execute(update(User).where(User.id == user.user_id).values(language=lang))
    here = back if back.startswith("/console") and "//" not in back else "/console"
    return RedirectResponse(here, status_code=303)


DONE = {"launch": "launched", "remind": "reminded", "close": "closed", "share": "shared",
        "publish": "published", "unpublish": "withdrawn"}


@router.get("/console/rounds/{round_id}", response_class=HTMLResponse)
def round_page(round_id: RowId, runtime: RuntimeDep, done: str | None = None,
               cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None) -> Response:
    """A round: who was invited, started, finished or opted out, by language and channel;
    what did not arrive; SMS spent against the estimate; what a launch would send; and the
    facilitator's actions (launch, remind, close, share)."""
    with session_scope(runtime.database_url) as db:
        user = _signed_in(db, cookie)
        if not _in_scope(db, user, round_id):
            return _not_found(user)
        status = rounds.round_status(db, round_id)
        plan = rounds.plan_launch(db, round_id) if status.status == "open" else None
        public = release.public_path(db.get_one(Round, round_id))
    t = translator(user.language)
    return HTMLResponse(_page(
        "console_round.html", user.language, user=user, round=status, plan=plan,
        acts=user.role in ACTING, sees_all=user.role in SEEING_ALL, done=_done(t, done),
        status_word=_statuses(t).get(status.status, status.status), public=public))


@router.get("/console/rounds/{round_id}/results", response_class=HTMLResponse)
def results(round_id: RowId, runtime: RuntimeDep,
            cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None) -> Response:
    """The round's results in the user's language: every figure and what people wrote for
    analysts and admins, the audited release (what may be published) for facilitators."""
    with session_scope(runtime.database_url) as db:
        user = _signed_in(db, cookie)
        if not _in_scope(db, user, round_id):
            return _not_found(user)
        return HTMLResponse(results_html(db, round_id, public=user.role not in SEEING_ALL,
                                         lang=user.language))


@router.post("/console/rounds/{round_id}/{action}")
def round_action(round_id: RowId, action: str, runtime: RuntimeDep,
                 csrf: Annotated[str, Form()] = "", over: Annotated[str, Form()] = "",
                 who: Annotated[str, Form()] = "all",
                 cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None
                 ) -> Response:
    """A facilitator's action on a round, as the CLI and the API do it; back to its page."""
    with session_scope(runtime.database_url) as db:
        user = _signed_in(db, cookie)
        if not _in_scope(db, user, round_id) or action not in DONE:
            return _not_found(user)
    _may_act(user, csrf)
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
    except rounds.RoundError as error:  # (its words are the CLI's and the API's, in English)
        return _forbidden(user, str(error), 409)
    return RedirectResponse(f"/console/rounds/{round_id}?done={DONE[action]}", status_code=303)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORTED = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX, "jsonl": "application/x-ndjson"}


@router.get("/console/rounds/{round_id}/export.{kind}")
def export(round_id: RowId, kind: str, runtime: RuntimeDep,
           cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None) -> Response:
    """The round's answers for analysts and admins, as `heard export` writes them:
    pseudonymous (never an address), declared profile fields only, text defused; logged."""
    with session_scope(runtime.database_url) as db:
        user = _signed_in(db, cookie)
        if not _in_scope(db, user, round_id) or kind not in EXPORTED:
            return _not_found(user)
        if user.role not in SEEING_ALL:
            return _forbidden(user, translator(user.language).gettext(
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
        return _forbidden(user, str(error), 422)
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


@router.get("/console/surveys", response_class=HTMLResponse)
def surveys_page(runtime: RuntimeDep, cookie: Annotated[str | None, Cookie(
        alias=SESSION_COOKIE)] = None) -> Response:
    """Every survey and its versions, and a form to upload one."""
    with session_scope(runtime.database_url) as db:
        user = _signed_in(db, cookie)
        return _surveys(db, user)


@router.post("/console/surveys", response_class=HTMLResponse)
async def upload_survey(request: Request, runtime: RuntimeDep,
                        cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None
                        ) -> Response:
    """A survey YAML file, validated as `heard survey validate` does: stored as a version, or
    every problem at its line and column; then what its messages cost by SMS per language."""
    form = await request.form()
    upload, csrf = form.get("file"), str(form.get("csrf") or "")
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    name = (upload.filename if isinstance(upload, UploadFile) else None) or "upload.yaml"
    with session_scope(runtime.database_url) as db:
        user = _acting(db, cookie, csrf)
        t = translator(user.language)
        try:
            survey = parse_survey(data.decode("utf-8-sig"), name)
        except UnicodeDecodeError:
            return _surveys(db, user, problems=[t.gettext(
                "{file} is not UTF-8 text: save it as UTF-8 and upload it again.", file=name)],
                status=422)
        except SurveyError as error:
            return _surveys(db, user, problems=[str(problem) for problem in error.problems],
                            status=422)
        row = catalog.register(db, survey)
        stored = {"survey": row.survey_id, "version": row.version,
                  "segments": max_segments(survey), "most": MAX_SEGMENTS}
        return _surveys(db, user, stored=stored)


def _surveys(db: Session, user: SignedIn, problems: list[str] | None = None,
             stored: dict[str, Any] | None = None, status: int = 200) -> Response:
    """The surveys page: each survey's versions, newest first; what the last upload did."""
    versions: dict[str, list[int]] = {}
    for survey_id, version in db.execute(select(SurveyVersion.survey_id, SurveyVersion.version)
                                         .order_by(SurveyVersion.survey_id,
                                                   SurveyVersion.version.desc())):
        versions.setdefault(survey_id, []).append(version)
    return HTMLResponse(_page("console_surveys.html", user.language, user=user,
                              versions=versions, problems=problems, stored=stored,
                              acts=user.role in ACTING), status_code=status)


@router.get("/console/contacts", response_class=HTMLResponse)
def contacts_page(runtime: RuntimeDep, phone: str = "", region: str = "",
                  cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None
                  ) -> Response:
    """Find a person by the number (or chat id) they gave, for an opt-out or an erasure
    request: only contacts of the user's communities are found."""
    with session_scope(runtime.database_url) as db:
        user = _acting(db, cookie)
        found = _findable(db, user, phone, region) if phone.strip() else None
        return _contacts(user, phone, region, found)


@router.post("/console/contacts/{contact_id}/{action}", response_class=HTMLResponse)
def contact_action(contact_id: RowId, action: str, runtime: RuntimeDep,
                   csrf: Annotated[str, Form()] = "", confirm: Annotated[str, Form()] = "",
                   cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None
                   ) -> Response:
    """Opt a person out (heard writes to them no more), or erase their personal data once
    the user confirms; both as the person asked, both in the audit log's terms."""
    with session_scope(runtime.database_url) as db:
        user = _acting(db, cookie, csrf)
        contact = db.get(Contact, contact_id)
        if contact is None or not user.sees(contact.community) or action not in (
                "opt-out", "erase") or (contact.unreachable == "erased"):
            return _not_found(user)
        t = translator(user.language)
        if action == "opt-out":
            contact.opted_out = True
            return _contacts(user, "", "", [contact], t.gettext(
                "Opted out: heard will not write to them again unless they join again."))
        if confirm != "yes":
            return _contacts(user, "", "", [contact], confirming=contact.id)
        done = erase_contact(db, contact)
        record_erasures(db, f"console:{user.name}", [done])
        return _contacts(user, "", "", [], t.gettext(
            "Erased: their number, profile, messages and written answers are gone; "
            "{kept} answers to closed questions stay in the results, with no way back "
            "to them.", kept=t.number(done.answers_kept)))


@router.get("/console/tokens", response_class=HTMLResponse)
def tokens_page(runtime: RuntimeDep, cookie: Annotated[str | None, Cookie(
        alias=SESSION_COOKIE)] = None) -> Response:
    """The API tokens (admins only): who or what each is for, its role and communities."""
    with session_scope(runtime.database_url) as db:
        return _tokens(db, _admin(db, cookie))


@router.post("/console/tokens", response_class=HTMLResponse)
def new_token(runtime: RuntimeDep, csrf: Annotated[str, Form()] = "",
              name: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "",
              communities: Annotated[str, Form()] = "",
              cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None) -> Response:
    """A new token, shown once on the page that answers (only its hash is kept)."""
    with session_scope(runtime.database_url) as db:
        user = _admin(db, cookie, csrf)
        if role not in ROLES:
            return _tokens(db, user, status=422)
        token = create_token(db, role, name.strip() or role, communities.split(","))
        return _tokens(db, user, shown=token)


@router.post("/console/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke_token(token_id: RowId, runtime: RuntimeDep, csrf: Annotated[str, Form()] = "",
                 cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None
                 ) -> Response:
    """The token stops working at once, for good."""
    with session_scope(runtime.database_url) as db:
        user = _admin(db, cookie, csrf)
        row = db.get(ApiToken, token_id)
        if row is None:
            return _not_found(user)
        row.revoked_at = row.revoked_at or utcnow()
        return _tokens(db, user)


def _admin(db: Session, cookie: str | None, csrf: str | None = None) -> SignedIn:
    """A signed-in admin (posting the session's CSRF token when `csrf` is given)."""
    user = _acting(db, cookie, csrf)
    if user.role != "admin":
        raise Refused(_forbidden(user, translator(user.language).gettext(
            "Your role cannot do this.")))
    return user


def _tokens(db: Session, user: SignedIn, shown: str | None = None,
            status: int = 200) -> Response:
    rows = db.scalars(select(ApiToken).order_by(ApiToken.id.desc())).all()
    return HTMLResponse(_page("console_tokens.html", user.language, user=user, tokens=rows,
                              shown=shown, roles=ROLES), status_code=status)


def _findable(db: Session, user: SignedIn, phone: str, region: str) -> list[Contact]:
    """Contacts with this address (as typed, or as E.164) in the user's communities."""
    spelled = spellings(phone, region.strip().upper() or get_settings().default_region)
    return [contact for contact in db.scalars(select(Contact).where(
        Contact.address.in_(spelled)).order_by(Contact.id)) if user.sees(contact.community)]


def _contacts(user: SignedIn, phone: str, region: str, found: list[Contact] | None,
              done: str | None = None, confirming: int | None = None) -> Response:
    return HTMLResponse(_page("console_contacts.html", user.language, user=user, phone=phone,
                              region=region, found=found, done=done, confirming=confirming))


def _in_scope(db: Session, user: SignedIn, round_id: int) -> bool:
    """Whether the round exists and is of one of the user's communities."""
    round_ = db.get(Round, round_id)
    return round_ is not None and user.sees(round_.community)


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


def _not_found(user: SignedIn) -> Response:
    """A round the user may not see is one that does not exist, for them."""
    problem = translator(user.language).gettext("No such round in your communities.")
    return HTMLResponse(_page("console_home.html", user.language, user=user, rounds=[],
                              problem=problem), status_code=404)


def _round_row(round_: Round, survey: SurveyVersion, t: Translator) -> dict[str, Any]:
    return {"id": round_.id, "survey": f"{survey.survey_id} v{survey.version}",
            "community": round_.community,
            "status": _statuses(t).get(round_.status, round_.status), "code": round_.code}


def _sign_in(lang: str, form_token: str | None, status: int = 200,
             problem: str | None = None) -> Response:
    """The sign-in page (with a CSRF token its form repeats), and why the last try failed
    (`problem`, in `lang`)."""
    token = form_token or secrets.token_urlsafe(32)
    response = HTMLResponse(_page("console_sign_in.html", lang, csrf=token, problem=problem),
                            status_code=status)
    response.set_cookie(FORM_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=_secure(), path="/console")
    return response


def _forbidden(user: SignedIn, problem: str | None = None, status: int = 403) -> Response:
    """A post refused: a form without the session's token, a role that may not, or why the
    round cannot (`problem`)."""
    t = translator(user.language)
    if problem is None:
        problem = (t.gettext("This form has expired. Please try again.")
                   if user.role in ACTING else t.gettext("Your role cannot do this."))
    return HTMLResponse(_page("console_home.html", user.language, user=user, rounds=[],
                              problem=problem), status_code=status)


def _page(template: str, lang: str, **context: Any) -> str:
    """A console page in `lang`: heard's words through its catalogs; the languages a user
    may choose, each in its own name."""
    t = translator(lang)
    return TEMPLATES.get_template(template).render(
        _=t.gettext, number=t.number, lang=lang, direction=direction_of(lang),
        languages=_languages(), **context)


@cache
def _languages() -> list[tuple[str, str]]:
    return [(code, language_name(code, code)) for code in shipped_languages()]


def _browser_language(header: str | None) -> str:
    """The first of the browser's languages heard's console speaks, else English."""
    shipped = set(shipped_languages())
    for part in (header or "").split(","):
        code = part.split(";")[0].strip().lower().replace("_", "-")
        for candidate in (code, code.split("-")[0]):
            if candidate in shipped:
                return candidate
    return "en"


def _secure() -> bool:
    """Cookies only over HTTPS where heard is served over HTTPS (not on a laptop's http)."""
    return get_settings().public_base_url.startswith("https://")


def _attempt_keys(name: str, address: str) -> tuple[str, str]:
    """Redis keys counting failed sign-ins, per name and per address (hashed: no names kept)."""
    def key(kind: str, value: str) -> str:
        return f"heard:sign-in:{kind}:{hashlib.blake2b(value.encode(), digest_size=12).hexdigest()}"

    return key("name", folded(name)), key("address", address)


def _too_many(redis: Redis, keys: tuple[str, str]) -> bool:
    return any(int(count or 0) >= SIGN_IN_ATTEMPTS for count in redis.mget(keys))


def _count_failure(redis: Redis, keys: tuple[str, str]) -> None:
    with redis.pipeline() as pipe:
        for key in keys:
            pipe.incr(key)
            pipe.expire(key, SIGN_IN_WINDOW)
        pipe.execute()
