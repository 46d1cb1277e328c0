"""A fast fake of Twilio's Messages API that notes the moment it accepts each send.

tests/fakes/twilio_api.py answers every part of the API a test needs, one thread and one
connection per request; a benchmark sending a thousand replies a second needs less and
faster: keep-alive connections on one asyncio loop in a thread of its own, every send
accepted (201, the message resource Twilio returns) and its sid timed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qsl

from bench.http_load import content_length
from tests.fakes.twilio_api import _resource


class TimedTwilio:
    """`accepted`: each send's sid → time.perf_counter() when its body was read."""

    def __init__(self) -> None:
        self.url = ""
        self.accepted: dict[str, float] = {}

    def start(self) -> TimedTwilio:
        """Serving, on a port of its own, from a daemon thread (it ends with the process)."""
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
            self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            ready.set()
            loop.run_forever()

        threading.Thread(target=serve, daemon=True, name="timed-twilio").start()
        ready.wait()
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                form = dict(parse_qsl((await reader.readexactly(content_length(head))).decode()))
                sid = "SM" + uuid.uuid4().hex
                self.accepted[sid] = time.perf_counter()
                body = json.dumps(_resource(form | {
                    "Sid": sid, "DateCreated": format_datetime(datetime.now(UTC), usegmt=True)})
                                  ).encode()
                writer.write(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed its connection
        finally:
            writer.close()
