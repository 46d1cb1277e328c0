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
    """Each benchmark named with the options (and their values) that follow its name; an
    option's value is its own even where it names a benchmark (`scale --skip export`)."""
    found: list[tuple[str, list[str]]] = []
    for word in words:
        options = found[-1][1] if found and found[-1][0] in WITH_OPTIONS else None
        a_value = options is not None and bool(options) and options[-1].startswith("--") \
            and "=" not in options[-1] and options[-1] not in ("--help", "-h")
        if (word in BENCHMARKS or word in WITH_OPTIONS) and not a_value:
            found.append((word, []))
        elif options is not None:
            options.append(word)
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
