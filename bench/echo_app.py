"""The HTTP ceiling: the simulator endpoint's request and response models with no I/O at all.

Served by the same uvicorn as heard, so the difference to heard's figure is heard's own work.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from heard.routes.simulator import Accepted, SimulatedMessage

app = FastAPI()


@app.post("/api/v1/simulate", status_code=202)
def simulate(message: SimulatedMessage) -> Accepted:
    return Accepted(inbox_id=1, duplicate=False)


@app.get("/live", response_class=HTMLResponse)
def live() -> HTMLResponse:
    """The console's live figures' ceiling: a small HTML table, no session, no query."""
    return HTMLResponse("<h2>People</h2><table><tr><td>3</td></tr></table>")
