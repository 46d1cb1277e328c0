"""A USSD session that ended before the survey did (too slow, the network dropped) goes on.

As its round says (`rounds.ussd_continue`): "ussd", the person dials again and is asked the
next unanswered question (a session's first callback resumes: `ussd.session`); "sms", the
survey session moves at once to the person's SMS contact (the same number), which is sent
where they stopped, and their SMS replies answer it. A notice that comes again finds nothing
left to move: it changes nothing.
"""

from __future__ import annotations

import logging

from sqlalchemy import insert, select

from surveys import catalog
from surveys.database import session_scope
from surveys.engine import FINISHED, Reply, resume
from surveys.i18n import translator
from surveys.tables import Contact, OutboxMessage, Round, SurveySession, utcnow
from ussd.adapter import CHANNEL, SessionEnded
from worker.outbox import outbox_row
from worker.queues import enqueue_outbound
from worker.runtime import Runtime

log = logging.getLogger(__name__)
BY_SMS = "sms"


def continue_elsewhere(runtime: Runtime, end: SessionEnded) -> bool:
    """Move the person's unfinished survey session to SMS when its round says so; whether
    one was moved."""
    with session_scope(runtime.database_url) as db:
        found = db.execute(
            select(SurveySession, Contact).join(Contact, Contact.id == SurveySession.contact_id)
            .join(Round, Round.id == SurveySession.round_id)
            .where(Contact.channel == CHANNEL, Contact.address == end.address,
                   SurveySession.status.not_in(FINISHED), Round.ussd_continue == BY_SMS)
            .order_by(SurveySession.updated_at.desc()).limit(1).with_for_update()).first()
        if found is None:
            return False
        session, ussd_contact = found
        sms = db.scalars(select(Contact).where(Contact.channel == BY_SMS,
                                               Contact.address == end.address)).first()
        if sms is None:
            sms = Contact(channel=BY_SMS, address=end.address, language=ussd_contact.language,
                          community=ussd_contact.community, profile=ussd_contact.profile,
                          consent=ussd_contact.consent, opted_out=False)
            db.add(sms)
            db.flush()
        elif sms.opted_out or db.scalar(select(SurveySession.id).where(
                SurveySession.contact_id == sms.id,
                SurveySession.round_id == session.round_id)) is not None:
            return False  # they asked SMS to stop, or answer this round by SMS already
        survey = catalog.survey_at(db, session.survey_pk)
        if survey is None:
            return False
        session.contact_id, session.updated_at = sms.id, utcnow()
        lang = survey.language_for(session.state.get("lang"))
        t = translator(survey.words_for(lang))
        replies = [Reply(t.gettext("Your USSD session ended before the survey did. It goes "
                                   "on here: reply to this SMS."))] + resume(
            survey, session.state).replies
        ids = [db.execute(insert(OutboxMessage).values(
            outbox_row(sms.id, BY_SMS, end.address, reply, None, seq))
            .returning(OutboxMessage.id)).scalar_one() for seq, reply in enumerate(replies)]
    log.info("a USSD session that dropped goes on by SMS (session %s)", session.id)
    enqueue_outbound(runtime.redis, ids)
    return True
