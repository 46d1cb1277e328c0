"""Run every benchmark: `python -m bench [name ...]`."""

from __future__ import annotations

import sys

from bench import (
    console,
    engine_step,
    export,
    fault_drill,
    launch,
    logs,
    pacing,
    pipeline,
    summary,
    ussd,
    voice,
)

BENCHMARKS = {"engine": engine_step.main, "pipeline": pipeline.main,
              "launch": launch.main,
              "export": export.main, "summary": summary.main, "faults": fault_drill.main,
              "pacing": pacing.main, "console": console.main,
              "voice": voice.main, "ussd": ussd.main, "logs": logs.main}

if __name__ == "__main__":
    names = sys.argv[1:] or list(BENCHMARKS)
    for name in names:
        BENCHMARKS[name]()
