"""Vendor files of one npm package release (`make vendor`): nothing of heard loads from a CDN.

Usage: python scripts/vendor_npm.py PACKAGE VERSION INTEGRITY DESTINATION FILE...

The tarball comes from the npm registry and is refused unless its sha512 matches INTEGRITY
(`npm view PACKAGE@VERSION dist.integrity`), so a release cannot change under a pinned version.
The named files of its package/ folder are written to DESTINATION, with a SOURCE note saying
where they came from.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"


def tarball_url(package: str, version: str) -> str:
    """Where the registry keeps a release (a scoped name's tarball drops the scope)."""
    return f"{REGISTRY}/{package}/-/{package.rsplit('/', 1)[-1]}-{version}.tgz"


def integrity_of(data: bytes) -> str:
    """The Subresource Integrity form npm publishes (dist.integrity)."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def vendor(package: str, version: str, integrity: str, destination: Path,
           names: list[str]) -> None:
    """Fetch the release, check it is the pinned one, extract the named files."""
    url = tarball_url(package, version)
    with urllib.request.urlopen(url) as response:
        data = response.read()
    got = integrity_of(data)
    if got != integrity:
        sys.exit(f"{package} {version}: integrity mismatch: pinned {integrity}, got {got}")
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        manifest = archive.extractfile("package/package.json")
        license_name = json.load(manifest).get("license", "see LICENSE") if manifest else "?"
        for name in names:
            member = archive.extractfile(f"package/{name}")
            if member is None:
                sys.exit(f"{package} {version}: no file package/{name} in {url}")
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            (destination / name).write_bytes(member.read())
    (destination / "SOURCE").write_text(
        f"{package} {version} from the npm registry, as published ({license_name}, see "
        f"LICENSE):\n{url}\n"
        f"integrity {integrity}\nFiles kept: {', '.join(names)}.\n"
        "Upgrade on purpose with `make vendor` (the Makefile pins the version and its "
        "integrity).\n", encoding="utf-8")
    print(f"{package} {version} -> {destination}: {', '.join(names)}")


if __name__ == "__main__":
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    package, version, integrity, destination, *names = sys.argv[1:]
    vendor(package, version, integrity, Path(destination), names)
