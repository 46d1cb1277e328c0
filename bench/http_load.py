"""A small HTTP/1.1 load generator: keep-alive connections on one asyncio loop.

Python HTTP clients cost more CPU per request than the server under test, and the benchmarks
share 2 cores with it; this one sends pre-encoded requests and reads just enough of each
response (status, Content-Length, body), so most of the CPU is left to the server.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode


def post_json(path: str, body: Any, host: str = "127.0.0.1") -> bytes:
    return _post(path, "application/json", json.dumps(body).encode(), {}, host)


def post_form(path: str, fields: dict[str, str], headers: dict[str, str],
              host: str = "127.0.0.1") -> bytes:
    """A form POST, as Twilio sends its webhooks (`headers` carries the signature)."""
    return _post(path, "application/x-www-form-urlencoded", urlencode(fields).encode(), headers,
                 host)


def get(path: str, headers: dict[str, str], host: str = "127.0.0.1") -> bytes:
    """A GET, as a browser polls a page (`headers` carries its cookie)."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


def _post(path: str, content_type: str, data: bytes, headers: dict[str, str],
          host: str) -> bytes:
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
            f"{extra}Content-Length: {len(data)}\r\n\r\n").encode() + data


async def _connection(host: str, port: int, requests: Sequence[bytes]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for request in requests:
            writer.write(request)
            await _response(reader)
    finally:
        writer.close()


async def _response(reader: asyncio.StreamReader) -> bytes:
    """The body of the next response; RuntimeError for a status of 300 or more."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    body = await reader.readexactly(content_length(head))
    if status >= 300:
        raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
    return body


def content_length(head: bytes) -> int:
    """The Content-Length of a request's or response's head (0 when it has none)."""
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            return int(line[15:])
    return 0


def run(host: str, port: int, requests: Sequence[bytes], connections: int = 32) -> float:
    """Send `requests` over `connections` keep-alive connections; requests per second."""
    parts = [requests[index::connections] for index in range(connections)]

    async def all_of_them() -> None:
        await asyncio.gather(*(_connection(host, port, part) for part in parts if part))

    began = time.perf_counter()
    asyncio.run(all_of_them())
    return len(requests) / (time.perf_counter() - began)


IDLE_SECONDS = 4  # uvicorn closes a keep-alive connection idle for 5 s


class _KeptAlive:
    """A keep-alive connection, opened again where the server closed it (or soon would)."""

    def __init__(self, host: str, port: int, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.host, self.port, self.reader, self.writer = host, port, reader, writer
        self.last = time.perf_counter()

    @classmethod
    async def opened(cls, host: str, port: int) -> _KeptAlive:
        return cls(host, port, *await asyncio.open_connection(host, port))

    async def answered(self, request: bytes) -> float:
        """`request` sent and its response read: when (time.perf_counter())."""
        if self.reader.at_eof() or time.perf_counter() - self.last > IDLE_SECONDS:
            self.writer.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(request)
        await _response(self.reader)
        self.last = time.perf_counter()
        return self.last

    def close(self) -> None:
        self.writer.close()


def run_sequences(host: str, port: int, sequences: Sequence[Sequence[bytes]],
                  connections: int, rate: float | None = None) -> tuple[float, list[float]]:
    """Each sequence (one caller's requests, in order, each sent once the last is answered)
    on one of `connections` keep-alive connections, at most `rate` requests per second in all
    (None: as fast as they are answered); (requests per second, each response time in s, a
    new connection's set-up included where one was idle long enough for the server to close
    it)."""
    waiting = list(reversed(sequences))
    times: list[float] = []
    slots = iter(range(sum(len(sequence) for sequence in sequences)))

    async def caller() -> None:
        connection = await _KeptAlive.opened(host, port)
        try:
            while waiting:
                for request in waiting.pop():
                    if rate is not None:  # the request's slot in one schedule for all
                        await asyncio.sleep(began + next(slots) / rate - time.perf_counter())
                    sent = time.perf_counter()
                    times.append(await connection.answered(request) - sent)
        finally:
            connection.close()

    async def all_of_them() -> None:
        await asyncio.gather(*(caller() for _ in range(connections)))

    began = time.perf_counter()
    asyncio.run(all_of_them())
    return len(times) / (time.perf_counter() - began), times


def run_timed(host: str, port: int, timed: Sequence[tuple[float, bytes]],
              connections: int) -> tuple[float, float, list[float]]:
    """Each (offset in s, request) sent at its offset from the start, in that order, on the
    first of `connections` keep-alive connections free (open loop: a late answer delays no
    later request while a connection is free); (the start, as time.perf_counter(), the most a
    request left late, each response time in s counted from its offset)."""
    pending = iter(timed)
    times: list[float] = []
    latest = 0.0

    async def connection() -> None:
        nonlocal latest
        kept = await _KeptAlive.opened(host, port)
        try:
            for offset, request in pending:
                due = began + offset
                await asyncio.sleep(due - time.perf_counter())
                latest = max(latest, time.perf_counter() - due)
                times.append(await kept.answered(request) - due)
        finally:
            kept.close()

    async def all_of_them() -> None:
        await asyncio.gather(*(connection() for _ in range(connections)))

    began = time.perf_counter() + 0.5  # the connections open first
    asyncio.run(all_of_them())
    return began, latest, times


def server_pid(port: int) -> int:
    """The `heard serve` (or bare uvicorn) process listening on `port` (Linux /proc)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if (b"serve" in words or b"uvicorn" in words) and str(port).encode() in words:
            return int(cmdline.parent.name)
    raise LookupError(f"no heard serve on port {port}")


def percentile(times: list[float], which: int) -> float:
    return statistics.quantiles(times, n=100)[which - 1] if len(times) > 1 else times[0]
