"""Test helpers: run the stackgen CLI as a real process (this checkout, not an installed copy), as
`python3 -m stackgen` or as a `stackgen` command on PATH for documented shell lines, and look at an
output tree the way a reviewer would."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import typing as t
from pathlib import Path

from stackgen import write as writer
from tests.compiling import BUNDLED

ROOT = Path(__file__).resolve().parents[1]


def argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "stackgen", *args]


def environment(**extra: str) -> dict[str, str]:
    """The caller's environment with this checkout first on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra}
    return env


def run(*args: str, cwd: Path | None = None, env: t.Mapping[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv(*args), cwd=cwd or ROOT, env=dict(env or environment()), capture_output=True, text=True,
                          timeout=timeout, check=False)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root except stackgen's own bookkeeping (lock, journal, staging)."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in writer.RESERVED or not path.is_file():
            continue
        found[rel.as_posix()] = path.read_bytes()
    return found


def bookkeeping(root: Path) -> set[str]:
    return {name for name in os.listdir(root) if name in writer.RESERVED}


def lock_matches(root: Path) -> bool:
    """The lock names exactly the files present, with their digests."""
    lock = json.loads((root / writer.LOCK_NAME).read_text("utf-8"))
    files = tree(root)
    return bool(lock["files"] == {path: writer.digest(content) for path, content in files.items()})


def edited_stack(root: Path) -> Path:
    """The bundled stack with one field changed (an edge cluster's ingress host): that one
    cluster's overlays and goldens differ."""
    text = BUNDLED.read_text("utf-8")
    assert "store17.edge.acme.example.com" in text
    path = root / "b" / "stack.yaml"
    path.parent.mkdir()
    path.write_text(text.replace("store17.edge.acme.example.com", "store18.edge.acme.example.com"), "utf-8")
    return path


def install_shim(bin_dir: Path) -> None:
    """A `stackgen` command that runs `python3 -m stackgen` of this checkout (no install needed)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "stackgen"
    shim.write_text(f'#!/bin/sh\nPYTHONPATH={shlex.quote(str(ROOT))} exec {shlex.quote(sys.executable)} -m stackgen "$@"\n')
    shim.chmod(0o755)


def shell_environment(bin_dir: Path, home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without stackgen's, XDG's, git's and Python's settings, the shim first on PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("STACKGEN_", "XDG_", "GIT_", "PYTHON"))}
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", "HOME": str(home), **extra}
