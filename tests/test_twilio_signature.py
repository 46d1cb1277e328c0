"""sms.signature accepts exactly what twilio's own RequestValidator accepts."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from sms.signature import signed_by_twilio

TOKEN = "12345678901234567890123456789012"
FORM = {"MessageSid": "SM" + "1" * 32, "From": "+254712345678", "To": "+15005550006",
        "Body": "Maji ni safi? ndiyo & hapana = 1", "NumMedia": "0", "Empty": ""}


@pytest.mark.parametrize("signed_url, checked_url", [
    ("https://heard.example.org/sms/twilio", "https://heard.example.org/sms/twilio"),
    ("https://heard.example.org:443/sms/twilio", "https://heard.example.org/sms/twilio"),
    ("https://heard.example.org/sms/twilio", "https://heard.example.org:443/sms/twilio"),
    ("http://127.0.0.1:8000/sms/twilio?x=1", "http://127.0.0.1:8000/sms/twilio?x=1"),
])
def test_a_signature_twilio_made_is_accepted_as_the_library_accepts_it(signed_url, checked_url):
    signature = RequestValidator(TOKEN).compute_signature(signed_url, FORM)
    assert RequestValidator(TOKEN).validate(checked_url, FORM, signature)
    assert signed_by_twilio(TOKEN, checked_url, FORM, signature)


@pytest.mark.parametrize("change", [
    {"Body": "Maji ni safi? hapana"}, {"From": "+254700000000"}, {"Extra": "1"}])
def test_a_changed_form_or_url_or_token_is_refused(change):
    url = "https://heard.example.org/sms/twilio"
    signature = RequestValidator(TOKEN).compute_signature(url, FORM)
    assert not signed_by_twilio(TOKEN, url, FORM | change, signature)
    assert not signed_by_twilio(TOKEN, url + "/status", FORM, signature)
    assert not signed_by_twilio("another token", url, FORM, signature)
    assert not signed_by_twilio(TOKEN, url, FORM, "")
    assert not signed_by_twilio(TOKEN, url, FORM, signature[:-2] + "==")
