"""Running documented shell lines as a user would: `stackgen` on PATH is this checkout."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from tests.compiling import ROOT


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
