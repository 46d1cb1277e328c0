"""Uninstall from this venv every package heard does not need at run time (the lock's dev tools).

The container image installs requirements.lock whole (`pip install --require-hashes`: exactly
what the tests ran on), then runs this with the venv's python, so the image carries no test
runner, browser driver or linter. What heard needs is walked from pyproject.toml's
dependencies through each installed package's own requirements, extras and markers included.

    /opt/heard/bin/python scripts/runtime_only.py pyproject.toml
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

KEEP = {"pip", "setuptools", "wheel"}  # to install heard itself (editable) afterwards


def needed(roots: list[str]) -> set[str]:
    """The canonical names of `roots` and of everything they require, transitively."""
    found: set[str] = set()
    waiting = [(Requirement(root), frozenset[str]()) for root in roots]
    while waiting:
        requirement, _ = waiting.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        extras = frozenset(requirement.extras)
        key = name + "[" + ",".join(sorted(extras)) + "]"
        if key in found:
            continue
        found.add(key)
        for child in metadata.requires(requirement.name) or []:
            parsed = Requirement(child)
            if parsed.marker is None or any(parsed.marker.evaluate({"extra": extra})
                                            for extra in ("", *extras)):
                parsed.marker = None
                waiting.append((parsed, extras))
    return {key.split("[", 1)[0] for key in found}


def main(pyproject: str) -> None:
    with open(pyproject, "rb") as handle:
        roots = tomllib.load(handle)["project"]["dependencies"]
    keep = needed(roots) | KEEP
    installed = {canonicalize_name(dist.metadata["Name"]) for dist in metadata.distributions()}
    extra = sorted(installed - keep)
    if extra:
        print("not needed at run time:", " ".join(extra))
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--yes", *extra], check=True)


if __name__ == "__main__":
    main(sys.argv[1])
