"""Africa's Talking's REST API over httpx: where it is, who heard is there, one POST.

AFRICASTALKING_API_BASE_URL points it at another endpoint (a test double); unset, it is the
sandbox's for the username `sandbox` and the live API's otherwise.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx

from surveys.phone import without_numbers
from surveys.settings import Settings
from worker.senders import TransientSendError

LIVE_URL = "https://api.africastalking.com"
SANDBOX_URL = "https://api.sandbox.africastalking.com"
TIMEOUT = httpx.Timeout(15.0, connect=5.0)


def base_url(settings: Settings) -> str:
    """The API's root: as configured, else the sandbox's or the live one's by the username."""
    if settings.africastalking_api_base_url:
        return settings.africastalking_api_base_url.rstrip("/")
    return SANDBOX_URL if settings.africastalking_username == "sandbox" else LIVE_URL


def username(settings: Settings) -> str:
    """The app's username (a send waits, retried, while AT is not configured)."""
    if not (settings.africastalking_username and settings.africastalking_api_key):
        raise TransientSendError("AFRICASTALKING_USERNAME and AFRICASTALKING_API_KEY are not set")
    return settings.africastalking_username


@cache
def _client(root: str) -> httpx.Client:
    return httpx.Client(base_url=root, timeout=TIMEOUT)


def post(settings: Settings, path: str, data: dict[str, str],
         headers: dict[str, str] | None = None) -> httpx.Response:
    """POST a form to AT with the app's key; a network failure or AT's 429/5xx is a
    TransientSendError (retried later), any other answer is the caller's to read."""
    username(settings)
    try:
        response = _client(base_url(settings)).post(
            path, data=data, headers={"apiKey": settings.africastalking_api_key or "",
                                      "Accept": "application/json", **(headers or {})})
    except httpx.HTTPError as error:
        raise TransientSendError(f"Africa's Talking unreachable: {error}",
                                 code="unreachable") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientSendError(f"Africa's Talking {response.status_code}: "
                                 f"{without_numbers(response.text[:200])}",
                                 code=str(response.status_code))
    return response


def answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a successful answer; anything else (a 401 for a wrong key, a 400 naming a
    bad parameter) is retried later, as it is heard's configuration, not the person."""
    try:
        body = response.json() if response.is_success else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TransientSendError(f"Africa's Talking {response.status_code}: "
                                 f"{without_numbers(response.text[:200])}")
    return body
