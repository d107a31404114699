"""The package as users get it: build the wheel, install it into a fresh environment, run it there.

Nothing here imports this checkout: the installed console script runs from a temporary folder,
with PYTHONPATH cleared, so a file missing from the wheel (the schema, package data) fails here
rather than on a user's machine. Building may fetch hatchling and installing fetches the
dependencies from the package index (~20 s when pip's cache is warm).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import typing as t
import zipfile
from pathlib import Path

import pytest

from tests.compiling import BUNDLED, ROOT

pytestmark = pytest.mark.slow

SCHEMA = ROOT / "schemas" / "stack.schema.json"
OVERLAYS = ROOT / "overlays"


def _run(argv: t.Sequence[str | Path], cwd: Path, env: t.Mapping[str, str] | None = None,
         timeout: int = 300) -> subprocess.CompletedProcess[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "STACKGEN_", "PIPX_", "VIRTUAL_ENV"))}
    return subprocess.run([str(a) for a in argv], cwd=cwd, env={**clean, **(env or {})}, capture_output=True,
                          check=False, timeout=timeout)


def _ok(result: subprocess.CompletedProcess[bytes]) -> subprocess.CompletedProcess[bytes]:
    assert result.returncode == 0, f"{' '.join(map(str, result.args))}: exit {result.returncode}\n{result.stdout.decode()}{result.stderr.decode()}"
    return result


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _ok(_run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", out, ROOT], cwd=out))
    [built] = out.glob("stackgen-*.whl")
    return built


def test_wheel_carries_the_package_and_its_data_and_nothing_else(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "stackgen/stack.schema.json" in names and "stackgen/cli/__init__.py" in names
    assert any(n.startswith("stackgen/compile/images-") and n.endswith(".yaml") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "golden/", "overlays/", "docs/"))]


def _check_installed(stackgen: Path, work: Path) -> None:
    """--help, schema and build through an installed console script, away from this checkout."""
    assert b"Usage: stackgen" in _ok(_run([stackgen, "--help"], cwd=work)).stdout
    assert _ok(_run([stackgen, "schema"], cwd=work)).stdout == SCHEMA.read_bytes()
    shutil.copy(BUNDLED, work / "stack.yaml")
    _ok(_run([stackgen, "build"], cwd=work))
    assert _tree(work / "overlays") == _tree(OVERLAYS)
    _ok(_run([stackgen, "build", "--check"], cwd=work))


def _venv_with(wheel: Path, venv: Path) -> None:
    """A real install, dependencies from the index; only where the index is unreachable, the
    dependencies this interpreter already has (the wheel itself is still what gets installed)."""
    _ok(_run([sys.executable, "-m", "venv", venv], cwd=venv.parent))
    if _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel], cwd=venv.parent).returncode == 0:
        return
    shutil.rmtree(venv)
    _ok(_run([sys.executable, "-m", "venv", "--system-site-packages", venv], cwd=venv.parent))
    _ok(_run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps", wheel], cwd=venv.parent))


def test_wheel_installs_into_a_fresh_venv_and_runs(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _venv_with(wheel, venv)
    python = venv / "bin" / "python"
    where = _ok(_run([python, "-c", "import stackgen; print(stackgen.__file__)"], cwd=tmp_path)).stdout.decode()
    assert where.startswith(str(venv)), where
    work = tmp_path / "work"
    work.mkdir()
    _check_installed(venv / "bin" / "stackgen", work)


@pytest.mark.skipif(shutil.which("pipx") is None, reason="pipx is not installed (pip install pipx)")
def test_wheel_installs_with_pipx(wheel: Path, tmp_path: Path) -> None:
    env = {"PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin"),
           "PIPX_MAN_DIR": str(tmp_path / "man")}
    _ok(_run(["pipx", "install", "--quiet", wheel], cwd=tmp_path, env=env))
    work = tmp_path / "work"
    work.mkdir()
    _check_installed(tmp_path / "bin" / "stackgen", work)
