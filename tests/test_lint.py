"""The habits a contributor gets for free: ruff and mypy --strict clean, as configured in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys

from tests.compiling import ROOT


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False, timeout=600)


def test_ruff_finds_nothing() -> None:
    done = _run("ruff", "check", "--no-cache", "stackgen", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_finds_nothing() -> None:
    done = _run("mypy", "--no-incremental")  # files and strictness from [tool.mypy]
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_repositorys_pre_commit_config_is_valid() -> None:
    done = subprocess.run([sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

