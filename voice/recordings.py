"""A spoken answer's audio, moved from Twilio into heard: fetched, kept, then deleted there.

Personal data then lives in one place, where erasure and retention reach it. The audio is
asked of Twilio's API (TWILIO_API_BASE_URL when set) at the RecordingUrl's path, so the
account's credentials go nowhere else whatever a request said. Any failure raises
`RecordingUnavailable` and the job is tried again (rq's retries, then the sweeper's), the
answer's reference staying valid meanwhile. A recording forgotten before it was fetched is
only deleted at Twilio, then its row goes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import delete, select
from twilio.base.exceptions import TwilioException, TwilioRestException

from sms.sender import configured_client
from surveys.database import session_scope
from surveys.settings import Settings, get_settings
from surveys.tables import Recording, utcnow
from worker.senders import TransientSendError

log = logging.getLogger(__name__)
TWILIO_API = "https://api.twilio.com"
FETCH_TIMEOUT = 60.0  # seconds: two minutes of 8 kHz audio is about 2 MB
NOT_THERE_YET = timedelta(days=1)  # Twilio may answer 404 just after the call; then it is gone
MAX_CONTENT_TYPE = 64


class RecordingUnavailable(Exception):
    """Twilio could not be asked now (unreachable, refused, not there yet): try again later."""


def move(database_url: str, recording_id: str) -> str:
    """Fetch the recording's audio into its row and delete it at Twilio; what was done."""
    with session_scope(database_url) as db:
        row = db.get(Recording, recording_id)
        if row is None:
            return "missing"
        sid, url = row.provider_sid, row.provider_url
        forgotten, fetched, created = row.forgotten_at is not None, row.fetched_at, row.created_at
        if row.provider_deleted_at is not None:
            return "moved"
    settings = get_settings()
    if not forgotten and fetched is None:
        found = _download(settings, url)
        if found is None:
            if utcnow() - created < NOT_THERE_YET:
                raise RecordingUnavailable(f"recording {recording_id}: not at Twilio yet")
            log.error("recording %s: Twilio has had no audio for it for a day; given up",
                      recording_id)
        with session_scope(database_url) as db:
            row = db.get(Recording, recording_id, with_for_update=True)
            if row is None:
                return "missing"
            forgotten = row.forgotten_at is not None  # (erased while it downloaded)
            if found is not None and not forgotten:
                row.audio, row.content_type = found
                row.fetched_at = utcnow()
    _delete_at_twilio(settings, sid)
    with session_scope(database_url) as db:
        if forgotten:
            db.execute(delete(Recording).where(Recording.id == recording_id))
            return "deleted"
        row = db.get(Recording, recording_id, with_for_update=True)
        if row is not None:
            row.provider_deleted_at = utcnow()
    return "moved"


def media_url(settings: Settings, provider_url: str) -> str:
    """Where the audio is asked for: the RecordingUrl's path, as WAV, on Twilio's API."""
    base = (settings.twilio_api_base_url or TWILIO_API).rstrip("/")
    return base + urlsplit(provider_url).path + ".wav"


def _download(settings: Settings, provider_url: str) -> tuple[bytes, str] | None:
    """The audio and its media type; None when Twilio has no such recording."""
    account, token = _credentials(settings)
    try:
        response = httpx.get(media_url(settings, provider_url), auth=(account, token),
                             timeout=FETCH_TIMEOUT, follow_redirects=True)
    except httpx.HTTPError as error:
        raise RecordingUnavailable(f"Twilio unreachable: {error}") from None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise RecordingUnavailable(f"Twilio answered {response.status_code} for a recording")
    kind = response.headers.get("content-type", "audio/x-wav").split(";")[0].strip()
    return response.content, kind[:MAX_CONTENT_TYPE]


def _delete_at_twilio(settings: Settings, sid: str) -> None:
    """Deleted at Twilio (already gone is as good)."""
    try:
        client = configured_client(settings)
        client.recordings(sid).delete()
    except TwilioRestException as error:
        if error.status != 404:
            raise RecordingUnavailable(f"Twilio {error.status}: {error.msg}") from None
    except (TwilioException, OSError, TransientSendError) as error:
        raise RecordingUnavailable(f"Twilio unreachable: {error}") from None


def _credentials(settings: Settings) -> tuple[str, str]:
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise RecordingUnavailable("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set")
    return settings.twilio_account_sid, settings.twilio_auth_token


def unmoved(database_url: str, older_than: timedelta, limit: int) -> list[str]:
    """Recordings still at Twilio after `older_than`: their job was lost or gave up."""
    with session_scope(database_url) as db:
        return list(db.scalars(select(Recording.id).where(
            Recording.provider_deleted_at.is_(None),
            Recording.created_at < utcnow() - older_than).order_by(Recording.created_at)
            .limit(limit)))
