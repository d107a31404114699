"""The README's quick start works as written and prints what it shows.

Every `$ ` line of the quick start's console blocks runs under bash, in order, in an empty
directory beside a `shared/upstream` link (so `../shared/upstream` is the mirror), with a fresh
HOME; the lines after it must be exactly what the command printed. `$ echo $?` checks the exit
code of the command before it; every other command must exit 0. Installing the package is the one
line skipped: tests/test_wheel.py covers it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.compiling import ROOT
from tests.running import install_shim, shell_environment
from tests.upstream import UPSTREAM, requires_upstream

SECTION = re.compile(r"^## Quick start.*?(?=^## )", re.MULTILINE | re.DOTALL)
CONSOLE = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)


def session() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for each `$ ` line of the quick start, in order."""
    section = SECTION.search((ROOT / "README.md").read_text("utf-8"))
    assert section, "README.md has no '## Quick start' section"
    steps: list[tuple[str, list[str]]] = []
    for block in CONSOLE.findall(section.group(0)):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
    return steps


def test_the_quick_start_has_the_steps_a_new_user_takes() -> None:
    commands = " ; ".join(command for command, _ in session())
    for step in ("pip install", "stackgen init", "stackgen build", "stackgen vendor", "stackgen render", "stackgen diff"):
        assert step in commands


@requires_upstream
def test_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "ml-platform"
    home.mkdir()
    work.mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "upstream").symlink_to(UPSTREAM)
    install_shim(tmp_path / "bin")
    env = shell_environment(tmp_path / "bin", home)
    steps = [(command, expected) for command, expected in session() if "pip install" not in command]
    for index, (command, expected) in enumerate(steps):
        if command == "echo $?":
            continue
        done = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=600, check=False)
        shown = _machine_neutral((done.stdout + done.stderr).replace(str(home), "~"))
        assert shown.splitlines() == [_machine_neutral(line) for line in expected], f"$ {command}\n{shown}"
        following = steps[index + 1] if index + 1 < len(steps) else None
        if following and following[0] == "echo $?":
            assert following[1] == [str(done.returncode)], f"$ {command} exited {done.returncode}, README says {following[1]}"
        else:
            assert done.returncode == 0, f"$ {command} exited {done.returncode}:\n{shown}"


def _machine_neutral(text: str) -> str:
    """The kustomize version is this machine's, not the README's."""
    return re.sub(r"kustomize v[0-9][0-9.]*", "kustomize vX", text)
