"""Determinism matrix: the same stack gives the same bytes whatever the hash seed, locale, working
directory, umask or file system, and generated files get the modes any other file would.

The mode rule: generated files are 0666 and directories 0777, both masked by the umask of the run
(0644/0755 under the usual 022), like files a person creates; they are committed to git, so a
private 0600 would be a defect.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from stackgen import write as writer
from tests.compiling import BUNDLED, compiled
from tests.running import ROOT, argv, environment
from tests.upstream import UPSTREAM, requires_upstream

LOCALES = ("en_US", "tr_TR")  # tr_TR: dotless i, the classic case-folding trap


@dataclass(frozen=True)
class Variant:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    umask: int = 0o022
    elsewhere: bool = False  # run from another directory
    relative: bool = False  # -f and -o relative to that directory
    other_fs: bool = False  # input and output on /dev/shm (tmpfs) instead of the test's tmp


VARIANTS = (
    Variant("hashseed-0", {"PYTHONHASHSEED": "0"}),
    Variant("hashseed-1", {"PYTHONHASHSEED": "1"}),
    Variant("hashseed-random", {"PYTHONHASHSEED": "random"}),
    Variant("locale-C", {"LC_ALL": "C", "LANG": "C"}),
    Variant("locale-C.UTF-8", {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}),
    Variant("locale-en_US.UTF-8", {"LC_ALL": "en_US.UTF-8", "LANG": "en_US.UTF-8"}),
    Variant("locale-tr_TR.UTF-8", {"LC_ALL": "tr_TR.UTF-8", "LANG": "tr_TR.UTF-8"}),
    Variant("cwd-absolute", elsewhere=True),
    Variant("cwd-relative", elsewhere=True, relative=True),
    Variant("umask-022", umask=0o022),
    Variant("umask-077", umask=0o077),
    Variant("umask-002", umask=0o002),
    Variant("other-fs", other_fs=True),
)


@pytest.fixture(scope="module")
def locpath(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """en_US and tr_TR compiled into a private LOCPATH where the system has the sources but not
    the compiled locales (as in a slim container); None where it has neither."""
    root = tmp_path_factory.mktemp("locales")
    sources = Path("/usr/share/i18n/locales")
    if not shutil.which("localedef") or not all((sources / name).is_file() for name in LOCALES):
        return None
    for name in LOCALES:
        done = subprocess.run(["localedef", "-i", name, "-f", "UTF-8", str(root / f"{name}.UTF-8")], capture_output=True, check=False)
        if not (root / f"{name}.UTF-8").is_dir():
            return None
        assert done.returncode in (0, 1), done.stderr  # 1: warnings only
    return root


def _installed(locale_name: str, locpath: Path | None) -> dict[str, str] | None:
    """The env that makes the locale real, or None where it cannot be had here."""
    listed = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout.split()
    if locale_name in ("C", "C.UTF-8") or locale_name.replace("UTF-8", "utf8") in listed or locale_name in listed:
        return {}
    if locpath is not None and (locpath / locale_name).is_dir():
        return {"LOCPATH": str(locpath)}
    return None


def _files_and_modes(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every file's bytes and every file's and directory's permission bits."""
    found: dict[str, tuple[bytes | None, int]] = {".": (None, stat.S_IMODE(root.stat().st_mode))}
    for path in sorted(root.rglob("*")):
        mode = stat.S_IMODE(path.lstat().st_mode)
        found[path.relative_to(root).as_posix()] = (path.read_bytes() if path.is_file() else None, mode)
    return found


def _expected_modes(found: dict[str, tuple[bytes | None, int]], umask: int) -> dict[str, int]:
    return {path: (0o666 if content is not None else 0o777) & ~umask for path, (content, _) in found.items()}


def _in_umask(umask: int, command: list[str]) -> list[str]:
    return ["sh", "-c", f'umask {umask:03o} && exec "$@"', "sh", *command]


def _run_variant(variant: Variant, command: list[str], cwd: Path, extra_env: dict[str, str]) -> None:
    env = environment(**variant.env, **extra_env)
    done = subprocess.run(_in_umask(variant.umask, command), cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{variant.name}: {done.stderr}"
    assert "Traceback" not in done.stderr


def _workdir(variant: Variant, tmp_path: Path) -> Path:
    if variant.other_fs:
        if not Path("/dev/shm").is_dir() or not os.access("/dev/shm", os.W_OK):
            pytest.skip("no writable /dev/shm for the other-file-system variant")
        return Path("/dev/shm") / f"stackgen-determinism-{os.getpid()}-{tmp_path.name}"
    return tmp_path / "work"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes | None, int]]:
    """The bundled stack built the plain way, under umask 022."""
    out = tmp_path_factory.mktemp("reference") / "overlays"
    _run_variant(Variant("reference"), argv("build", "-f", str(BUNDLED), "-o", str(out)), ROOT, {})
    found = _files_and_modes(out)
    assert {p: c for p, (c, _) in found.items() if c is not None and p != writer.LOCK_NAME} == dict(compiled(BUNDLED))
    return found


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_build_bytes_and_modes_do_not_depend_on_the_environment(
    variant: Variant, tmp_path: Path, reference: dict[str, tuple[bytes | None, int]], locpath: Path | None,
) -> None:
    extra: dict[str, str] = {}
    if "LC_ALL" in variant.env:
        locale_env = _installed(variant.env["LC_ALL"], locpath)
        if locale_env is None:
            pytest.skip(f"locale {variant.env['LC_ALL']} is neither installed nor compilable here (no localedef or sources)")
        extra = locale_env
    work = _workdir(variant, tmp_path)
    try:
        # Input copied into a fresh folder: another inode, another directory order.
        (work / "input").mkdir(parents=True)
        shutil.copyfile(BUNDLED, work / "input" / "stack.yaml")
        cwd = work if variant.elsewhere or variant.other_fs else ROOT
        stack, out = work / "input" / "stack.yaml", work / "out" / "overlays"
        if variant.relative:
            stack, out = stack.relative_to(work), out.relative_to(work)
        _run_variant(variant, argv("build", "-f", str(stack), "-o", str(out)), cwd, extra)
        found = _files_and_modes(work / "out" / "overlays")
        assert {p: c for p, (c, _) in found.items()} == {p: c for p, (c, _) in reference.items()}, variant.name
        # The output's own folder was made by stackgen too, so it follows the umask as well.
        assert {p: m for p, (_, m) in found.items()} == _expected_modes(found, variant.umask), variant.name
    finally:
        if variant.other_fs:
            shutil.rmtree(work, ignore_errors=True)


RENDER_VARIANTS = (
    Variant("render-hashseed-1-locale-C", {"PYTHONHASHSEED": "1", "LC_ALL": "C", "LANG": "C"}),
    Variant("render-hashseed-random-tr_TR-umask-077-relative", {"PYTHONHASHSEED": "random", "LC_ALL": "tr_TR.UTF-8", "LANG": "tr_TR.UTF-8"},
            umask=0o077, elsewhere=True, relative=True),
)


@requires_upstream
def test_render_goldens_do_not_depend_on_the_environment_or_the_cache(tmp_path: Path, locpath: Path | None) -> None:
    """Cold cache and warm cache, hash seeds, locales, umask, cwd: the same golden bytes."""
    overlays = tmp_path / "overlays"
    writer.write(overlays, compiled(BUNDLED))
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}

    def render(variant: Variant, golden: Path, cwd: Path, extra: dict[str, str]) -> dict[str, tuple[bytes | None, int]]:
        stack, out, gold = BUNDLED, overlays, golden
        if variant.relative:
            stack, out, gold = (Path(os.path.relpath(p, cwd)) for p in (BUNDLED, overlays, golden))
        _run_variant(variant, argv("render", "-f", str(stack), "--overlays", str(out), "--upstream", str(UPSTREAM),
                                   "--cluster", "edge-store17", "--quiet", "-o", str(gold)), cwd, {**cache, **extra})
        return _files_and_modes(golden)

    cold = render(Variant("cold"), tmp_path / "golden-cold", ROOT, {})
    assert {p: m for p, (_, m) in cold.items()} == _expected_modes(cold, 0o022)
    # Cache entries follow the umask like any file (no mkstemp 0600).
    for entry in (tmp_path / "cache").rglob("*.json"):
        assert stat.S_IMODE(entry.stat().st_mode) == 0o644, entry
    for variant in RENDER_VARIANTS:
        locale_env = _installed(variant.env["LC_ALL"], locpath)
        if locale_env is None:
            # The locale cannot be had here; the variant's other knobs still count.
            variant, locale_env = replace(variant, env={**variant.env, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}), {}
        work = tmp_path / variant.name
        work.mkdir()
        warm = render(variant, work / "golden", work, locale_env)
        assert {p: c for p, (c, _) in warm.items()} == {p: c for p, (c, _) in cold.items()}, variant.name
        assert {p: m for p, (_, m) in warm.items()} == _expected_modes(warm, variant.umask), variant.name
