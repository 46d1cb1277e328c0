"""Which language to speak to a Telegram chat when heard writes outside the engine."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.tables import Contact, SurveySession


def chat_language(db: Session, channel: str, address: str, telegram_code: str | None = None
                  ) -> str:
    """The language of the contact's latest survey session, else the contact's, else the
    language the person's Telegram app uses (`from.language_code`), else English."""
    contact = db.execute(select(Contact.id, Contact.language)
                         .where(Contact.channel == channel, Contact.address == address)).first()
    if contact is not None:
        state = db.scalar(select(SurveySession.state)
                          .where(SurveySession.contact_id == contact.id)
                          .order_by(SurveySession.id.desc()).limit(1))
        language = (state or {}).get("lang") if isinstance(state, dict) else None
        if language or contact.language:
            return str(language or contact.language)
    if telegram_code:
        return telegram_code.replace("-", "_").split("_")[0].lower()
    return "en"
