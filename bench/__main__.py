"""Run every benchmark: `python -m bench [name [--option ...] ...]`, e.g.
`python -m bench growth --answers 1000000 scale --answers 1000000`."""

from __future__ import annotations

import sys
from collections.abc import Callable

from bench import (
    console,
    embedded,
    engine_step,
    export,
    fault_drill,
    growth,
    ingest,
    latency,
    launch,
    logs,
    pacing,
    pipeline,
    scale,
    summary,
    ussd,
    voice,
)

BENCHMARKS: dict[str, Callable[[], None]] = {
    "engine": engine_step.main, "pipeline": pipeline.main, "launch": launch.main,
    "export": export.main, "summary": summary.main, "faults": fault_drill.main,
    "pacing": pacing.main, "console": console.main, "voice": voice.main, "ussd": ussd.main,
    "ingest": ingest.main, "latency": latency.main, "embedded": embedded.main,
    "logs": logs.main}
WITH_OPTIONS: dict[str, Callable[[list[str]], None]] = {"growth": growth.main, "scale": scale.main}


def runs(words: list[str]) -> list[tuple[str, list[str]]]:
    """Each benchmark named with the options (and their values) that follow its name."""
    found: list[tuple[str, list[str]]] = []
    for word in words:
        if word in BENCHMARKS or word in WITH_OPTIONS:
            found.append((word, []))
        elif found and found[-1][0] in WITH_OPTIONS:
            found[-1][1].append(word)
        else:
            sys.exit(f"python -m bench: {word!r} is no benchmark ({', '.join(BENCHMARKS)}) "
                     f"nor an option of one that takes them ({', '.join(WITH_OPTIONS)})")
    return found


if __name__ == "__main__":
    for name, options in runs(sys.argv[1:]) or [(name, []) for name in
                                                [*BENCHMARKS, *WITH_OPTIONS]]:
        if name in WITH_OPTIONS:
            WITH_OPTIONS[name](options)
        else:
            BENCHMARKS[name]()
