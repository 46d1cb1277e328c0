"""`python -m worker.alive`: exit 0 while an rq worker of this host is registered in Redis.

A container's health check for `heard worker` (compose.yaml): rq keeps each worker's entry
alive by its heartbeat, so a hung or dead worker drops out and the container turns unhealthy.
"""

from __future__ import annotations

import socket
import sys

from rq import Worker

from worker.runtime import runtime


def alive_here() -> bool:
    """Whether a worker whose hostname is this machine's (container's) is registered."""
    host = socket.gethostname()
    return any(worker.hostname == host for worker in Worker.all(connection=runtime().redis))


if __name__ == "__main__":
    sys.exit(0 if alive_here() else 1)
