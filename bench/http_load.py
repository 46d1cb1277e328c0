"""A small HTTP/1.1 load generator: keep-alive connections on one asyncio loop.

Python HTTP clients cost more CPU per request than the server under test, and the benchmarks
share 2 cores with it; this one sends pre-encoded requests and reads just enough of each
response (status, Content-Length, body), so most of the CPU is left to the server.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any


def post_json(path: str, body: Any, host: str = "127.0.0.1") -> bytes:
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


async def _connection(host: str, port: int, requests: Sequence[bytes]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for request in requests:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            if status >= 300:
                raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
    finally:
        writer.close()


def run(host: str, port: int, requests: Sequence[bytes], connections: int = 32) -> float:
    """Send `requests` over `connections` keep-alive connections; requests per second."""
    parts = [requests[index::connections] for index in range(connections)]

    async def all_of_them() -> None:
        await asyncio.gather(*(_connection(host, port, part) for part in parts if part))

    began = time.perf_counter()
    asyncio.run(all_of_them())
    return len(requests) / (time.perf_counter() - began)
