"""The HTTP ceiling: the simulator endpoint's request and response models with no I/O at all.

Served by the same uvicorn as heard, so the difference to heard's figure is heard's own work.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse

from heard.routes.simulator import Accepted, SimulatedMessage
from voice.render import Voice, gathering

app = FastAPI()
QUESTION_TWIML = gathering(["Where do you get water?", "Press 1 for Tap at home.",
                            "Press 2 for Public well.", "Press 3 for Other."], Voice("en-US"),
                           "http://127.0.0.1/voice/twilio?step=3", one_key=True,
                           silence="http://127.0.0.1/voice/twilio?step=3&silent=1")

QUESTION_SCREEN = "CON Where do you get water?\n1 Tap at home\n2 Public well\n3 Other\n0 Back"


@app.post("/api/v1/simulate", status_code=202)
def simulate(message: SimulatedMessage) -> Accepted:
    return Accepted(inbox_id=1, duplicate=False)


@app.get("/live", response_class=HTMLResponse)
def live() -> HTMLResponse:
    """The console's live figures' ceiling: a small HTML table, no session, no query."""
    return HTMLResponse("<h2>People</h2><table><tr><td>3</td></tr></table>")


@app.post("/ussd/africastalking/{secret}")
async def ussd(request: Request) -> Response:
    """The USSD callback's ceiling: its form read as heard reads it, a question's screen."""
    dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    return Response(QUESTION_SCREEN, media_type="text/plain; charset=utf-8")


@app.post("/voice/twilio")
async def voice(request: Request) -> Response:
    """The voice webhook's ceiling: its form read as heard reads it, a question's TwiML."""
    dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    return Response(QUESTION_TWIML, media_type="text/xml")
