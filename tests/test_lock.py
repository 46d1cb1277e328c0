"""The lock pins what was tested: it satisfies pyproject.toml, is closed, hashed and installed.

`make lock` re-resolves it after pyproject.toml changes; `make upgrade` moves every pin on purpose.
A test here fails, naming the package, whenever the two files disagree.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@cache
def pins() -> dict[str, Version]:
    """Every `name==version` of the lock, by canonical name."""
    found: dict[str, Version] = {}
    for line in LOCK.read_text().splitlines():
        if match := PIN.match(line):
            found[canonicalize_name(match["name"])] = Version(match["version"])
    return found


@cache
def hashes_per_pin() -> dict[str, int]:
    """How many hashes follow each pin (the lock's continuation lines)."""
    counts: dict[str, int] = {}
    current = ""
    for line in LOCK.read_text().splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match["name"])
            counts[current] = 0
        elif current:
            counts[current] += len(HASH.findall(line))
    return counts


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def roots() -> list[Requirement]:
    """What pyproject.toml asks for: the dependencies, the dev extra and the build backend."""
    table = project()
    declared = [*table["project"]["dependencies"],
                *table["project"]["optional-dependencies"]["dev"],
                *table["build-system"]["requires"]]
    return [Requirement(text) for text in declared]


def applies(requirement: Requirement, extras: set[str]) -> bool:
    """A requirement's marker on this interpreter, for the extras asked of its package."""
    if requirement.marker is None:
        return True
    environment = dict(default_environment())
    return any(requirement.marker.evaluate({**environment, "extra": extra})
               for extra in (extras or {""}))


def closure() -> dict[str, list[str]]:
    """Every package pyproject.toml needs here, direct or transitive, with who needs it."""
    needed: dict[str, list[str]] = {}
    queue: list[tuple[Requirement, set[str], str]] = [
        (requirement, set(), "pyproject.toml") for requirement in roots()]
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        requirement, parent_extras, parent = queue.pop()
        if not applies(requirement, parent_extras):
            continue
        name = canonicalize_name(requirement.name)
        needed.setdefault(name, []).append(f"{parent}: {requirement}")
        if (name, frozenset(requirement.extras)) in seen or name == "heard":
            continue
        seen.add((name, frozenset(requirement.extras)))
        try:
            dependencies = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # test_the_installed_environment_is_the_lock names it
        queue.extend((Requirement(text), set(requirement.extras), name) for text in dependencies)
    return needed


def test_the_lock_pins_every_requirement_of_pyproject_within_its_range():
    wanted = [(req, pins().get(canonicalize_name(req.name))) for req in roots()
              if applies(req, set())]
    unpinned = [str(req) for req, pin in wanted if pin is None]
    outside = [f"{req} but the lock has {pin}" for req, pin in wanted
               if pin is not None and not req.specifier.contains(pin, prereleases=True)]
    assert not unpinned and not outside, (
        f"pyproject.toml and requirements.lock disagree (run `make lock`): "
        f"not pinned {unpinned}, outside the range {outside}")


def test_the_lock_is_closed_over_every_transitive_requirement():
    needed = closure()
    missing = {name: why for name, why in needed.items() if name != "heard" and name not in pins()}
    assert not missing, f"needed but not locked (run `make lock`): {missing}"
    wrong = [f"{why} but the lock has {pins()[name]}" for name, whys in needed.items()
             if name in pins() for why in whys
             if not Requirement(why.split(": ", 1)[1]).specifier.contains(
                 pins()[name], prereleases=True)]
    assert not wrong, f"locked versions that their dependents refuse: {wrong}"


def test_the_lock_holds_nothing_that_nothing_needs():
    stale = sorted(set(pins()) - set(closure()))
    assert not stale, f"locked but needed by nothing (run `make lock`): {stale}"


def test_every_pin_carries_its_hashes():
    unhashed = [name for name, count in hashes_per_pin().items() if count == 0]
    assert pins() and not unhashed, f"pins without a hash (--require-hashes refuses): {unhashed}"


def test_the_lock_names_no_package_index():
    """The index is pip's own configuration on each machine, never a path written in the lock."""
    index_options = ("--index-url", "--extra-index-url", "--find-links", "-i ", "-f ")
    options = [line for line in LOCK.read_text().splitlines() if line.startswith(index_options)]
    assert not options, options


@pytest.mark.parametrize("name", sorted(pins()))
def test_the_installed_environment_is_the_lock(name):
    """`make install` installs from the lock: what runs is exactly what is pinned."""
    try:
        installed = Version(metadata.version(name))
    except metadata.PackageNotFoundError:
        pytest.fail(f"{name} is locked but not installed: run `make install`")
    assert installed == pins()[name], f"{name}: installed {installed}, locked {pins()[name]}"
