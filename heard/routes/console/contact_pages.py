"""The console's contacts: find a person by the number they gave (in the user's communities)
for an opt-out or an erasure request, each written to the audit log's terms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from heard.routes.console.base import RuntimeDep, SessionCookie, acting, not_found, page
from heard.routes.deps import RowId
from surveys.database import session_scope
from surveys.erasure import erase as erase_contact
from surveys.erasure import record_erasures, spellings
from surveys.i18n import translator
from surveys.settings import get_settings
from surveys.tables import Contact
from surveys.users import SignedIn

router = APIRouter(include_in_schema=False)


@router.get("/console/contacts", response_class=HTMLResponse)
def contacts_page(runtime: RuntimeDep, phone: str = "", region: str = "",
                  cookie: SessionCookie = None) -> Response:
    """Find a person by the number (or chat id) they gave, for an opt-out or an erasure
    request: only contacts of the user's communities are found."""
    with session_scope(runtime.database_url) as db:
        user = acting(db, cookie)
        found = _findable(db, user, phone, region) if phone.strip() else None
        return contacts_with(user, phone, region, found)


@router.post("/console/contacts/{contact_id}/{action}", response_class=HTMLResponse)
def contact_action(contact_id: RowId, action: str, runtime: RuntimeDep,
                   csrf: Annotated[str, Form()] = "", confirm: Annotated[str, Form()] = "",
                   cookie: SessionCookie = None) -> Response:
    """Opt a person out (heard writes to them no more), or erase their personal data once
    the user confirms; both as the person asked, both in the audit log's terms."""
    with session_scope(runtime.database_url) as db:
        user = acting(db, cookie, csrf)
        contact = db.get(Contact, contact_id)
        if contact is None or not user.sees(contact.community) or action not in (
                "opt-out", "erase") or (contact.unreachable == "erased"):
            return not_found(user)
        t = translator(user.language)
        if action == "opt-out":
            contact.opted_out = True
            return contacts_with(user, "", "", [contact], t.gettext(
                "Opted out: heard will not write to them again unless they join again."))
        if confirm != "yes":
            return contacts_with(user, "", "", [contact], confirming=contact.id)
        done = erase_contact(db, contact)
        record_erasures(db, f"console:{user.name}", [done])
        return contacts_with(user, "", "", [], t.gettext(
            "Erased: their number, profile, messages and written answers are gone; "
            "{kept} answers to closed questions stay in the results, with no way back "
            "to them.", kept=t.number(done.answers_kept)))


def _findable(db: Session, user: SignedIn, phone: str, region: str) -> list[Contact]:
    """Contacts with this address (as typed, or as E.164) in the user's communities."""
    spelled = spellings(phone, region.strip().upper() or get_settings().default_region)
    return [contact for contact in db.scalars(select(Contact).where(
        Contact.address.in_(spelled)).order_by(Contact.id)) if user.sees(contact.community)]


def contacts_with(user: SignedIn, phone: str = "", region: str = "",
                  found: list[Contact] | None = None, done: str | None = None,
                  confirming: int | None = None, problem: str | None = None,
                  status: int = 200) -> Response:
    """The contacts page: finding a person, and importing a file (with what was wrong with
    the last upload: `problem`)."""
    return HTMLResponse(page("console_contacts.html", user.language, user=user, phone=phone,
                             region=region, found=found, done=done, confirming=confirming,
                             problem=problem), status_code=status)
