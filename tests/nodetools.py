"""The pinned Node tools of tests/node (yaml-language-server, ajv), installed once per lock file.

`npm ci` runs into `$XDG_CACHE_HOME/stackgen-tests/node/<hash of package files>` (or under
~/.cache), never into the repository; a test session that finds it there installs nothing.
Without node and npm, or when npm cannot install (offline, registry down), the tests that need
them skip and say why.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent / "node"
_FILES = ("package.json", "package-lock.json")
_DONE = ".stackgen-installed"
NPM_TIMEOUT = 600


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stackgen-tests" / "node"


def _key() -> str:
    digest = hashlib.sha256()
    for name in _FILES:
        digest.update(name.encode() + b"\0" + (PACKAGE / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def install() -> Path:
    """The folder holding node_modules/ for the pinned package files; skips the test if impossible."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("needs node and npm on PATH to run the real yaml-language-server and ajv; absent here")
    target = _cache_root() / _key()
    if (target / _DONE).is_file():
        return target
    # Install beside the target and rename into place, so a half-done install (killed, or a
    # concurrent session) is never taken for a finished one.
    staging = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    if target.exists():  # not finished (no marker): made by hand or by an older layout
        shutil.rmtree(target)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in _FILES:
        shutil.copyfile(PACKAGE / name, staging / name)
    try:
        done = subprocess.run([npm, "ci", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], cwd=staging,
                              capture_output=True, text=True, timeout=NPM_TIMEOUT)
    except subprocess.TimeoutExpired:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.skip(f"npm ci of tests/node took over {NPM_TIMEOUT}s (offline or a slow registry?)")
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        pytest.skip(f"npm ci of tests/node failed (offline or the registry unreachable?):\n{tail}")
    (staging / _DONE).write_text("")
    try:
        staging.rename(target)
    except OSError:  # another session finished first: use its copy
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / _DONE).is_file():
            raise
    return target


def binary(root: Path, name: str) -> Path:
    return root / "node_modules" / ".bin" / name
