"""The HTTP ceiling: the simulator endpoint's request and response models with no I/O at all.

Served by the same uvicorn as heard, so the difference to heard's figure is heard's own work.
"""

from __future__ import annotations

from fastapi import FastAPI

from heard.routes.simulator import Accepted, SimulatedMessage

app = FastAPI()


@app.post("/api/v1/simulate", status_code=202)
def simulate(message: SimulatedMessage) -> Accepted:
    return Accepted(inbox_id=1, duplicate=False)
