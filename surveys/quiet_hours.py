"""Quiet hours: messages nobody asked for just now wait for a decent hour in the person's time.

Invitations, reminders and results (outbox rows that answer no message) are held while it is
HEARD_QUIET_HOURS where the person lives, e.g. "21-8" (21:00 to 08:00) or "21:30-07:00". Their
time zone is their own (a contact's `time_zone`, from the import), else their community's
(HEARD_COMMUNITY_TIME_ZONES), else their phone number's (phonenumbers' time-zone data, by
country and, in countries with several zones, area code: the first it names); people with
none of these (Telegram, no community zone) are not held. A reply to someone who just wrote
always goes at once.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

from surveys.channels import channel as channel_named
from surveys.settings import SettingError, get_settings

WINDOW = re.compile(r"^(\d{1,2})(?::(\d{2}))?-(\d{1,2})(?::(\d{2}))?$")


@cache
def parse_window(text: str) -> tuple[time, time]:
    """"21-8" → (21:00, 08:00); SettingError naming the variable and what it expects."""
    found = WINDOW.match(text.replace(" ", ""))
    try:
        if found is None:
            raise ValueError
        start = time(int(found[1]), int(found[2] or 0))
        end = time(int(found[3]), int(found[4] or 0))
    except ValueError:
        raise SettingError(f"HEARD_QUIET_HOURS={text!r}: expected hours from-to in the "
                           f"person's time, e.g. 21-8 or 21:30-07:00") from None
    if start == end:
        raise SettingError(f"HEARD_QUIET_HOURS={text!r}: the start and the end are the same")
    return start, end


def zone_named(name: str) -> ZoneInfo:
    """An IANA time zone ("Africa/Nairobi"); ValueError saying what is expected."""
    try:
        return _zone(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Africa/Nairobi or "
                         f"Asia/Dhaka)") from None


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone_for(channel: str, address: str, own: str | None = None,
             community: str | None = None) -> ZoneInfo | None:
    """The person's time zone: their own, their community's, their number's; or None."""
    for name in (own, community_zones().get((community or "").lower())):
        if name:
            try:
                return zone_named(name)
            except ValueError:  # stored before this machine lost that zone: go on
                pass
    return zone_of(channel, address)


def community_zones() -> dict[str, str]:
    """HEARD_COMMUNITY_TIME_ZONES as {community (lower case): zone name}."""
    return get_settings().community_time_zones


@cache
def zone_of(channel: str, address: str) -> ZoneInfo | None:
    """The person's time zone, from their number's country; None when it cannot be told."""
    if not channel_named(channel).phone_addresses:
        return None
    try:
        zones = number_zones.time_zones_for_number(phonenumbers.parse(address))
    except phonenumbers.NumberParseException:
        return None
    for name in zones:
        if name != number_zones.UNKNOWN_TIMEZONE:
            try:
                return ZoneInfo(name)
            except ZoneInfoNotFoundError:  # no tz database on this machine
                return None
    return None


def quiet_until(window: tuple[time, time], zone: ZoneInfo, now: datetime) -> datetime | None:
    """When the quiet hours around `now` end (in UTC), or None when `now` is not in them."""
    local = now.astimezone(zone)
    start, end = window
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock < end if start < end else clock >= start or clock < end
    if not inside:
        return None
    ends = datetime.combine(local.date(), end, tzinfo=zone)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(now.tzinfo)


def held_until(window_text: str | None, zone: ZoneInfo | None,
               now: datetime) -> datetime | None:
    """Until when a message nobody asked for waits (None: it goes now)."""
    if not window_text or zone is None:
        return None
    return quiet_until(parse_window(window_text), zone, now)
